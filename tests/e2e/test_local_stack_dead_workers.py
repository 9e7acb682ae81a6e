"""``make local`` survives its workers: processes killed with SIGKILL are replaced, the deaths are
logged, and the traffic they would have absorbed is processed by live workers promptly."""

from __future__ import annotations

import json
import os
import signal

import pytest

from tests.e2e.test_local_stack import ADDRESS_OF, conversation, example_request, sandbox_outbox, wait_for

pytestmark = pytest.mark.e2e


def _workers(stack) -> dict[str, list[int]]:
    return json.loads((stack.state_dir / "workers.json").read_text())


def test_with_every_email_worker_killed_an_email_request_is_still_sent_promptly(local_stack):
    killed = _workers(local_stack)["email_processor"]
    assert len(killed) >= 2
    for pid in killed:
        os.kill(pid, signal.SIGKILL)

    response = local_stack.post(example_request("email"))

    assert response.status_code == 200, response.text
    conversation_id = response.json()["conversation_id"]
    # Well within the queue's visibility timeout (720 s): the batch was not left to wait it out.
    record = wait_for(
        lambda: (
            (r := conversation(local_stack, ADDRESS_OF["email"], conversation_id))
            and r["conversation_status"] == "initial_message_sent"
            and r
        )
    )
    assert any(record["provider_message_id"] in json.dumps(m) for m in sandbox_outbox(local_stack, "sendgrid"))
    replaced = wait_for(lambda: set(_workers(local_stack)["email_processor"]).isdisjoint(killed))
    assert replaced
    log = (local_stack.state_dir / "stack.log").read_text()
    for pid in killed:
        assert f"email_processor worker pid {pid}" in log
