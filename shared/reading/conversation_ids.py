"""The conversation id as the read API receives it in its path: decoded once, then split.

API Gateway REST APIs hand a Lambda proxy integration the path parameter as the client sent it,
still percent-encoded (docs/decisions.md, "the read API"), so the id's ``#`` arrives as ``%23``
and an email sender's ``@`` as ``%40``. It is decoded exactly once: ``%2523`` stays ``%23`` and is
refused, since no part of an id may hold ``%``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

from shared.api_errors import InvalidConversationId
from shared.identifiers import ID_PATTERN, UUID4_PATTERN

_ID = re.compile(ID_PATTERN)
_UUID4 = re.compile(UUID4_PATTERN)
# The sender part (shared.identifiers.conversation_id): the company's E.164 number without its
# ``+`` on phone channels, the company's address in lower case on email.
_PHONE_SENDER = re.compile(r"^[1-9][0-9]{6,14}$")
_EMAIL_SENDER = re.compile(r"^[^@\s#%/]{1,64}@[^@\s#%/]{1,253}\.[^@\s#%/.]{2,63}$")
_MAX_LENGTH = 512
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_SHAPE = "{company_id}#{project_id}#{request_id}#{sender}, URL-encoded ('#' as %23, '@' as %40)"


@dataclass(frozen=True)
class ConversationRef:
    company_id: str
    project_id: str
    request_id: str
    sender: str

    @property
    def conversation_id(self) -> str:
        return f"{self.company_id}#{self.project_id}#{self.request_id}#{self.sender}"


def parse_conversation_id(encoded: str | None) -> ConversationRef:
    """The id of ``/conversations/{conversation_id}``; ``InvalidConversationId`` (400) otherwise.

    The request id and an email sender are compared in lower case, as the router wrote them.
    """
    if not encoded or len(encoded) > _MAX_LENGTH:
        raise InvalidConversationId(f"The conversation id must be {_SHAPE}")
    decoded = _decode_once(encoded)
    parts = decoded.split("#") if decoded is not None else []
    if len(parts) != 4:
        raise InvalidConversationId(f"The conversation id must be {_SHAPE}")
    company_id, project_id, request_id, sender = parts
    if not _ID.match(company_id) or not _ID.match(project_id):
        raise InvalidConversationId("The conversation id's company_id and project_id must be valid ids")
    if not _UUID4.match(request_id):
        raise InvalidConversationId("The conversation id's request_id must be a UUID v4")
    if not (_PHONE_SENDER.match(sender) or _EMAIL_SENDER.match(sender)):
        raise InvalidConversationId(
            "The conversation id's sender must be the company's number without '+' or its email address"
        )
    return ConversationRef(company_id, project_id, request_id.lower(), sender.lower())


def _decode_once(encoded: str) -> str | None:
    """None when a percent escape is malformed or does not decode to UTF-8 (``unquote`` would keep
    or replace it silently)."""
    if _BAD_ESCAPE.search(encoded):
        return None
    try:
        return unquote(encoded, errors="strict")
    except UnicodeDecodeError:
        return None
