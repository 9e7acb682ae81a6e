"""SendGrid's signed Event Webhook: a JSON array of events, signed with ECDSA (P-256, SHA-256) over
the timestamp header followed by the raw body, verified with the public key SendGrid shows the
account (kept in the project's email credentials secret as ``sendgrid_webhook_public_key``).

The SDK's helper does not look at the timestamp's age, so the replay window is checked here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from functools import lru_cache
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec
from sendgrid.helpers.eventwebhook import EventWebhook, EventWebhookHeader

from shared.events.envelope import Provider
from shared.processing.credentials import SendGridCredentials
from shared.webhooks import responses
from shared.webhooks.refusals import BodyInvalid, SignatureRefused
from shared.webhooks.request import WebhookRequest
from shared.webhooks.settings import WebhookSettings
from shared.webhooks.verification_keys import KeyUnusable


class SendGridWebhook:
    provider = Provider.SENDGRID
    credentials = SendGridCredentials
    media_type = "application/json"

    def __init__(self, max_age_seconds: int):
        self._max_age = max_age_seconds

    def max_body_bytes(self, settings: WebhookSettings) -> int:
        return settings.sendgrid_max_body_bytes

    def payloads(self, request: WebhookRequest, body: bytes) -> list[dict[str, Any]]:
        """One payload per event of the batch; ``BodyInvalid`` unless a non-empty array of objects."""
        try:
            # Non-integers as Decimal, as the queue codec writes them; NaN and Infinity refused.
            events = json.loads(body.decode("utf-8"), parse_float=Decimal, parse_constant=_refuse_constant)
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise BodyInvalid("the body is not UTF-8 JSON") from None
        if not isinstance(events, list) or not events:
            raise BodyInvalid("the body is not a non-empty JSON array")
        if not all(isinstance(event, dict) for event in events):
            raise BodyInvalid("an event of the batch is not a JSON object")
        return events

    def signature_check(
        self, request: WebhookRequest, url: str, body: bytes, payloads: list[dict[str, Any]], now: float
    ) -> Callable[[SendGridCredentials], bool]:
        """Whether a project's SendGrid credentials verify the request; refused at once (before any
        secret is read) without signature headers or outside the replay window."""
        signature = request.header(EventWebhookHeader.SIGNATURE)
        timestamp = request.header(EventWebhookHeader.TIMESTAMP)
        if not signature or not timestamp:
            raise SignatureRefused("no signature or timestamp header")
        if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 12:
            raise SignatureRefused("the signature timestamp is not Unix seconds")
        age = now - int(timestamp)
        if abs(age) > self._max_age:
            raise SignatureRefused(f"the signature timestamp is {int(age)} s old, outside ±{self._max_age} s")
        # Verified over the body exactly as sent: re-serialised JSON would not verify.
        text = body.decode("utf-8")

        def verifies(credentials: SendGridCredentials) -> bool:
            key = verification_key(credentials.sendgrid_webhook_public_key)
            try:
                return EventWebhook().verify_signature(text, signature, timestamp, key)
            except (ValueError, TypeError):
                # A malformed signature (bad base64) raises instead of returning False.
                return False

        return verifies

    def accepted(self) -> dict[str, Any]:
        return responses.bare(200)


@lru_cache(maxsize=64)
def verification_key(encoded: str | None) -> ec.EllipticCurvePublicKey:
    """The Event Webhook's public key as the SDK reads it; ``KeyUnusable`` (naming the field) when
    there is none or it is not a base64 DER elliptic-curve key. ``comms secrets`` applies it too."""
    if not encoded:
        raise KeyUnusable("the email credentials hold no sendgrid_webhook_public_key")
    try:
        key = EventWebhook().convert_public_key_to_ecdsa(encoded.strip())
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise KeyUnusable("sendgrid_webhook_public_key is not a base64 DER public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise KeyUnusable("sendgrid_webhook_public_key is not an elliptic-curve key")
    return key


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
