"""What the providers tell us that means "do not contact this address on this channel again"
(issue 12), in one place: the channel processors read Twilio's answer to a send, the events
processor reads Twilio's status callbacks and SendGrid's events.

Only signals about the *person's address* suppress it. An account, a sender, a template or a
carrier's filter (Twilio 30007, 63016, 63021…) says nothing about the person and never does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.consent.suppressions import SuppressionReason

_R = SuppressionReason

# Twilio error codes (https://www.twilio.com/docs/api/errors) about the recipient's address.
TWILIO_ERRORS: dict[str, SuppressionReason] = {
    "21610": _R.PROVIDER_OPT_OUT,  # the recipient replied STOP to this sender (Twilio blocks it)
    "63014": _R.PROVIDER_OPT_OUT,  # the recipient blocked the business on WhatsApp
    "21211": _R.HARD_BOUNCE,  # invalid 'To' number
    "21614": _R.HARD_BOUNCE,  # 'To' is not a mobile number (cannot take SMS)
    "30006": _R.HARD_BOUNCE,  # landline or unreachable carrier
    "63003": _R.HARD_BOUNCE,  # WhatsApp has no such address
    "63024": _R.HARD_BOUNCE,  # invalid WhatsApp recipient
}

# SendGrid Event Webhook ``event`` values about the recipient. ``bounce`` only with ``type:
# bounce`` (``blocked`` is temporary); ``dropped`` only for the reasons below.
SENDGRID_EVENTS: dict[str, SuppressionReason] = {
    "unsubscribe": _R.UNSUBSCRIBE_LINK,
    "group_unsubscribe": _R.UNSUBSCRIBE_LINK,
    "spamreport": _R.SPAM_REPORT,
}
# ``dropped`` reasons (SendGrid's own suppression lists, lower-cased) that are permanent.
SENDGRID_PERMANENT_DROPS: dict[str, SuppressionReason] = {
    "bounced address": _R.HARD_BOUNCE,
    "invalid": _R.HARD_BOUNCE,
    "invalid address": _R.HARD_BOUNCE,
    "unsubscribed address": _R.UNSUBSCRIBE_LINK,
    "spam reporting address": _R.SPAM_REPORT,
}


def twilio_error_reason(code: str | int | None) -> SuppressionReason | None:
    """The suppression a Twilio error code means for the recipient, or None."""
    return None if code in (None, "") else TWILIO_ERRORS.get(str(code))


def sendgrid_event_reason(event: Mapping[str, Any]) -> SuppressionReason | None:
    """The suppression one SendGrid event means for its ``email``, or None."""
    kind = str(event.get("event") or "")
    if kind in SENDGRID_EVENTS:
        return SENDGRID_EVENTS[kind]
    if kind == "bounce":
        # SendGrid: type "bounce" is permanent, "blocked" is a temporary refusal.
        return _R.HARD_BOUNCE if str(event.get("type") or "bounce").lower() == "bounce" else None
    if kind == "dropped":
        return SENDGRID_PERMANENT_DROPS.get(str(event.get("reason") or "").strip().lower())
    return None
