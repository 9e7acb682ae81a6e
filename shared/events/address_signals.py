"""Which address a provider event says must not be contacted again (issue 12), read from the event.

A Twilio status callback whose ``ErrorCode`` means the person opted out or the number is invalid
names its ``To``; a SendGrid bounce, drop, unsubscribe or spam report names its ``email``. Which
codes and events count is decided in ``shared.consent.provider_signals`` only. The event is signed
by the URL's tenant's account, so the address is suppressed for that company whether or not the
event matches a message the engine knows.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.channels import Channel
from shared.consent.provider_signals import sendgrid_event_reason, twilio_error_reason
from shared.consent.suppressions import SuppressionReason
from shared.events.envelope import EventKind, ProviderEvent
from shared.events.status_updates import StatusUpdate
from shared.identifiers import is_e164

_WHATSAPP = "whatsapp:"


@dataclass(frozen=True)
class AddressSignal:
    channel: Channel
    address: str | None  # None: the event names no usable address (logged, nothing written)
    reason: SuppressionReason
    source: str  # twilio_error:<code> | sendgrid_event:<sg_event_id>: no personal data


def address_signal(event: ProviderEvent, update: StatusUpdate) -> AddressSignal | None:
    """The suppression ``event`` asks for, or None when it says nothing about the address."""
    if event.kind is EventKind.TWILIO_STATUS:
        reason = twilio_error_reason(update.error_code)
        if reason is None:
            return None
        to = _text(event.payload.get("To"))
        number = to.removeprefix(_WHATSAPP)
        return AddressSignal(
            channel=Channel.WHATSAPP if to.startswith(_WHATSAPP) else Channel.SMS,
            address=number if is_e164(number) else None,
            reason=reason,
            source=f"twilio_error:{update.error_code}",
        )
    if event.kind is EventKind.SENDGRID_EVENT:
        reason = sendgrid_event_reason(event.payload)
        if reason is None:
            return None
        email = _text(event.payload.get("email")).lower()
        return AddressSignal(
            channel=Channel.EMAIL,
            address=email if "@" in email else None,
            reason=reason,
            source=f"sendgrid_event:{update.event_id}",
        )
    return None


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""
