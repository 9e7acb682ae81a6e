"""How long a conversation record is kept (issue 12): DynamoDB's TTL deletes it after its
``expires_at`` (epoch seconds), the environment's ``conversation_retention_days`` after the last
thing that happened on it (created, its first message going out, the person's latest message).

Only ever pushed forward: a later activity never shortens what an earlier one promised.
"""

from __future__ import annotations

from datetime import datetime, timedelta


def expires_at(last_activity: datetime, retention_days: int, *, kept_until: int | None = None) -> int:
    """``last_activity`` + the retention, or ``kept_until`` (the record's current value) if later."""
    expiry = int((last_activity + timedelta(days=retention_days)).timestamp())
    return max(expiry, kept_until or 0)
