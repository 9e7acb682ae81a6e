"""Command-line values several groups share: ids and channels checked by argparse (exit 2 before anything
runs), addresses checked as the router checks them (``CommandError``, exit 2)."""

from __future__ import annotations

import argparse
import re

from pydantic import TypeAdapter, ValidationError

from shared.channels import Channel
from shared.consent.address_hash import normalise_address
from shared.identifiers import ID_PATTERN
from shared.models.request import PhoneNumber, RecipientEmail
from tools.comms.errors import CommandError

CHANNELS = tuple(channel.value for channel in Channel)
_PHONE = TypeAdapter(PhoneNumber)
_EMAIL = TypeAdapter(RecipientEmail)


def identifier(value: str) -> str:
    """A company or project id (an argparse ``type``): a wrong one is refused, not looked up."""
    if not re.fullmatch(ID_PATTERN, value):
        raise argparse.ArgumentTypeError(f"{value!r} is not an id (letters, digits, '_', '.', '-'; at most 64)")
    return value


def project_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--company-id", required=True, type=identifier)
    parser.add_argument("--project-id", required=True, type=identifier)


def parse_address(channel: Channel, address: str) -> str:
    """The address as the router checks it: E.164 for WhatsApp and SMS (``whatsapp:`` allowed),
    a valid email for email. The error never repeats the address."""
    try:
        if channel is Channel.EMAIL:
            return _EMAIL.validate_python(address.strip())
        return _PHONE.validate_python(normalise_address(address))
    except ValidationError:
        expected = "an email address" if channel is Channel.EMAIL else "an E.164 number (+, country code, 7-15 digits)"
        raise CommandError(f"--address is not {expected} (channel {channel.value})") from None
