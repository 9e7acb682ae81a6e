"""A provider event as one normalised update: which message, what happened, how to dedupe it.

Twilio posts one status callback per change (``MessageSid``, ``MessageStatus``, ``ErrorCode``);
SendGrid posts one event object per happening (``sg_message_id``, ``event``, ``sg_event_id``),
with the send's ``custom_args`` as top-level properties. Everything provider-specific about the
payload's shape stays in this module.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from shared.events import twilio_errors
from shared.events.delivery_status import ENGAGEMENT, rank_of
from shared.events.envelope import EventKind, Provider, ProviderEvent

# The custom_args every SendGrid send carries (shared.processing.senders.sendgrid_mail).
CONVERSATION_ARG = "conversation_id"


class MalformedEvent(ValueError):
    """The payload is not an event of its kind (a bug of the ingress, or a forged queue message)."""


class UpdateKind(StrEnum):
    DELIVERY = "delivery"  # a ranked delivery status
    ENGAGEMENT = "engagement"  # open / click: counted, first time kept, no rank
    OTHER = "other"  # anything else the provider reports (unsubscribe, spamreport, ...): kept as seen


@dataclass(frozen=True)
class StatusUpdate:
    provider: Provider
    provider_message_id: str | None  # None: the event names no message (kept as unmatched)
    status: str  # the provider's own word (``delivered``, ``bounce``, ``open``, ``unsubscribe``, ...)
    kind: UpdateKind
    event_id: str  # the dedupe key of the message's ``seen_event_ids``
    occurred_at: str | None = None  # when the provider says it happened (SendGrid), ISO 8601
    error_code: str | None = None
    error_reason: str | None = None
    conversation_id: str | None = None  # what the send's custom_args said (SendGrid), cross-checked

    @property
    def rank(self) -> int | None:
        return rank_of(self.status) if self.kind is UpdateKind.DELIVERY else None

    @property
    def message_key(self) -> str:
        return f"{self.provider.value}#{self.provider_message_id}"


def parse_update(event: ProviderEvent) -> StatusUpdate:
    """The event as an update, or ``MalformedEvent`` when its payload lacks what its kind always has."""
    if event.kind is EventKind.TWILIO_STATUS:
        return _twilio(event.payload)
    if event.kind is EventKind.SENDGRID_EVENT:
        return _sendgrid(event.payload)
    raise MalformedEvent(f"No delivery update comes from a {event.kind} event")


def _kind(status: str) -> UpdateKind:
    if status in ENGAGEMENT:
        return UpdateKind.ENGAGEMENT
    return UpdateKind.DELIVERY if rank_of(status) is not None else UpdateKind.OTHER


def _text(payload: dict[str, Any], name: str) -> str | None:
    value = payload.get(name)
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    return text or None


def _twilio(payload: dict[str, Any]) -> StatusUpdate:
    sid, status = _text(payload, "MessageSid"), _text(payload, "MessageStatus")
    if not sid or not status:
        raise MalformedEvent("A Twilio status callback needs MessageSid and MessageStatus")
    status = status.lower()
    code = _text(payload, "ErrorCode")
    return StatusUpdate(
        provider=Provider.TWILIO,
        provider_message_id=sid,
        status=status,
        kind=_kind(status),
        # Twilio gives a callback no id of its own; one status (with its error) is one event.
        event_id=f"{status}#{code or ''}",
        error_code=code,
        error_reason=twilio_errors.describe(code, _text(payload, "ErrorMessage")),
    )


def _sendgrid(payload: dict[str, Any]) -> StatusUpdate:
    status = _text(payload, "event")
    if not status:
        raise MalformedEvent("A SendGrid event needs an event name")
    status = status.lower()
    message_id = _text(payload, "sg_message_id")
    failure = status in ("bounce", "dropped")
    return StatusUpdate(
        provider=Provider.SENDGRID,
        # sg_message_id is the send's X-Message-Id plus ".filter…"; the send recorded the former.
        provider_message_id=message_id.split(".", 1)[0] if message_id else None,
        status=status,
        kind=_kind(status),
        event_id=_text(payload, "sg_event_id") or _digest(payload),
        occurred_at=_timestamp(payload.get("timestamp")),
        # A bounce's SMTP status (5.1.1) and type (bounce/blocked); a drop has only its reason.
        error_code=(_text(payload, "status") or _text(payload, "type")) if failure else None,
        error_reason=_text(payload, "reason") if failure else None,
        conversation_id=_text(payload, CONVERSATION_ARG),
    )


def _timestamp(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        moment = datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _digest(payload: dict[str, Any]) -> str:
    """An id for an event SendGrid sent without ``sg_event_id``: the same event, the same id."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()[:32]
