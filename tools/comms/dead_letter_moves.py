"""Dead letters back to their queue, once their cause is fixed.

Two ways, one per place: against AWS, SQS's own message move task (``StartMessageMoveTask``: SQS
moves the messages itself, FIFO ones in their groups, and reports progress through
``ListMessageMoveTasks``); against the emulator, which lacks it, and for a partial redrive
(``--max``: the move task has no count), a receive/send loop.

Either way a redriven message never sends twice: the processors resume each conversation from its
record's last durable status, and the events processor applies an event only when it moves a
status forward. The tenant-events stream-failure DLQ holds pointers to stream records, not
messages: its conversations are replayed (``comms webhooks replay``) instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tools.comms.dead_letters import FAILURE_REASON, DeadLetterQueue, depth, utc_time
from tools.comms.errors import CommandError

FIFO_ATTRIBUTES = ("MessageGroupId", "MessageDeduplicationId")


class NotRedrivable(CommandError):
    """The queue holds no messages a queue could take back (the tenant-events stream failures)."""


@dataclass(frozen=True)
class Endpoints:
    """A DLQ and the queue it redrives to, as SQS names them (URLs for messages, ARNs for tasks)."""

    dlq_url: str
    dlq_arn: str
    queue_url: str
    queue_arn: str


def endpoints(sqs: Any, queue: DeadLetterQueue) -> Endpoints:
    if queue.source is None:
        raise NotRedrivable(
            f"{queue.name} holds pointers to conversations-stream records, not messages: find the "
            "conversations they cover and replay their events with `comms webhooks replay`"
        )
    dlq_url = sqs.get_queue_url(QueueName=queue.name)["QueueUrl"]
    queue_url = sqs.get_queue_url(QueueName=queue.source)["QueueUrl"]
    return Endpoints(dlq_url, _arn(sqs, dlq_url), queue_url, _arn(sqs, queue_url))


def _arn(sqs: Any, url: str) -> str:
    return str(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])


# -- against AWS: SQS's own move task ---------------------------------------------------------------


def start_move_task(sqs: Any, where: Endpoints) -> str:
    """SQS moves every message of the DLQ to its queue (those waiting when the task starts); returns
    the task handle (it cancels the task: ``aws sqs cancel-message-move-task``)."""
    started = sqs.start_message_move_task(SourceArn=where.dlq_arn, DestinationArn=where.queue_arn)
    return str(started["TaskHandle"])


def move_tasks(sqs: Any, dlq_arn: str) -> list[dict[str, Any]]:
    """The DLQ's recent move tasks, newest first, as an operator reads them."""
    results = sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=10).get("Results", [])
    return [
        {
            "status": task.get("Status"),
            "started_at": utc_time(task.get("StartedTimestamp")),
            "moved": task.get("ApproximateNumberOfMessagesMoved"),
            "to_move": task.get("ApproximateNumberOfMessagesToMove"),
            "destination": _queue_name(task.get("DestinationArn")),
            "failure_reason": task.get("FailureReason"),
            "task_handle": task.get("TaskHandle"),
        }
        for task in results
    ]


def _queue_name(arn: str | None) -> str | None:
    return arn.rsplit(":", 1)[-1] if arn else None


# -- against the emulator, or a partial redrive: receive and send ---------------------------------------


def move_by_hand(sqs: Any, where: Endpoints, *, limit: int | None, fifo: bool) -> int:
    """Up to ``limit`` of the messages waiting now (one that fails again, say a malformed body,
    must not go round and round); returns how many moved."""
    count, _in_flight = depth(sqs, where.dlq_url)
    return copy_messages(
        sqs,
        dlq_url=where.dlq_url,
        queue_url=where.queue_url,
        limit=count if limit is None else min(limit, count),
        fifo=fifo,
    )


def copy_messages(sqs: Any, *, dlq_url: str, queue_url: str, limit: int, fifo: bool = False) -> int:
    """Copy up to ``limit`` messages (body and attributes, without ``failure_reason``) to the queue,
    deleting each from the DLQ only after its copy is accepted. A FIFO letter keeps its group and
    deduplication id (received in group order, sent back in that order)."""
    moved = 0
    while moved < limit:
        messages = sqs.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=min(10, limit - moved),
            MessageAttributeNames=["All"],
            **({"MessageSystemAttributeNames": list(FIFO_ATTRIBUTES)} if fifo else {}),
            VisibilityTimeout=60,
            WaitTimeSeconds=1,
        ).get("Messages", [])
        if not messages:
            return moved
        for message in messages:
            attributes = {
                name: {key: value for key, value in attribute.items() if key in ("DataType", "StringValue")}
                for name, attribute in message.get("MessageAttributes", {}).items()
                if name != FAILURE_REASON
            }
            ordering = {name: message["Attributes"][name] for name in FIFO_ATTRIBUTES if fifo}
            sqs.send_message(QueueUrl=queue_url, MessageBody=message["Body"], MessageAttributes=attributes, **ordering)
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
            moved += 1
    return moved
