"""Every ``comms`` command the README and the runbook show in full (with its ``--env``) is one the
CLI accepts as written: an option renamed or a flag dropped fails here, not in an operator's shell."""

from __future__ import annotations

import contextlib
import io
import re
import shlex

import pytest

from tests.conftest import ROOT
from tools.comms.cli import build_parser

DOCUMENTS = ("README.md", "docs/runbook.md", "docs/secrets.md")
# A command in a code block (to the end of the line, a trailing comment dropped) or in backticks.
_IN_BLOCK = re.compile(r"^(?:\.venv/bin/)?(comms [^\n#]*?)\s*(?:#.*)?$", re.M)
_IN_TICKS = re.compile(r"`(?:\.venv/bin/)?(comms [^`]*)`")
# Placeholders become values of the right kind; a queue must be one of the choices.
_PLACEHOLDERS = (("<queue>", "sms"), ("<env>", "dev"))


def documented_commands() -> list[tuple[str, str]]:
    found = []
    for name in DOCUMENTS:
        text = (ROOT / name).read_text()
        blocks = "\n".join(re.findall(r"```bash\n(.*?)```", text, re.S)).replace("\\\n", " ")
        for command in [*_IN_BLOCK.findall(blocks), *_IN_TICKS.findall(text)]:
            # Full invocations only (they name the environment); prose fragments with "…" or
            # "[optional]" are descriptions, not commands.
            if "--env" in command and "…" not in command and "[" not in command and " < " not in command:
                found.append((name, " ".join(command.split())))
    return sorted(set(found))


COMMANDS = documented_commands()


def test_the_documents_show_commands_to_check():
    assert len(COMMANDS) > 30
    assert {name for name, _ in COMMANDS} >= {"README.md", "docs/runbook.md"}


@pytest.mark.parametrize(("document", "command"), COMMANDS, ids=[command for _, command in COMMANDS])
def test_a_documented_command_parses(document, command):
    for placeholder, value in _PLACEHOLDERS:
        command = command.replace(placeholder, value)
    arguments = shlex.split(re.sub(r"<[^>]*>", "x1", command))[1:]
    refused = io.StringIO()

    with contextlib.redirect_stderr(refused):
        try:
            build_parser().parse_args(arguments)
        except SystemExit as exit_:
            pytest.fail(f"{document}: `{command}` is refused: {refused.getvalue().strip()} (exit {exit_.code})")
