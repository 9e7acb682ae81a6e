"""The local stack's EventBridge Scheduler (moto stores schedules and never runs them): a due
one-time schedule is delivered to the queue its target names and deleted; one not due yet stays.
With a processor: the wake-up it armed comes back through the queue (issue 12)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from local.aws_emulator import release_hidden_messages
from local.scheduler import LocalScheduler, fires_at
from shared.channels import Channel
from shared.consent.wakeup_names import schedule_name


def queue_arn(aws, channel: Channel) -> str:
    attributes = aws.client("sqs").get_queue_attributes(
        QueueUrl=aws.queues[channel].queue_url, AttributeNames=["QueueArn"]
    )["Attributes"]
    return attributes["QueueArn"]


def create(aws, name: str, at: datetime, body: str, channel: Channel = Channel.SMS) -> None:
    aws.client("scheduler").create_schedule(
        Name=name,
        GroupName=aws.scheduler_group_name,
        ScheduleExpression=f"at({at:%Y-%m-%dT%H:%M:%S})",
        ScheduleExpressionTimezone="UTC",
        FlexibleTimeWindow={"Mode": "OFF"},
        ActionAfterCompletion="DELETE",
        Target={"Arn": queue_arn(aws, channel), "RoleArn": aws.scheduler_role_arn, "Input": body},
    )


def bodies(aws, channel: Channel) -> list[str]:
    received = aws.client("sqs").receive_message(
        QueueUrl=aws.queues[channel].queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
    )
    return [m["Body"] for m in received.get("Messages", [])]


def names(aws) -> list[str]:
    listed = aws.client("scheduler").list_schedules(GroupName=aws.scheduler_group_name)["Schedules"]
    return sorted(s["Name"] for s in listed)


def local_scheduler(aws, **options) -> LocalScheduler:
    return LocalScheduler(
        scheduler=aws.client("scheduler"), sqs=aws.client("sqs"), group_name=aws.scheduler_group_name, **options
    )


def test_a_due_schedule_is_delivered_to_its_queue_and_deleted_and_a_later_one_waits(aws):
    now = datetime.now(UTC).replace(microsecond=0)
    create(aws, "due", now - timedelta(seconds=1), '{"n": "due"}', Channel.EMAIL)
    create(aws, "later", now + timedelta(hours=1), '{"n": "later"}', Channel.EMAIL)

    fired = local_scheduler(aws).fire_due()

    assert fired == ["due"]
    assert bodies(aws, Channel.EMAIL) == ['{"n": "due"}']
    assert bodies(aws, Channel.SMS) == []
    assert names(aws) == ["later"]


def test_the_moment_is_read_in_the_schedules_time_zone():
    schedule = {"ScheduleExpression": "at(2026-07-01T09:00:00)", "ScheduleExpressionTimezone": "Europe/London"}
    assert fires_at(schedule) == datetime(2026, 7, 1, 8, 0, tzinfo=UTC)
    assert fires_at({"ScheduleExpression": "rate(5 minutes)"}) is None


def test_the_running_scheduler_fires_a_schedule_once_its_moment_comes(aws):
    create(aws, "soon", datetime.now(UTC) + timedelta(seconds=1), '{"n": "soon"}')
    scheduler = local_scheduler(aws, interval_seconds=0.2).start()
    try:
        deadline = time.monotonic() + 10
        while names(aws) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        scheduler.stop()
    assert names(aws) == []
    assert bodies(aws, Channel.SMS) == ['{"n": "soon"}']


def test_a_processors_wake_up_schedule_comes_back_through_the_queue(processor_for, context_message, sandbox, aws):
    """Fired early (the local scheduler's clock set past the moment, the processor's not): the
    processor finds the record not due and arms a new schedule; nothing is sent."""
    processor = processor_for(Channel.EMAIL)
    message = context_message(
        Channel.EMAIL,
        schedule={
            "scheduled_for": (datetime.now(UTC) + timedelta(hours=2)).isoformat(),
            "reason": "send_at",
            "recipient_timezone": "Europe/London",
        },
    )
    processor.deliver(message)
    [armed] = names(aws)
    assert armed == schedule_name(message.conversation_id)

    fired = local_scheduler(aws, clock=lambda: datetime.now(UTC) + timedelta(hours=3)).fire_due()
    assert fired == [armed] and names(aws) == []

    woken = processor.poll()

    assert len(woken.received) == 1 and woken.failed == [] and woken.deleted == woken.received
    assert processor.record(message)["conversation_status"] == "scheduled"
    assert names(aws) == [armed]  # armed again for the real moment
    assert processor.provider_outbox == []


def test_at_the_stop_pending_wake_ups_become_queue_messages_that_the_saved_state_keeps(aws):
    """moto forgets schedules and the state cannot receive a delayed message: both are made
    plain messages (early wake-ups, which the processor arms again)."""
    create(aws, "tomorrow", datetime.now(UTC) + timedelta(days=1), '{"n": "scheduled"}')
    aws.client("sqs").send_message(
        QueueUrl=aws.queues[Channel.SMS].queue_url, MessageBody='{"n": "delayed"}', DelaySeconds=900
    )

    assert local_scheduler(aws).fire_due(early=True) == ["tomorrow"]
    assert release_hidden_messages() == 1

    assert names(aws) == []
    assert sorted(bodies(aws, Channel.SMS)) == ['{"n": "delayed"}', '{"n": "scheduled"}']
