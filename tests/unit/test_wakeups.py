"""The wake body and the schedule's moment (shared/processing/wakeups.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from shared.processing.wakeups import DUE_TOLERANCE, Delivery, is_due, open_delivery, schedule_expression


def test_a_wake_body_opens_to_its_context_message_and_anything_else_to_itself():
    context = {"conversation_id": "c-1", "amount": 1.10}
    woken = open_delivery(json.dumps({"kind": "wakeup", "context": context}))
    assert woken.wakeup and json.loads(woken.body) == context
    for body in ('{"conversation_id": "c-1"}', '{"kind": "reply", "context": {}}', "not json", '{"kind": "wakeup"}'):
        assert open_delivery(body) == Delivery(body, wakeup=False)


def test_the_schedule_never_fires_before_the_moment():
    assert schedule_expression(datetime(2026, 12, 1, 9, 0, 0, tzinfo=UTC)) == "at(2026-12-01T09:00:00)"
    assert schedule_expression(datetime(2026, 12, 1, 8, 59, 59, 1, tzinfo=UTC)) == "at(2026-12-01T09:00:00)"
    london = datetime(2026, 7, 1, 10, 0, 0, tzinfo=UTC).astimezone()  # any zone: the expression is UTC
    assert schedule_expression(london) == "at(2026-07-01T10:00:00)"


def test_a_moment_within_the_tolerance_is_due_and_one_beyond_it_is_not():
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    assert is_due(now + DUE_TOLERANCE, now)
    assert not is_due(now + DUE_TOLERANCE + timedelta(milliseconds=1), now)
    assert is_due(None, now)  # a scheduled record without a moment is not held
