"""Issue 12 on the local stack: a first message with ``send_at`` a little ahead waits in
``scheduled`` and goes out once its moment has come, not before (the SQS-delay wake-up; the
EventBridge Scheduler path is fired by ``local/scheduler.py``, tested in tests/integration)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.processing.times import parse_time
from tests.e2e.test_local_stack import ADDRESS_OF, conversation, example_request, sandbox_outbox, wait_for

pytestmark = pytest.mark.e2e
WAIT_SECONDS = 15


def test_send_at_holds_the_first_message_until_then(local_stack):
    send_at = datetime.now(UTC) + timedelta(seconds=WAIT_SECONDS)
    before = len(sandbox_outbox(local_stack, "twilio"))

    response = local_stack.post(example_request("sms", send_at=send_at.isoformat()))

    assert response.status_code == 200, response.text
    answer = response.json()
    assert parse_time(answer["scheduled_for"]) >= send_at.replace(microsecond=0)
    waiting = wait_for(lambda: conversation(local_stack, ADDRESS_OF["sms"], answer["conversation_id"]))
    assert waiting["conversation_status"] == "scheduled"
    assert waiting["schedule_reason"].startswith("send_at")
    assert "provider_message_id" not in waiting

    sent = wait_for(
        lambda: (
            (r := conversation(local_stack, ADDRESS_OF["sms"], answer["conversation_id"]))
            and r["conversation_status"] == "initial_message_sent"
            and r
        ),
        timeout=WAIT_SECONDS + 60,
    )
    assert parse_time(sent["sent_at"]) >= parse_time(answer["scheduled_for"]) - timedelta(seconds=1)
    assert len(sandbox_outbox(local_stack, "twilio")) == before + 1
