"""Scheduled first messages wait and wake (issue 12, docs/decisions.md "Consent (issue 12) — wake-ups").

The record waits in ``scheduled``; a *wake-up* brings the context message back to the channel
queue at ``scheduled_for``: an SQS message with ``DelaySeconds`` when the wait fits SQS's 15
minutes, else a one-time EventBridge Scheduler schedule whose target is the channel queue. Both
carry the same *wake body*, ``{"kind": "wakeup", "context": <the context message>}``: the
scheduler's SQS target cannot set message attributes, so the body itself says it is a wake-up,
and a wake-up never creates a record (an erased conversation stays erased).

Arming is idempotent: the schedule's name is derived from the conversation
(``shared.consent.wakeup_names``), so a second create is a ``ConflictException``; a second delayed
SQS message is harmless (of two wake-ups, the versioned move out of ``scheduled`` lets one through).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shared import json_codec
from shared.consent.wakeup_names import schedule_name
from shared.models.context import ContextMessage
from shared.models.conversation import ConversationRecord
from shared.processing.errors import WakeupUnavailable
from shared.processing.settings import ProcessorSettings
from shared.processing.times import parse_time
from shared.replies.reply_job import KIND_ATTRIBUTE

WAKEUP_KIND = "wakeup"
# SQS's largest per-message delay; longer waits go to EventBridge Scheduler.
MAX_SQS_DELAY_SECONDS = 900
# A wake-up this early still counts as due: SQS delays and the scheduler are whole seconds, and the
# processor's clock is not the queue's.
DUE_TOLERANCE = timedelta(seconds=1)


@dataclass(frozen=True)
class Delivery:
    """One queue body, opened: the context message's JSON and whether a wake-up carried it."""

    body: str
    wakeup: bool


def open_delivery(body: str) -> Delivery:
    """A wake body gives its context message (``wakeup=True``); any other body is itself."""
    try:
        parsed = json_codec.loads(body)
    except ValueError:
        return Delivery(body, wakeup=False)  # malformed: the context parse says why
    if isinstance(parsed, dict) and parsed.get("kind") == WAKEUP_KIND and isinstance(parsed.get("context"), dict):
        return Delivery(json_codec.dumps(parsed["context"]), wakeup=True)
    return Delivery(body, wakeup=False)


def wakeup_body(message: ContextMessage) -> str:
    return json_codec.dumps({"kind": WAKEUP_KIND, "context": message.model_dump()})


def scheduled_for(record: ConversationRecord) -> datetime | None:
    return parse_time(record.scheduled_for)


def is_due(moment: datetime | None, now: datetime) -> bool:
    return moment is None or moment <= now + DUE_TOLERANCE


def schedule_expression(moment: datetime) -> str:
    """``at(…)`` in UTC, rounded up to the second: a schedule never fires before the moment."""
    second = datetime.fromtimestamp(math.ceil(moment.timestamp()), UTC)
    return f"at({second:%Y-%m-%dT%H:%M:%S})"


class Wakeups:
    def __init__(self, *, sqs: Any, scheduler: Any, settings: ProcessorSettings, logger: Any):
        self._sqs = sqs
        self._scheduler = scheduler
        self._settings = settings
        self._logger = logger
        self._queue_arns: dict[str, str] = {}

    def arm(self, message: ContextMessage, moment: datetime, *, now: datetime) -> str:
        """Arm the wake-up of ``message`` at ``moment``; the way it was armed (``sqs_delay`` or
        ``schedule``). Any failure is ``WakeupUnavailable``: the redelivery arms again."""
        wait = (moment - now).total_seconds()
        try:
            if wait <= MAX_SQS_DELAY_SECONDS:
                self._delay(message, max(0, math.ceil(wait)))
                how = "sqs_delay"
            else:
                how = "schedule" if self._schedule(message, moment) else "schedule_exists"
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            raise WakeupUnavailable(f"The wake-up could not be armed ({code or 'error'})") from None
        except BotoCoreError as error:
            raise WakeupUnavailable(f"The wake-up could not be armed: {type(error).__name__}") from None
        self._logger.info("wake-up armed", extra={"wakeup": how, "wait_seconds": math.ceil(wait)})
        return how

    def _delay(self, message: ContextMessage, seconds: int) -> None:
        attributes = {
            "channel": message.channel.value,
            "conversation_id": message.conversation_id,
            KIND_ATTRIBUTE: WAKEUP_KIND,
        }
        self._sqs.send_message(
            QueueUrl=self._settings.queue_url,
            MessageBody=wakeup_body(message),
            DelaySeconds=seconds,
            MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
        )

    def _schedule(self, message: ContextMessage, moment: datetime) -> bool:
        """``False`` when the schedule already exists (an earlier delivery armed it)."""
        try:
            self._scheduler.create_schedule(
                Name=schedule_name(message.conversation_id),
                GroupName=self._settings.scheduler_group_name,
                ScheduleExpression=schedule_expression(moment),
                ScheduleExpressionTimezone="UTC",
                FlexibleTimeWindow={"Mode": "OFF"},
                ActionAfterCompletion="DELETE",
                Target=self._target(message),
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConflictException":
                return False
            raise
        return True

    def _target(self, message: ContextMessage) -> dict[str, Any]:
        target: dict[str, Any] = {
            "Arn": self._arn_of(self._settings.queue_url),
            "RoleArn": self._settings.scheduler_role_arn,
            "Input": wakeup_body(message),
        }
        if self._settings.dead_letter_queue_url:
            # A wake-up the scheduler cannot deliver (after its retries) lands in the channel's DLQ,
            # whose alarm calls an operator, rather than vanishing with the schedule.
            target["DeadLetterConfig"] = {"Arn": self._arn_of(self._settings.dead_letter_queue_url)}
        return target

    def _arn_of(self, queue_url: str) -> str:
        """The ARN of the processor's queue or DLQ, read once per container (the event source and
        the dead-lettering grant GetQueueAttributes on them)."""
        if queue_url not in self._queue_arns:
            self._queue_arns[queue_url] = self._sqs.get_queue_attributes(
                QueueUrl=queue_url, AttributeNames=["QueueArn"]
            )["Attributes"]["QueueArn"]
        return self._queue_arns[queue_url]
