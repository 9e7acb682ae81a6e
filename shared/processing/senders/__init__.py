"""One small adapter per provider; the pipeline sees only ``Sender``.

A sender turns the provider's answers into the named failures of ``shared.processing.errors``:
``ProviderUnavailable`` when the provider certainly did not take the message (it answered with an
error, or could not be reached), ``SendOutcomeUnknown`` when it may have (no answer in time).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class Outgoing:
    to: str
    sender: str
    text: str  # what the record's message history shows
    sender_name: str | None = None
    subject: str | None = None
    html: str | None = None
    content_sid: str | None = None
    content_variables: dict[str, str] | None = None
    # Where the provider reports the message's delivery status (Twilio's StatusCallback); None: nowhere.
    status_callback: str | None = None
    # Strings the provider echoes on every event of the message (SendGrid's custom_args).
    custom_args: dict[str, str] | None = None
    # Email threading (issue 11): where the person's answer goes, and the RFC 5322 headers
    # (Message-ID, In-Reply-To, References) that keep the thread together in their mail client.
    reply_to: str | None = None
    headers: dict[str, str] | None = None


@dataclass(frozen=True)
class SendReceipt:
    provider_message_id: str
    accepted_at: datetime
    content: str | None = None  # the text the provider lists for the message (lookups only)
    status: str | None = None  # the message's status in the provider's answer (Twilio ``queued``)


class Sender(Protocol):
    provider: str
    # True when the provider can be asked whether a message was sent (Twilio); False (SendGrid)
    # means an unanswered send can only be marked send_unconfirmed.
    can_reconcile: bool

    def send(self, outgoing: Outgoing) -> SendReceipt: ...

    def find_sent(self, outgoing: Outgoing, since: datetime) -> list[SendReceipt]:
        """Every message the provider holds that this send could have created (same recipient, sender
        and content, created since ``since``), newest first."""
        ...
