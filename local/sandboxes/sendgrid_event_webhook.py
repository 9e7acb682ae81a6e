"""SendGrid's signed Event Webhook: the key pair, the events of a send, and the signed batches.

A batch is a JSON array POSTed with ``X-Twilio-Email-Event-Webhook-Signature`` = base64 of an
ECDSA P-256 / SHA-256 signature (DER) over ``timestamp + body``, and
``X-Twilio-Email-Event-Webhook-Timestamp`` = the unix seconds it was signed at, the moment it is
posted. ``public_key`` is what SendGrid's console shows: base64 DER (SubjectPublicKeyInfo), the form
``EventWebhook().convert_public_key_to_ecdsa`` reads. The sendgrid SDK verifies with
``cryptography`` (6.12), so the sandbox signs with it too.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from local.sandboxes.callbacks import Callback
from local.sandboxes.outcomes import InvalidOutcome

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
DEFAULT_STEPS: tuple[dict[str, Any], ...] = ({"event": "processed"}, {"event": "delivered"})
_IP = "149.72.0.1"
_AGENT = "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"
# What SendGrid puts on each kind of event besides the common fields; a step's own fields win.
EVENT_FIELDS: dict[str, dict[str, Any]] = {
    "processed": {},
    "deferred": {"response": "400 try again later", "attempt": "1"},
    "delivered": {"response": "250 OK", "ip": _IP, "tls": 1},
    "bounce": {
        "reason": "550 5.1.1 The email account that you tried to reach does not exist.",
        "status": "5.1.1",
        "type": "bounce",
        "bounce_classification": "Invalid Address",
        "ip": _IP,
    },
    "dropped": {"reason": "Bounced Address"},
    "open": {"useragent": _AGENT, "ip": "203.0.113.7", "sg_machine_open": False},
    "click": {"url": "https://example.com/", "url_offset": {"index": 0, "type": "html"}, "useragent": _AGENT},
    "spamreport": {},
    "unsubscribe": {},
}
_ENGAGEMENT = {"open", "click", "spamreport", "unsubscribe"}  # events without an smtp-id


class EventWebhookKey:
    """The sandbox account's signing key pair."""

    def __init__(self, private_key: ec.EllipticCurvePrivateKey) -> None:
        self._private_key = private_key

    @classmethod
    def generate(cls) -> EventWebhookKey:
        return cls(ec.generate_private_key(ec.SECP256R1()))

    @classmethod
    def from_pem(cls, pem: str) -> EventWebhookKey:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("the saved Event Webhook key is not an EC private key")
        return cls(key)

    def to_pem(self) -> str:
        return self._private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()

    @property
    def public_key(self) -> str:
        der = self._private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return base64.b64encode(der).decode()

    def sign(self, body: bytes, timestamp: int) -> dict[str, str]:
        """The two headers of a batch signed at ``timestamp``."""
        signature = self._private_key.sign(str(timestamp).encode() + body, ec.ECDSA(hashes.SHA256()))
        return {SIGNATURE_HEADER: base64.b64encode(signature).decode(), TIMESTAMP_HEADER: str(timestamp)}


def check_step(step: dict[str, Any]) -> None:
    if step.get("event") not in EVENT_FIELDS:
        events = ", ".join(EVENT_FIELDS)
        raise InvalidOutcome(f"a SendGrid callback step is {{'event': one of {events}, ...}}: {step!r}")


def _recipients(mail: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(email, custom_args) of each recipient of a valid Mail Send body; a personalization's args win."""
    shared = mail.get("custom_args") or {}
    return [
        (to["email"], {**shared, **(item.get("custom_args") or {})})
        for item in mail["personalizations"]
        for to in item["to"]
    ]


def _sg_message_id(message_id: str, index: int) -> str:
    """SendGrid's id of one recipient's copy: the send's ``X-Message-Id``, a dot, then its filter's part."""
    return f"{message_id}.filterdrecv-sandbox-{index}-{int(time.time()):X}-0"


def _event(
    step: dict[str, Any], *, email: str, custom_args: dict[str, Any], message_id: str, sg_id: str, categories: Any
) -> dict[str, Any]:
    """One event of one recipient; custom args are top-level properties, never over SendGrid's own."""
    name = step["event"]
    own: dict[str, Any] = {
        "email": email,
        "timestamp": int(time.time()),
        "event": name,
        "sg_event_id": base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("="),
        "sg_message_id": sg_id,
        **EVENT_FIELDS[name],
        **{k: v for k, v in step.items() if k != "event"},
    }
    if name not in _ENGAGEMENT:
        own["smtp-id"] = f"<{message_id}@ismtpd-sandbox>"
    if categories:
        own["category"] = categories
    return {**custom_args, **own}


def _batch_body(events: list[dict[str, Any]]) -> bytes:
    """A batch as it goes on the wire and is signed: JSON, ended by CRLF as SendGrid's are."""
    return json.dumps(events, separators=(",", ":")).encode() + b"\r\n"


def batch_callback(
    message_id: str,
    url: str,
    events: list[dict[str, Any]],
    sign: Callable[[bytes, int], dict[str, str]],
    *,
    signed_at: int | None = None,
) -> Callback:
    """A batch to post, signed as of ``signed_at`` (unix seconds), or when it is posted if None."""
    body = _batch_body(events)
    headers = {"Content-Type": "application/json", "User-Agent": "SendGrid Event API"}

    def signed_now(callback: Callback) -> Callback:
        return replace(callback, headers={**callback.headers, **sign(body, int(time.time()))})

    return Callback(
        message_id=message_id,
        url=url,
        body=body,
        headers=headers if signed_at is None else {**headers, **sign(body, signed_at)},
        label=",".join(dict.fromkeys(str(e.get("event", "?")) for e in events)),
        content=events,
        prepare=signed_now if signed_at is None else None,
    )


def bounce_steps(fields: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    """What SendGrid reports for a mail to a mailbox that does not exist: accepted, then bounced."""
    return ({"event": "processed"}, {"event": "bounce", **fields})


def send_batches(
    mail: dict[str, Any],
    message_id: str,
    url: str,
    steps: tuple[dict[str, Any], ...],
    sign: Callable[[bytes, int], dict[str, str]],
    *,
    bounces: dict[str, dict[str, Any]] | None = None,
) -> list[Callback]:
    """The batches of an accepted send: batch ``n`` holds the ``n``-th event of each recipient.
    A recipient in ``bounces`` (lower-cased address -> the bounce's own fields) gets
    ``bounce_steps`` instead of ``steps``."""
    bounces = bounces or {}
    people = []
    for i, (email, args) in enumerate(_recipients(mail)):
        own = bounce_steps(bounces[email.lower()]) if email.lower() in bounces else steps
        people.append((email, args, _sg_message_id(message_id, i), own))
    categories = mail.get("categories")
    depth = max((len(own) for *_, own in people), default=0)
    return [
        batch_callback(
            message_id,
            url,
            [
                _event(own[n], email=email, custom_args=args, message_id=message_id, sg_id=sg_id, categories=categories)
                for email, args, sg_id, own in people
                if n < len(own)
            ],
            sign,
        )
        for n in range(depth)
    ]
