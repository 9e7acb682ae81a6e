"""The per-conversation reply-to address of email (issue 11) and the Message-IDs that carry its token.

Every email the engine sends says ``Reply-To: reply+<token>@<reply_domain>`` and carries
``Message-ID: <reply-<token>.<n>@<reply_domain>>``. The token is random (it says nothing about
the conversation), stored on the record as ``gsi_reply_token`` (the sparse key of the
``reply-token-index``), and found again in the reply's recipients, or in its ``In-Reply-To`` /
``References`` when a client dropped the Reply-To.
"""

from __future__ import annotations

import base64
import re
import secrets

TOKEN_LENGTH = 26  # 130 random bits in lower-case base32: an address local part is case-insensitive
_TOKEN = rf"[a-z2-7]{{{TOKEN_LENGTH}}}"
_IN_ADDRESS = re.compile(rf"(?<![A-Za-z0-9._%+-])reply\+({_TOKEN})@", re.IGNORECASE)
_IN_MESSAGE_ID = re.compile(rf"<reply-({_TOKEN})\.\d+@[^>\s]+>", re.IGNORECASE)


def new_reply_token() -> str:
    return base64.b32encode(secrets.token_bytes(20)).decode("ascii").lower()[:TOKEN_LENGTH]


def reply_address(token: str, domain: str) -> str:
    return f"reply+{token}@{domain}"


def message_id(token: str, sequence: int, domain: str) -> str:
    """The Message-ID of the conversation's ``sequence``-th email (0: the first message)."""
    return f"<reply-{token}.{sequence}@{domain}>"


def token_in_addresses(*values: str | None) -> str | None:
    """The first reply token in recipient headers or envelope addresses (any of ``values``)."""
    for value in values:
        if value and (found := _IN_ADDRESS.search(value)):
            return found.group(1).lower()
    return None


def token_in_message_ids(*values: str | None) -> str | None:
    """The first reply token in ``In-Reply-To`` / ``References`` values (newest reference last)."""
    for value in values:
        if value:
            found = _IN_MESSAGE_ID.findall(value)
            if found:
                return found[-1].lower()
    return None
