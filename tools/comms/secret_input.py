"""Where a secret's value comes from: a file or stdin, never the command line (argv is visible to
every user of the machine in ``ps`` and lands in shell history)."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from tools.comms.errors import CommandError


def read_secret_text(path: str | None, stdin: TextIO) -> str:
    """The text of ``path``, or of stdin when no path is given, without surrounding whitespace (the
    newline an editor or ``echo`` adds). Refused when empty, and when stdin is a terminal: the
    value would be echoed on the screen as it is typed."""
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as error:
            raise CommandError(f"cannot read {path}: {error.strerror or error}") from None
        except UnicodeDecodeError:
            raise CommandError(f"{path} is not UTF-8 text") from None
        where = path
    else:
        if stdin.isatty():
            raise CommandError("no value: give --file PATH or pipe it on stdin (values are never taken from argv)")
        text = stdin.read()
        where = "stdin"
    text = text.strip()
    if not text:
        raise CommandError(f"{where} holds no value")
    return text
