"""The person's answer from the provider's webhook to the engine's reply (issue 11), through the real
events processor and the real channel processor against moto and the sandboxes: the event is
recorded, the reply job crosses the channel queue, the turn answers, and the reply's own delivery
events reach the record."""

from __future__ import annotations

from typing import Any

import pytest

from shared.channels import Channel
from tests.fixtures.inbound import sendgrid_inbound, twilio_inbound
from tests.fixtures.processors import twilio_status
from tests.integration.reply_setup import REPLY_DOMAIN, answer, first_message_sent, replying_project


@pytest.fixture
def company_record_example(company_record_example: dict[str, Any]) -> dict[str, Any]:
    """The replying project, with the AI answering replies on every number and address."""
    return replying_project(company_record_example) | {"auto_queue_reply_message": True}


@pytest.mark.parametrize("channel", [Channel.WHATSAPP, Channel.SMS])
def test_a_text_reply_is_answered_and_the_answers_delivery_is_tracked(
    channel, processor_for, events_processor, context_message, sandbox
):
    processor = processor_for(channel)
    message = context_message(channel)
    first_message_sent(processor, message)
    events = events_processor()
    company, project = message.company_data.company_id, message.company_data.project_id
    sandbox.openai.script(answer("Great, see you in March!"))

    events.deliver(twilio_inbound(company, project, channel=channel, body="Yes, I can start in March."))
    result = processor.poll()

    assert len(result.received) == 1 and result.deleted == result.received
    record = processor.record(message)
    reply = processor.provider_outbox[-1]
    assert reply["body"] == "Great, see you in March!" and len(processor.provider_outbox) == 2
    assert record["conversation_status"] == "reply_sent" and record["answered_through"] == 1
    assert [m["content"] for m in record["messages"]][1:] == ["Yes, I can start in March.", reply["body"]]

    events.deliver(twilio_status(company, project, reply["sid"], "delivered"))

    assert processor.record(message)["delivery_status"] == "delivered"


def test_an_email_reply_to_the_reply_to_address_is_answered_in_the_same_thread(
    processor_for, events_processor, context_message, sandbox
):
    processor = processor_for(Channel.EMAIL)
    message = context_message(Channel.EMAIL)
    first = first_message_sent(processor, message)
    token = first["gsi_reply_token"]
    events = events_processor()
    theirs = "<CAF-reply-1@mail.example.com>"
    sandbox.openai.script(answer("Wonderful, March it is."))

    events.deliver(
        sendgrid_inbound(
            message.company_data.company_id,
            message.company_data.project_id,
            to=f"reply+{token}@{REPLY_DOMAIN}",
            subject=f"Re: {first['ai_content']['subject']}",
            message_id=theirs,
            in_reply_to=f"<reply-{token}.0@{REPLY_DOMAIN}>",
        )
    )
    processor.poll()

    mail = sandbox.sendgrid.requests[-1].body
    assert mail["subject"] == f"Re: {first['ai_content']['subject']}"
    assert mail["headers"]["In-Reply-To"] == theirs
    assert mail["headers"]["References"] == f"<reply-{token}.0@{REPLY_DOMAIN}> {theirs}"
    assert mail["headers"]["Message-ID"] == f"<reply-{token}.1@{REPLY_DOMAIN}>"
    record = processor.record(message)
    assert record["conversation_status"] == "reply_sent" and record["answered_through"] == 1
    ours = [f"<reply-{token}.{n}@{REPLY_DOMAIN}>" for n in (0, 1)]
    assert record["email_references"] == [ours[0], theirs, ours[1]]
