"""Formats of the identifiers that travel through the engine, and the conversation id rule."""

from __future__ import annotations

import re

from shared.channels import Channel

# Ids become parts of ``conversation_id`` (joined by ``#``), secret paths and log keys, so they are
# kept to a conservative alphabet.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
UUID4_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-4[0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$"
E164_PATTERN = r"^\+[1-9][0-9]{6,14}$"

_E164 = re.compile(E164_PATTERN)


def is_e164(value: str) -> bool:
    return bool(_E164.match(value))


def conversation_id(*, company_id: str, project_id: str, request_id: str, channel: Channel, sender: str) -> str:
    """``{company_id}#{project_id}#{request_id}#{sender}`` (DESIGN §4).

    The sender is the company's number without its leading ``+`` on phone channels, or the
    company's email address on the email channel.
    """
    sender_part = sender.removeprefix("+") if channel.uses_phone_number else sender.lower()
    return f"{company_id}#{project_id}#{request_id}#{sender_part}"
