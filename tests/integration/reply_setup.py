"""What the reply-turn tests share: a project that answers replies, and the first message sent."""

from __future__ import annotations

from typing import Any

import pytest

from local.sandboxes import Outcome
from shared.channels import Channel

REPLY_DOMAIN = "reply.cucumber-recruitment.example"
REPLY_SENDER = {
    "prompt_version": "2026-11-25.1",
    "instructions": "You answer the candidate's questions about the role briefly and kindly.",
}
COMPANY_ADDRESS = {
    Channel.WHATSAPP: "whatsapp:+447700900001",
    Channel.SMS: "+447700900002",
    Channel.EMAIL: "talent@cucumber-recruitment.example",
}
PERSON_ADDRESS = {
    Channel.WHATSAPP: "whatsapp:+447700900123",
    Channel.SMS: "+447700900123",
    Channel.EMAIL: "alex.morgan@example.com",
}


def replying_project(example: dict[str, Any]) -> dict[str, Any]:
    """The example project with a reply_sender on every channel and a reply domain for email."""
    for config in example["ai_config"]["openai_config"].values():
        config["reply_sender"] = dict(REPLY_SENDER)
    example["channel_config"]["email"]["reply_domain"] = REPLY_DOMAIN
    return example


@pytest.fixture
def company_record_example(company_record_example: dict[str, Any]) -> dict[str, Any]:
    return replying_project(company_record_example)


def answer(reply: str, *, needs_human: bool = False, task_complete: bool = False) -> Outcome:
    """What the (sandbox) model answers the next reply request with."""
    return Outcome.output({"reply": reply, "task_complete": task_complete, "needs_human": needs_human})


def first_message_sent(processor: Any, message: Any) -> dict[str, Any]:
    result = processor.deliver(message)
    assert result.deleted == result.received
    record = processor.record(message)
    assert record["conversation_status"] == "initial_message_sent"
    return record


def drain(processor: Any, *, rounds: int = 10) -> None:
    """Poll until the channel queue is empty (retries come back after their backoff)."""
    for _ in range(rounds):
        if processor.queue_depth() == 0:
            return
        processor.redeliver(timeout=15)
    assert processor.queue_depth() == 0, "the queue still holds messages"
