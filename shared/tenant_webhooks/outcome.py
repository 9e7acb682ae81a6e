"""What one delivery attempt means for its message: delivered, retried later, or dead-lettered.

Retried: 5xx, 408, 429, a timeout or a connection failure (the tenant's side may recover).
Dead-lettered at once: every other 4xx, a 3xx (redirects are not followed: the URL is wrong, and
asking again gets the same answer), a refused target, a project without a usable webhook or
secret. Retries back off ``base * 2^(n-1)`` seconds (n = the message's receive count), capped at an
hour, or longer when the target asks (Retry-After on 429/503, same cap).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum

MAX_RETRY_DELAY_SECONDS = 3600
_RETRIED_STATUSES = frozenset({408, 429})
_RETRY_AFTER_STATUSES = frozenset({429, 503})


class Verdict(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retrying"
    DEAD_LETTER = "dead_lettered"
    # Not this message's fault: an earlier event of its conversation is being retried (FIFO order).
    HELD_BACK = "held_back"


@dataclass(frozen=True)
class Outcome:
    verdict: Verdict
    reason: str
    status: int | None = None  # the target's HTTP status, when it answered
    retry_after_seconds: int | None = None  # what the target asked for (429/503)
    target_refused: bool = False


def outcome_of_status(status: int, retry_after: str | None, now: datetime) -> Outcome:
    if 200 <= status < 300:
        return Outcome(Verdict.DELIVERED, "delivered", status=status)
    if status >= 500 or status in _RETRIED_STATUSES:
        wait = parse_retry_after(retry_after, now) if status in _RETRY_AFTER_STATUSES else None
        return Outcome(Verdict.RETRY, f"the target answered {status}", status=status, retry_after_seconds=wait)
    if 300 <= status < 400:
        return Outcome(Verdict.DEAD_LETTER, f"the target answered {status} (redirects are not followed)", status=status)
    return Outcome(Verdict.DEAD_LETTER, f"the target answered {status}", status=status)


def parse_retry_after(value: str | None, now: datetime) -> int | None:
    """Retry-After as whole seconds from ``now`` (delta-seconds or an HTTP date), None when absent
    or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return int(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0, math.ceil((when - now).total_seconds()))


def retry_delay(receive_count: int, *, base_seconds: int, retry_after_seconds: int | None = None) -> int:
    """Seconds until the next attempt: ``base * 2^(n-1)``, or the target's Retry-After when that
    is longer, never more than an hour (a visibility timeout's useful range here)."""
    exponent = max(0, receive_count - 1)
    backoff = MAX_RETRY_DELAY_SECONDS if exponent >= 32 else min(MAX_RETRY_DELAY_SECONDS, base_seconds * 2**exponent)
    if retry_after_seconds is not None:
        backoff = max(backoff, retry_after_seconds)
    return min(backoff, MAX_RETRY_DELAY_SECONDS)
