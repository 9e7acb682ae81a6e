"""Twilio's message status callbacks: the signed form POST Twilio sends to a message's ``StatusCallback``.

The form carries what Twilio's status callback carries (``MessageSid``, ``SmsSid``, ``AccountSid``,
``From``, ``To``, ``MessageStatus``, ``SmsStatus``, ``ApiVersion``, ``ErrorCode`` (blank when
none), and for WhatsApp ``ChannelPrefix``/``ChannelInstallSid``/``ChannelToAddress``), signed
``X-Twilio-Signature`` = ``RequestValidator(auth_token).compute_signature(url, params)`` with the
auth token of the account that created the message.
"""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

from local.sandboxes.callbacks import Callback
from local.sandboxes.outcomes import InvalidOutcome

# The SDK's MessageStatus values a callback can report (``queued`` is the create answer's own).
STATUSES = frozenset(
    {
        "accepted",
        "scheduled",
        "sending",
        "sent",
        "failed",
        "delivered",
        "undelivered",
        "read",
        "partially_delivered",
        "canceled",
    }
)
_STEP_FIELDS = {"status", "error_code"}


def default_steps(channel: str) -> list[dict[str, Any]]:
    """``sent`` then ``delivered``, then ``read`` for WhatsApp (SMS has no read receipts)."""
    steps: list[dict[str, Any]] = [{"status": "sent"}, {"status": "delivered"}]
    return [*steps, {"status": "read"}] if channel == "whatsapp" else steps


def check_step(step: dict[str, Any]) -> None:
    if set(step) - _STEP_FIELDS or step.get("status") not in STATUSES:
        statuses = ", ".join(sorted(STATUSES))
        raise InvalidOutcome(f"a Twilio callback step is {{'status': one of {statuses}, 'error_code': int}}: {step!r}")
    if step.get("error_code") is not None and not isinstance(step["error_code"], int):
        raise InvalidOutcome(f"a Twilio callback's error_code is an integer, got {step['error_code']!r}")


def status_callback(
    message: dict[str, Any],
    step: dict[str, Any],
    *,
    url: str,
    auth_token: str,
) -> Callback:
    """The callback reporting ``step`` for a message resource (as the create answered it)."""
    status, error_code = step["status"], step.get("error_code")
    params = {
        "SmsSid": message["sid"],
        "SmsStatus": status,
        "MessageStatus": status,
        "To": message["to"],
        "MessageSid": message["sid"],
        "AccountSid": message["account_sid"],
        "From": message["from"] or "",
        "ApiVersion": message["api_version"],
        "ErrorCode": "" if error_code is None else str(error_code),
    }
    if message.get("messaging_service_sid"):
        params["MessagingServiceSid"] = message["messaging_service_sid"]
    if message["to"].startswith("whatsapp:"):
        params |= {
            "ChannelPrefix": "whatsapp",
            "ChannelInstallSid": "XE" + hashlib.sha256(message["account_sid"].encode()).hexdigest()[:32],
            "ChannelToAddress": message["to"].removeprefix("whatsapp:"),
        }
    return Callback(
        message_id=message["sid"],
        url=url,
        body=urlencode(params).encode(),
        headers={
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
            "X-Twilio-Signature": RequestValidator(auth_token).compute_signature(url, params),
            # Twilio's own header; the same on a duplicate or a replay of one callback.
            "I-Twilio-Idempotency-Token": hashlib.sha256(f"{message['sid']}:{status}".encode()).hexdigest()[:32],
            "User-Agent": "TwilioProxy/1.1",
        },
        label=status,
        content=params,
    )
