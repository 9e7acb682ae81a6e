"""Arguments that name a project or a channel, checked by argparse (exit 2 before anything runs)."""

from __future__ import annotations

import argparse
import re

from shared.channels import Channel
from shared.identifiers import ID_PATTERN

CHANNELS = tuple(channel.value for channel in Channel)


def identifier(value: str) -> str:
    """A company or project id as the engine accepts it: a wrong one is refused, not looked up."""
    if not re.fullmatch(ID_PATTERN, value):
        raise argparse.ArgumentTypeError(f"{value!r} is not an id (letters, digits, '_', '.', '-'; at most 64)")
    return value


def project_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--company-id", required=True, type=identifier)
    parser.add_argument("--project-id", required=True, type=identifier)
