"""Names of the one-time EventBridge Scheduler schedules that wake a scheduled first message
(issue 12): derived from the conversation id, so arming is idempotent (a second create is a
conflict, not a second schedule) and erasing a person can delete a pending one without a lookup."""

from __future__ import annotations

import hashlib


def schedule_group_name(env: str) -> str:
    """``ai-multi-comms-schedules-<env>``: every wake-up schedule of the environment."""
    return f"ai-multi-comms-schedules-{env}"


def schedule_name(conversation_id: str) -> str:
    """At most 64 characters of ``[0-9a-zA-Z-_.]``; no personal data (the id holds the company's
    sender, so it is hashed)."""
    return "first-" + hashlib.sha256(conversation_id.encode()).hexdigest()[:40]
