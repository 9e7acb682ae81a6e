"""The environment's dead-letter queues: which there are, how deep, and a look at what they hold.

Every work queue has one (each channel's, the providers' events queue's, the tenant webhooks' FIFO
queue's), and the tenant-events function has its stream-failure DLQ, which holds pointers to
conversations-stream records (shard and sequence range), not messages a queue could take back.

SQS has no peek: ``peek`` receives messages (hidden for a short while, so the next receive moves on
to others) and makes them visible again at once. A look adds one to each message's receive count,
which no redrive policy reads in a DLQ. A FIFO DLQ hands out no more of a group while some of it is
hidden: a look shows the first messages of each group.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.channels import ALL_CHANNELS
from shared.log_masking import mask_text
from stacks.names import (
    EVENTS_QUEUE,
    TENANT_EVENTS,
    WEBHOOKS_QUEUE,
    dlq_name,
    fifo_dlq_name,
    fifo_queue_name,
    queue_name,
)

# The queues that are FIFO: their names end .fifo and each message names its group.
FIFO_QUEUES = (WEBHOOKS_QUEUE,)
# Long enough to receive a page of messages without meeting one twice; they are released at once,
# and come back by themselves this soon if the command dies first.
PEEK_VISIBILITY_SECONDS = 30
FAILURE_REASON = "failure_reason"  # the attribute the engine sets on a message it dead-letters


@dataclass(frozen=True)
class DeadLetterQueue:
    key: str  # what an operator types: whatsapp, sms, email, events, webhooks, tenant-events
    name: str
    source: str | None  # the queue its messages redrive to; None: not redrivable (stream pointers)
    fifo: bool = False


# What an operator types, in the order the flow meets them.
QUEUE_KEYS = (*(channel.value for channel in ALL_CHANNELS), EVENTS_QUEUE, WEBHOOKS_QUEUE, TENANT_EVENTS)


def dead_letter_queue(key: str, env: str) -> DeadLetterQueue:
    if key == TENANT_EVENTS:
        return DeadLetterQueue(key, dlq_name(key, env), None)
    if key in FIFO_QUEUES:
        return DeadLetterQueue(key, fifo_dlq_name(key, env), fifo_queue_name(key, env), fifo=True)
    return DeadLetterQueue(key, dlq_name(key, env), queue_name(key, env))


def dead_letter_queues(env: str) -> tuple[DeadLetterQueue, ...]:
    return tuple(dead_letter_queue(key, env) for key in QUEUE_KEYS)


def depth(sqs: Any, url: str) -> tuple[int, int]:
    """(waiting, in flight): the queue's approximate counts."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])


def peek(sqs: Any, url: str, limit: int | None = None) -> list[dict[str, Any]]:
    """Up to ``limit`` messages (all when None), left in the queue: received, then released."""
    received: dict[str, dict[str, Any]] = {}
    while limit is None or len(received) < limit:
        batch = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10 if limit is None else min(10, limit - len(received)),
            VisibilityTimeout=PEEK_VISIBILITY_SECONDS,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not batch:
            break
        received.update((message["MessageId"], message) for message in batch)
    messages = list(received.values())
    _release(sqs, url, messages)
    return messages


def _release(sqs: Any, url: str, messages: list[dict[str, Any]]) -> None:
    for start in range(0, len(messages), 10):
        entries = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
            for i, m in enumerate(messages[start : start + 10])
        ]
        sqs.change_message_visibility_batch(QueueUrl=url, Entries=entries)


# What a body may show of itself: ids and kinds, never an address field or a text. Values pass
# through ``mask_text`` too, except the conversation id: it ends with the company's own sender
# (``shared.identifiers.conversation_id``), never the person, and the runbook's next step is
# ``comms conversations show '<that id>'``, so it is shown whole (as ``conversations show`` shows it).
SUMMARY_FIELDS = (
    "kind",
    "type",
    "id",
    "provider",
    "channel",
    "company_id",
    "project_id",
    "request_id",
    "conversation_id",
)
SHOWN_WHOLE = frozenset({"conversation_id"})
# Where those ids sit in the engine's bodies: a context message's company_data/request_data, a
# wake-up's context, a tenant event's data. Provider payloads are not opened (they are the
# provider's form: addresses and texts).
NESTED_FIELDS = ("context", "company_data", "request_data", "data")


def letter(message: Mapping[str, Any]) -> dict[str, Any]:
    """One dead letter as an operator may see it: when it came, how often it was received, why it
    failed, and a masked summary of its body."""
    attributes = message.get("Attributes", {})
    reason = message.get("MessageAttributes", {}).get(FAILURE_REASON, {}).get("StringValue")
    group = attributes.get("MessageGroupId")
    return {
        "message_id": message["MessageId"],
        "sent_at": utc_time(attributes.get("SentTimestamp")),
        "receive_count": int(attributes.get("ApproximateReceiveCount", 0)),
        "failure_reason": mask_text(reason) if reason else None,
        "group": group,  # the conversation id (or its digest): see SUMMARY_FIELDS
        "summary": summarise(message.get("Body", "")),
    }


def summarise(body: str) -> dict[str, str]:
    try:
        parsed = json.loads(body)
    except ValueError:
        return {"body": f"not JSON ({len(body)} characters)"}
    if not isinstance(parsed, dict):
        return {"body": f"JSON {type(parsed).__name__}"}
    found: dict[str, str] = {}
    _collect(parsed, found)
    return found


def _collect(node: Mapping[str, Any], found: dict[str, str]) -> None:
    for name in SUMMARY_FIELDS:
        value = node.get(name)
        if name not in found and isinstance(value, str | int) and not isinstance(value, bool):
            found[name] = str(value) if name in SHOWN_WHOLE else mask_text(str(value))
    for name in NESTED_FIELDS:
        if isinstance(node.get(name), dict):
            _collect(node[name], found)


def utc_time(epoch_millis: int | str | None) -> str | None:
    """SQS's epoch milliseconds as ISO 8601 UTC (``2026-11-26T09:00:00Z``)."""
    if epoch_millis is None:
        return None
    return datetime.fromtimestamp(int(epoch_millis) / 1000, tz=UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
