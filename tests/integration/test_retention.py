"""Retention (issue 12): every conversation record carries ``expires_at`` (DynamoDB's TTL), the
environment's retention after its last activity, written by the real processor when it creates the
record and pushed forward by the real events processor when the person writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared import tables
from shared.channels import Channel
from shared.processing.conversation_repository import ConversationRepository
from shared.processing.times import parse_time
from shared.replies.inbound import parse_inbound
from shared.replies.inbound_records import InboundRecords, Recording
from tests.fixtures.inbound import conversation_record, twilio_inbound
from tests.fixtures.processors import RETENTION_DAYS
from tests.integration.reply_setup import answer, first_message_sent, replying_project

DAY = 24 * 3600


@pytest.fixture
def company_record_example(company_record_example: dict[str, Any]) -> dict[str, Any]:
    return replying_project(company_record_example) | {"auto_queue_reply_message": True}


def _epoch(value: str) -> int:
    moment = parse_time(value)
    assert moment is not None
    return int(moment.timestamp())


def test_the_ttl_is_on_expires_at(aws):
    ttl = aws.client("dynamodb").describe_time_to_live(TableName=aws.table_name(tables.CONVERSATIONS.logical_name))
    assert ttl["TimeToLiveDescription"] == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}


@pytest.mark.parametrize("channel", list(Channel))
def test_a_new_record_expires_the_retention_after_it_was_created(channel, processor_for, context_message):
    record = first_message_sent(processor_for(channel), context_message(channel))

    assert record["expires_at"] == _epoch(record["created_at"]) + RETENTION_DAYS * DAY


def test_a_held_first_message_is_kept_the_retention_after_it_is_due(processor_for, context_message):
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(days=20)
    message = context_message(
        Channel.SMS,
        schedule={"scheduled_for": due.isoformat(), "reason": "send_at", "recipient_timezone": "Europe/London"},
    )
    processor = processor_for(Channel.SMS)

    processor.deliver(message)

    assert processor.record(message)["expires_at"] == int(due.timestamp()) + RETENTION_DAYS * DAY


def test_the_persons_message_pushes_the_expiry_to_the_retention_after_it(
    processor_for, events_processor, context_message
):
    processor = processor_for(Channel.WHATSAPP)
    message = context_message(Channel.WHATSAPP)
    first = first_message_sent(processor, message)
    events = events_processor()

    events.deliver(twilio_inbound(message.company_data.company_id, message.company_data.project_id))

    replied = processor.record(message)
    assert replied["inbound_count"] == 1
    assert replied["expires_at"] == _epoch(replied["last_inbound_at"]) + RETENTION_DAYS * DAY
    assert replied["expires_at"] >= first["expires_at"]


def test_a_late_recorded_message_never_shortens_the_retention(aws, conversations):
    """A message received long ago but recorded now (a redriven event) keeps the later expiry."""
    kept_until = int((datetime.now(UTC) + timedelta(days=400)).timestamp())
    record = conversations.put(conversation_record(Channel.SMS, expires_at=kept_until))
    client = aws.client("dynamodb")
    table = aws.table_name(tables.CONVERSATIONS.logical_name)
    records = InboundRecords(client, table, ConversationRepository(client, table), retention_days=RETENTION_DAYS)

    recorded = records.record(record, parse_inbound(twilio_inbound(channel=Channel.SMS)), at="2026-11-26T03:00:00.000Z")

    assert recorded.outcome is Recording.RECORDED
    assert conversations.get(record).expires_at == kept_until


def test_each_sends_message_item_expires_with_its_record(processor_for, events_processor, context_message, sandbox):
    """The items name the person's address: they go when the record does, not 30 days or never."""
    processor = processor_for(Channel.SMS)
    message = context_message(Channel.SMS)
    first = first_message_sent(processor, message)
    events = events_processor()
    sandbox.openai.script(answer("Great, see you in March!"))

    events.deliver(
        twilio_inbound(message.company_data.company_id, message.company_data.project_id, channel=Channel.SMS)
    )
    processor.poll()

    replied = processor.record(message)
    assert replied["conversation_status"] == "reply_sent"
    reply_id = replied["messages"][-1]["message_id"]
    assert events.item(f"twilio#{first['provider_message_id']}")["expires_at"] == first["expires_at"]
    assert events.item(f"twilio#{reply_id}")["expires_at"] == replied["expires_at"] >= first["expires_at"]
