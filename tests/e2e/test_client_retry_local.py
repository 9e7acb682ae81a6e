"""Issue 9 A on the local stack: a client that retries a slow call half a second later must not make
the person receive the message twice, on any channel (HTTP in, records and the sandbox outbox out)."""

from __future__ import annotations

import json
import random
import threading
import time
import uuid

import pytest
import requests

from tests.e2e.test_local_stack import PROVIDER_OF, conversation, example_request, sandbox_outbox, wait_for

pytestmark = pytest.mark.e2e

# What the issue measured: the AI takes ~0.8 s, the providers ~0.6 s.
LATENCY = {"openai": 0.8, "twilio": 0.6, "sendgrid": 0.6}


def _set_latency(stack, seconds: dict[str, float]) -> None:
    for sandbox, value in seconds.items():
        url = f"{stack.env[f'{sandbox.upper()}_SANDBOX_URL']}/_sandbox/latency"
        requests.post(url, json={"seconds": value}, timeout=10).raise_for_status()


@pytest.mark.parametrize("channel", ["whatsapp", "sms", "email"])
def test_the_same_request_posted_twice_half_a_second_apart_reaches_the_person_once(local_stack, channel):
    # A person of this test's own, so the session's shared outbox says exactly what they received.
    tel, email = f"+4477009{random.randint(10000, 99999)}", f"retry-{uuid.uuid4().hex[:8]}@example.com"
    body = example_request(channel)
    body["recipient_data"].update(recipient_tel=tel, recipient_email=email)
    address = email if channel == "email" else tel
    answers: list[requests.Response] = []
    _set_latency(local_stack, LATENCY)
    try:
        first = threading.Thread(target=lambda: answers.append(local_stack.post(body)))
        first.start()
        time.sleep(0.5)
        second = local_stack.post(body)
        first.join(30)
        [first_answer] = answers
        assert first_answer.status_code == 200, first_answer.text
        assert second.status_code == 200, second.text
        conversation_id = first_answer.json()["conversation_id"]
        assert second.json()["conversation_id"] == conversation_id
        wait_for(
            lambda: (
                (r := conversation(local_stack, address, conversation_id))
                and r["conversation_status"] == "initial_message_sent"
            )
        )
        time.sleep(3)  # every chance for the second copy to finish (and, were it wrong, to send)
    finally:
        _set_latency(local_stack, dict.fromkeys(LATENCY, 0))

    record = conversation(local_stack, address, conversation_id)
    assert record["conversation_status"] == "initial_message_sent"
    assert len(record["messages"]) == 1
    received = [m for m in sandbox_outbox(local_stack, PROVIDER_OF[channel]) if address in json.dumps(m["to"])]
    assert len(received) == 1, f"the person got {len(received)} messages"
