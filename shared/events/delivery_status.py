"""Delivery status: how far an outbound message got, as the provider reports it (DESIGN §10).

Kept apart from ``conversation_status`` (the processing state machine). Statuses keep the
provider's own words and are ranked, so an update is applied only when it moves a message
forward: providers repeat events and callbacks arrive out of order, and neither may move a status
backwards. A failure ranks below ``delivered`` because carriers do report a delivery after a
failure; never the other way round.

Engagement (SendGrid ``open``/``click``) is not a delivery status and has no rank.
"""

from __future__ import annotations

# Twilio: queued/accepted/scheduled < sending < sent < undelivered/failed < delivered < read.
# SendGrid: processed < deferred < delivered, with bounce/dropped as failures.
RANKS: dict[str, int] = {
    "queued": 1,
    "accepted": 1,
    "scheduled": 1,
    "processed": 1,
    "sending": 2,
    "deferred": 2,
    "sent": 3,
    "undelivered": 4,
    "failed": 4,
    "canceled": 4,
    "bounce": 4,
    "dropped": 4,
    "delivered": 5,
    "partially_delivered": 5,
    "read": 6,
}

FAILURES = frozenset({"undelivered", "failed", "canceled", "bounce", "dropped"})
ENGAGEMENT = frozenset({"open", "click"})


def rank_of(status: str) -> int | None:
    """The status's rank, or None when it is not a delivery status (engagement, inbound, unknown)."""
    return RANKS.get(status)


def is_failure(status: str) -> bool:
    return status in FAILURES
