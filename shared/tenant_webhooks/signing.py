"""Standard Webhooks signing of one delivery attempt (``standardwebhooks`` 1.1.0).

The tenant verifies ``v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` with the project's
``whsec_`` secret; ``webhook-id`` is the event's id (the same on every attempt, so the tenant
dedupes on it) and ``webhook-timestamp`` is this attempt's time (receivers refuse stale ones).
"""

from __future__ import annotations

from datetime import UTC, datetime
from math import floor

from standardwebhooks import Webhook

USER_AGENT = "AiMultiComms-Webhooks/1.0"
CONTENT_TYPE = "application/json"


def signed_headers(secret: str, webhook_id: str, body: str, at: datetime) -> dict[str, str]:
    """Every header of one POST: content type, user agent and the three signature headers."""
    at = at.astimezone(UTC)
    return {
        "Content-Type": CONTENT_TYPE,
        "User-Agent": USER_AGENT,
        "webhook-id": webhook_id,
        "webhook-timestamp": str(floor(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, at, body),
    }
