"""Moves a channel's dead letters back to its queue once their cause is fixed:
``python -m tools.redrive --channel sms --env dev [--max 100]`` (``make redrive CHANNEL=sms``);
``--channel events`` for the webhooks' events queue; ``--channel webhooks`` for the tenant
webhooks' FIFO queue, each letter keeping its conversation's group and its deduplication id, so
the sender delivers a conversation's events in order again.

The processors resume each conversation from its record's last durable status, so a redriven
message never sends twice; the events processor applies an event only when it moves a status
forward, so a redriven event never moves one back. Uses the usual AWS credentials, or ``AWS_ENDPOINT_URL`` locally.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from shared.channels import Channel
from stacks.names import EVENTS_QUEUE, WEBHOOKS_QUEUE, dlq_name, fifo_dlq_name, fifo_queue_name, queue_name
from tools.aws_region import add_region_argument, session

FIFO_ATTRIBUTES = ("MessageGroupId", "MessageDeduplicationId")
# The queues that are FIFO: their names end .fifo and each message names its group.
FIFO_QUEUES = (WEBHOOKS_QUEUE,)


def queue_names(channel: str, env: str) -> tuple[str, str]:
    """(DLQ, queue) of a channel or named queue."""
    if channel in FIFO_QUEUES:
        return fifo_dlq_name(channel, env), fifo_queue_name(channel, env)
    return dlq_name(channel, env), queue_name(channel, env)


def redrive(sqs: Any, *, dlq_url: str, queue_url: str, limit: int, fifo: bool = False) -> int:
    """Copy up to ``limit`` messages (body and attributes) to the queue, deleting each from the
    DLQ only after its copy is accepted; returns how many moved. A FIFO letter keeps its group and
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
                if name != "failure_reason"
            }
            ordering = {name: message["Attributes"][name] for name in FIFO_ATTRIBUTES if fifo}
            sqs.send_message(QueueUrl=queue_url, MessageBody=message["Body"], MessageAttributes=attributes, **ordering)
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
            moved += 1
    return moved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.redrive", description=__doc__)
    parser.add_argument("--channel", required=True, choices=[*(c.value for c in Channel), EVENTS_QUEUE, WEBHOOKS_QUEUE])
    parser.add_argument("--env", default="dev")
    parser.add_argument("--max", type=int, default=100, help="at most this many messages (default 100)")
    add_region_argument(parser)
    args = parser.parse_args(argv)
    sqs = session(args.env, args.region).client("sqs")
    dlq, queue = queue_names(args.channel, args.env)
    dlq_url = sqs.get_queue_url(QueueName=dlq)["QueueUrl"]
    queue_url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    # Only the letters waiting now: one that fails again (a malformed body goes straight back)
    # must not be moved round and round until --max.
    waiting = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["ApproximateNumberOfMessages"])
    limit = min(args.max, int(waiting["Attributes"]["ApproximateNumberOfMessages"]))
    moved = redrive(sqs, dlq_url=dlq_url, queue_url=queue_url, limit=limit, fifo=args.channel in FIFO_QUEUES)
    print(f"moved {moved} message(s) from {dlq} to {queue}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
