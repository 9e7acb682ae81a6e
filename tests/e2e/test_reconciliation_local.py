"""Issue 9 B on the local stack: two conversations to the same person on SMS, one whose send timed
out untaken and one whose send was taken but its answer lost, each end with its own message, and
the person receives each message exactly once (HTTP in, records and the sandbox outbox out)."""

from __future__ import annotations

import random
import uuid

import pytest
import requests

from local.sandboxes.outcomes import Outcome
from shared.processing.settings import DEFAULT_PROVIDER_TIMEOUT_SECONDS
from tests.e2e.test_local_stack import conversation, example_request, sandbox_outbox, sandbox_script, wait_for

pytestmark = pytest.mark.e2e

# The local stack leaves the processors' provider timeout at its default; a scripted provider
# answers later than that, so the processor gives up on the send and does not know its outcome.
NO_ANSWER_SECONDS = DEFAULT_PROVIDER_TIMEOUT_SECONDS + 5
# Generous: A is sent again only once its first send can no longer be landing (the settle window).
WAIT = 150
# Where each record may end; the assertions say which one it must be.
FINAL = ("initial_message_sent", "send_unconfirmed", "failed_unknown")


def _request_to(tel: str, job_role: str) -> dict:
    body = example_request("sms")
    body["recipient_data"]["recipient_tel"] = tel
    body["project_data"]["jobRole"] = job_role  # the AI sandbox writes the role into the text
    return body


def _start(stack, body: dict) -> str:
    response = stack.post(body)
    assert response.status_code == 200, response.text
    return response.json()["conversation_id"]


def _status(stack, tel: str, conversation_id: str, *statuses: str):
    def reached():
        record = conversation(stack, tel, conversation_id)
        return record if record and record["conversation_status"] in statuses else None

    return reached


def test_two_conversations_to_one_person_whose_sends_lost_their_answers_each_send_their_own_message_once(
    local_stack,
):
    tel = f"+4477009{random.randint(10000, 99999)}"  # this test's own person
    suffix = uuid.uuid4().hex[:6]
    request_a = _request_to(tel, f"Night Shift Care Assistant {suffix}")
    request_b = _request_to(tel, f"Weekend Community Support Worker {suffix}")
    try:
        # A: Twilio takes nothing and answers after the processor has given up.
        sandbox_script(local_stack, "twilio", [Outcome.timeout(NO_ANSWER_SECONDS).to_json()])
        conversation_a = _start(local_stack, request_a)
        wait_for(
            lambda: (
                (r := conversation(local_stack, tel, conversation_a))
                and r["conversation_status"] == "sending"
                and r.get("last_error")
            ),
            timeout=WAIT,
        )
        # B: Twilio takes the message (it reaches the person) and answers after the processor gave up.
        sandbox_script(local_stack, "twilio", [Outcome.accept_then_timeout(NO_ANSWER_SECONDS).to_json()])
        conversation_b = _start(local_stack, request_b)
        wait_for(_status(local_stack, tel, conversation_b, "sending"), timeout=WAIT)

        # Both are redelivered after the retry backoff and ask Twilio what it has. B finds its
        # own message; A finds none with its text and, once its send can no longer be landing,
        # sends it again. Neither takes the other's message.
        record_a = wait_for(_status(local_stack, tel, conversation_a, *FINAL), timeout=WAIT)
        record_b = wait_for(_status(local_stack, tel, conversation_b, *FINAL), timeout=WAIT)
        received = [m for m in sandbox_outbox(local_stack, "twilio") if tel in str(m["to"])]
    finally:
        requests.post(f"{local_stack.env['TWILIO_SANDBOX_URL']}/_sandbox/reset", timeout=10)

    assert record_a["conversation_status"] == "initial_message_sent", record_a.get("last_error")
    assert record_b["conversation_status"] == "initial_message_sent", record_b.get("last_error")
    # The text each conversation wrote (the record keeps it even if it took another's message id).
    text_a, text_b = record_a["messages"][0]["content"], record_b["messages"][0]["content"]
    assert text_a != text_b
    assert record_a["provider_message_id"] != record_b["provider_message_id"]
    [sent_a] = [m for m in received if m["body"] == text_a]  # exactly one A
    [sent_b] = [m for m in received if m["body"] == text_b]  # exactly one B
    assert record_a["provider_message_id"] == sent_a["sid"]
    assert record_b["provider_message_id"] == sent_b["sid"]
    assert len(received) == 2, [m["body"] for m in received]
