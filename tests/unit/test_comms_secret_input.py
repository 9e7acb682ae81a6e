"""Where ``comms secrets put`` takes a value from: a file or piped stdin, never a terminal."""

from __future__ import annotations

import io

import pytest

from tools.comms.errors import CommandError
from tools.comms.secret_input import read_secret_text


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_on_stdin_is_refused_before_anything_is_typed():
    with pytest.raises(CommandError, match="give --file PATH or pipe it on stdin"):
        read_secret_text(None, Terminal("sk-typed"))


def test_a_file_wins_over_stdin_and_loses_its_surrounding_whitespace(tmp_path):
    path = tmp_path / "key.txt"
    path.write_text("  sk-from-file\n")

    assert read_secret_text(str(path), io.StringIO("sk-from-stdin")) == "sk-from-file"


def test_a_file_that_is_not_text_is_refused(tmp_path):
    path = tmp_path / "key.bin"
    path.write_bytes(b"\xff\xfe\x00")

    with pytest.raises(CommandError, match="is not UTF-8 text"):
        read_secret_text(str(path), io.StringIO())
