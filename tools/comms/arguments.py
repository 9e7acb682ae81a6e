"""Checks of command-line values that several groups share, refused as ``CommandError`` (exit 2)."""

from __future__ import annotations

import re

from shared.identifiers import ID_PATTERN
from tools.comms.errors import CommandError

_ID = re.compile(ID_PATTERN)


def identifier(value: str, option: str) -> str:
    """A company or project id as the engine stores it; ``option`` names the flag in the error."""
    if not _ID.match(value):
        raise CommandError(f"{option} is not an id ([A-Za-z0-9][A-Za-z0-9_.-]{{0,63}})")
    return value
