"""Checks of command-line values that several groups share, refused as ``CommandError`` (exit 2)."""

from __future__ import annotations

import re

from pydantic import TypeAdapter, ValidationError

from shared.channels import Channel
from shared.consent.address_hash import normalise_address
from shared.identifiers import ID_PATTERN
from shared.models.request import PhoneNumber, RecipientEmail
from tools.comms.errors import CommandError

_ID = re.compile(ID_PATTERN)
_PHONE = TypeAdapter(PhoneNumber)
_EMAIL = TypeAdapter(RecipientEmail)


def identifier(value: str, option: str) -> str:
    """A company or project id as the engine stores it; ``option`` names the flag in the error."""
    if not _ID.match(value):
        raise CommandError(f"{option} is not an id ([A-Za-z0-9][A-Za-z0-9_.-]{{0,63}})")
    return value


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
