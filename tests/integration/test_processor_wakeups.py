"""Scheduled first messages (issue 12): the record waits in ``scheduled``, a wake-up (an SQS delay up
to 15 minutes, else an EventBridge Scheduler one-time schedule) brings the message back, and only
then is it written and sent. The real handler against moto and the sandboxes."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared import tables
from shared.channels import Channel
from shared.consent.wakeup_names import schedule_name
from shared.models.context import ContextMessage
from shared.processing.times import iso, parse_time
from tests.fixtures.emf import metric_total
from tests.fixtures.processors import ProcessorHarness, load_handler


def scheduled_in(seconds: float, *, reason: str = "send_at") -> dict[str, Any]:
    moment = datetime.now(UTC) + timedelta(seconds=seconds)
    return {"scheduled_for": moment.isoformat(), "reason": reason, "recipient_timezone": "Europe/London"}


def delayed(processor: ProcessorHarness) -> int:
    attributes = processor.sqs.get_queue_attributes(
        QueueUrl=processor.queue_url, AttributeNames=["ApproximateNumberOfMessagesDelayed"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessagesDelayed"])


def schedules(processor: ProcessorHarness) -> list[dict[str, Any]]:
    scheduler = processor.aws.client("scheduler")
    group = processor.aws.scheduler_group_name
    listed = scheduler.list_schedules(GroupName=group)["Schedules"]
    return [scheduler.get_schedule(GroupName=group, Name=s["Name"]) for s in listed]


def nothing_sent(processor: ProcessorHarness, sandbox: Any) -> bool:
    return processor.provider_outbox == [] and sandbox.openai.outbox == []


def test_a_short_wait_creates_the_scheduled_record_and_a_delayed_wake_up(
    processor_for, context_message, sandbox, capsys
):
    processor = processor_for(Channel.SMS)
    message = context_message(Channel.SMS, schedule=scheduled_in(600, reason="quiet_hours"))

    result = processor.deliver(message)

    assert result.failed == [] and result.deleted == result.received
    record = processor.record(message)
    assert record["conversation_status"] == "scheduled"
    assert record["scheduled_for"] == iso(message.schedule.scheduled_for)
    assert (record["schedule_reason"], record["recipient_timezone"]) == ("quiet_hours", "Europe/London")
    # Everything a processing record holds is there already: the wake-up only moves it on.
    assert record["request_id"] == message.request_data.request_id
    assert record["company_sender"] == message.project.channel_config.sender_address
    assert record["recipient_tel"] == message.recipient_data.recipient_tel
    assert delayed(processor) == 1 and processor.queue_depth() == 0
    assert schedules(processor) == []
    assert nothing_sent(processor, sandbox)
    assert metric_total(capsys.readouterr().out, "FirstMessagesScheduled") == 1


def test_a_long_wait_arms_one_schedule_that_targets_the_channel_queue_with_the_wake_body(
    processor_for, context_message, sandbox, aws
):
    processor = processor_for(Channel.EMAIL)
    message = context_message(Channel.EMAIL, schedule=scheduled_in(2 * 3600 + 0.25))

    result = processor.deliver(message)

    assert result.failed == [] and processor.queue_depth() == 0 and delayed(processor) == 0
    assert processor.record(message)["conversation_status"] == "scheduled"
    [schedule] = schedules(processor)
    moment = datetime.fromtimestamp(math.ceil(message.schedule.scheduled_for.timestamp()), UTC)
    assert schedule["Name"] == schedule_name(message.conversation_id)
    assert schedule["ScheduleExpression"] == f"at({moment:%Y-%m-%dT%H:%M:%S})"  # never early
    assert schedule["ScheduleExpressionTimezone"] == "UTC"
    assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert schedule["ActionAfterCompletion"] == "DELETE"
    queue_arn = processor.sqs.get_queue_attributes(QueueUrl=processor.queue_url, AttributeNames=["QueueArn"])
    assert schedule["Target"]["Arn"] == queue_arn["Attributes"]["QueueArn"]
    assert schedule["Target"]["RoleArn"] == aws.scheduler_role_arn
    dlq_arn = processor.sqs.get_queue_attributes(QueueUrl=processor.dlq_url, AttributeNames=["QueueArn"])
    assert schedule["Target"]["DeadLetterConfig"] == {"Arn": dlq_arn["Attributes"]["QueueArn"]}
    wake = json.loads(schedule["Target"]["Input"])
    assert wake["kind"] == "wakeup"
    assert ContextMessage.model_validate(wake["context"]) == message
    assert nothing_sent(processor, sandbox)


def test_duplicate_first_deliveries_make_one_record_and_one_schedule(processor_for, context_message, sandbox):
    processor = processor_for(Channel.WHATSAPP)
    message = context_message(Channel.WHATSAPP, schedule=scheduled_in(3 * 3600))
    processor.enqueue(message)
    processor.enqueue(message)

    first, second = processor.poll(), processor.poll()

    assert len(first.received) + len(second.received) == 2
    assert first.failed == second.failed == [] and processor.queue_depth() == 0
    assert [r["conversation_id"] for r in processor.all_records()] == [message.conversation_id]
    assert processor.record(message)["version"] == 1
    assert len(schedules(processor)) == 1
    assert nothing_sent(processor, sandbox)


def test_an_early_wake_up_arms_again_and_sends_nothing(processor_for, context_message, sandbox):
    processor = processor_for(Channel.SMS)
    message = context_message(Channel.SMS, schedule=scheduled_in(300))
    processor.deliver(message)
    # Still delayed; a copy comes early below, as it would from a queue whose clock runs ahead.
    assert processor.sqs.receive_message(QueueUrl=processor.queue_url, WaitTimeSeconds=0).get("Messages", []) == []

    early = json.dumps({"kind": "wakeup", "context": json.loads(message.model_dump_json())})
    result = processor.deliver(early)

    assert result.failed == [] and result.deleted == result.received
    record = processor.record(message)
    assert (record["conversation_status"], record["version"]) == ("scheduled", 1)
    assert delayed(processor) == 2  # the first wake-up and the one the early copy armed
    assert nothing_sent(processor, sandbox)


def test_a_due_wake_up_sends_once_even_when_it_comes_twice(processor_for, context_message, sandbox):
    processor = processor_for(Channel.SMS)
    message = context_message(Channel.SMS, schedule=scheduled_in(3))
    processor.deliver(message)
    assert processor.record(message)["conversation_status"] == "scheduled" and delayed(processor) == 1

    woken = processor.redeliver(timeout=15)  # the delayed wake-up, once SQS lets it out

    assert woken.failed == [] and woken.deleted == woken.received
    record = processor.record(message)
    assert record["conversation_status"] == "initial_message_sent"
    assert record["scheduled_for"] == iso(message.schedule.scheduled_for)
    [sent] = processor.provider_outbox
    assert record["provider_message_id"] == sent["sid"]
    # Measured from the end of the wait, not from the record's creation.
    waited = parse_time(record["sent_at"]) - message.schedule.scheduled_for
    assert abs(int(record["initial_processing_time_ms"]) - waited.total_seconds() * 1000) <= 1

    again = json.dumps({"kind": "wakeup", "context": json.loads(message.model_dump_json())})
    repeat = processor.deliver(again)

    assert repeat.failed == [] and repeat.deleted == repeat.received
    assert len(processor.provider_outbox) == 1
    assert processor.record(message)["conversation_status"] == "initial_message_sent"


def test_a_wake_up_for_an_erased_conversation_creates_nothing(processor_for, context_message, sandbox, aws):
    processor = processor_for(Channel.EMAIL)
    message = context_message(Channel.EMAIL, schedule=scheduled_in(2 * 3600))
    processor.deliver(message)
    [schedule] = schedules(processor)
    aws.client("dynamodb").delete_item(  # what erasing the person does to the record
        TableName=aws.table_name(tables.CONVERSATIONS.logical_name),
        Key={
            "primary_channel": {"S": message.recipient_address},
            "conversation_id": {"S": message.conversation_id},
        },
    )

    # The scheduler's SQS target sets no message attributes: the body alone says it is a wake-up.
    result = processor.deliver(schedule["Target"]["Input"])

    assert result.failed == [] and result.deleted == result.received and processor.queue_depth() == 0
    assert processor.all_records() == []
    assert nothing_sent(processor, sandbox)


def test_a_wake_up_due_on_arrival_goes_straight_through(processor_for, context_message, sandbox):
    processor = processor_for(Channel.SMS)
    message = context_message(Channel.SMS, schedule=scheduled_in(-5))

    processor.deliver(message)

    record = processor.record(message)
    assert record["conversation_status"] == "initial_message_sent"
    assert record["schedule_reason"] == "send_at" and record["scheduled_for"] == iso(message.schedule.scheduled_for)
    assert len(processor.provider_outbox) == 1 and delayed(processor) == 0 and schedules(processor) == []


def test_an_arm_that_failed_is_armed_by_the_redelivery(
    processor_for, context_message, sandbox, aws, monkeypatch: pytest.MonkeyPatch
):
    """The record was written and the schedule was not (here: its group does not exist yet): the
    message comes back, finds ``scheduled`` and not due, and arms."""
    group = "ai-multi-comms-schedules-late"
    processor = processor_for(Channel.SMS)
    monkeypatch.setenv("SCHEDULER_GROUP_NAME", group)
    processor.handler = load_handler(Channel.SMS)  # a container started with that group
    message = context_message(Channel.SMS, schedule=scheduled_in(3 * 3600))

    failed = processor.deliver(message)

    assert failed.deleted == [] and len(failed.failed) == 1
    record = processor.record(message)
    assert record["conversation_status"] == "scheduled"
    assert "could not be armed" in record["last_error"]

    aws.client("scheduler").create_schedule_group(Name=group)
    armed = processor.redeliver(timeout=15)

    assert armed.failed == [] and armed.deleted == armed.received and processor.queue_depth() == 0
    listed = aws.client("scheduler").list_schedules(GroupName=group)["Schedules"]
    assert [s["Name"] for s in listed] == [schedule_name(message.conversation_id)]
    assert processor.record(message)["version"] == 1
    assert nothing_sent(processor, sandbox)
