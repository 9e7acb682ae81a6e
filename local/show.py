"""See what the local stack did: ``python -m local.show [conversations|outbox|dlq]``.

One conversation and its thread are ``comms conversations show ID --env local`` (what ``make show
WHAT=conversation CONVERSATION=ID`` runs): the operator's one view of a conversation.

Each conversation shows its processing status and, beside it, its delivery status as the
providers' webhooks reported it (with the provider's error code and reason on a failure); events
no message of their tenant matched are counted.

Reads ``.local/env`` (written by ``make local``) and talks to the emulator and sandboxes over HTTP.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
from boto3.dynamodb.conditions import Attr

from local.env_file import read_env_file
from shared.tables import PROVIDER_MESSAGES
from stacks.names import TENANT_EVENTS, physical_name
from tools.comms.dead_letters import dead_letter_queues, peek

ENV_FILE = Path(__file__).resolve().parent.parent / ".local" / "env"


def read_env(path: Path = ENV_FILE) -> dict[str, str]:
    if not path.exists():
        sys.exit(f"{path} not found: start the local stack first (make local)")
    return read_env_file(path)


def aws_client(env: dict[str, str], service: str, *, resource: bool = False) -> Any:
    factory = boto3.resource if resource else boto3.client
    return factory(
        service,
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_REGION"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _conversations_table(env: dict[str, str]) -> Any:
    return aws_client(env, "dynamodb", resource=True).Table(physical_name("conversations", env["ENVIRONMENT"]))


def _scan_pages(table: Any, **request: Any) -> Iterator[dict[str, Any]]:
    """Every page of a scan: DynamoDB stops each at 1 MB read and says where to go on."""
    while True:
        page = table.scan(**request)
        yield page
        if "LastEvaluatedKey" not in page:
            return
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


SUMMARY_FIELDS = (
    "primary_channel, conversation_id, created_at, channel_method, conversation_status, "
    "delivery_status, delivery_error_code, delivery_error_reason"
)


def conversations(env: dict[str, str]) -> list[dict[str, Any]]:
    """Every conversation (the fields of the summary line), oldest first."""
    pages = _scan_pages(_conversations_table(env), ProjectionExpression=SUMMARY_FIELDS)
    return sorted((item for page in pages for item in page["Items"]), key=lambda item: item.get("created_at", ""))


def conversation(env: dict[str, str], conversation_id: str) -> dict[str, Any] | None:
    return find_conversation(_conversations_table(env), conversation_id)


def find_conversation(table: Any, conversation_id: str) -> dict[str, Any] | None:
    """One record in full. No index is keyed by conversation id alone: scan until it is found."""
    pages = _scan_pages(table, FilterExpression=Attr("conversation_id").eq(conversation_id))
    return next((item for page in pages for item in page["Items"]), None)


def unmatched_events(env: dict[str, str]) -> int:
    """How many provider events named a message their tenant does not have (kept for inspection
    as ``unmatched#…`` items of the provider-messages table until their TTL)."""
    table = aws_client(env, "dynamodb", resource=True).Table(
        physical_name(PROVIDER_MESSAGES.logical_name, env["ENVIRONMENT"])
    )
    pages = _scan_pages(table, FilterExpression=Attr("provider_message_key").begins_with("unmatched#"), Select="COUNT")
    return sum(page["Count"] for page in pages)


def outbox(env: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    boxes = {}
    for name in ("TWILIO_SANDBOX_URL", "SENDGRID_SANDBOX_URL"):
        if name in env:
            with urllib.request.urlopen(f"{env[name]}/_sandbox/outbox", timeout=10) as response:
                boxes[name.split("_")[0].lower()] = json.loads(response.read())
    return boxes


def dead_letters(env: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    """Every message of each DLQ the local stack has (the channels', the events queue's, the tenant
    webhooks'), left where it was (``tools.comms.dead_letters.peek``: a FIFO DLQ shows the first
    messages of each group). The local stack logs the tenant-events stream failures instead of
    queueing them: it has no such DLQ."""
    sqs = aws_client(env, "sqs")
    letters: dict[str, list[dict[str, Any]]] = {}
    for queue in dead_letter_queues(env["ENVIRONMENT"]):
        if queue.key == TENANT_EVENTS:
            continue
        messages = peek(sqs, sqs.get_queue_url(QueueName=queue.name)["QueueUrl"])
        letters[queue.key] = [
            {"message_id": m["MessageId"], "receive_count": m["Attributes"].get("ApproximateReceiveCount"),
             "body": json.loads(m["Body"])}
            for m in messages
        ]  # fmt: skip
    return letters


def _delivery(item: dict[str, Any]) -> str:
    """The delivery status, with the provider's error code and reason when it failed; "-" before
    any webhook arrived."""
    status = item.get("delivery_status") or "-"
    error = " ".join(str(item[name]) for name in ("delivery_error_code", "delivery_error_reason") if item.get(name))
    return f"{status} ({error})" if error else status


def _summary(item: dict[str, Any]) -> str:
    return (
        f"{item.get('created_at', ''):<27} {item.get('channel_method', ''):<9} "
        f"{item.get('conversation_status', ''):<22} {_delivery(item):<12} {item['conversation_id']}"
    )


SUMMARY_HEADER = f"{'created':<27} {'channel':<9} {'processing status':<22} {'delivery':<12} conversation"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.show", description=__doc__)
    parser.add_argument("what", nargs="?", default="all", choices=["all", "conversations", "outbox", "dlq"])
    parser.add_argument("--env-file", type=Path, default=ENV_FILE)
    args = parser.parse_args(argv)
    env = read_env(args.env_file)
    if args.what in ("all", "conversations"):
        listed = conversations(env)
        print(f"Conversations ({len(listed)}):")
        if listed:
            print("  " + SUMMARY_HEADER)
        for item in listed:
            print("  " + _summary(item))
        print(f"Unmatched provider events: {unmatched_events(env)}")
    if args.what in ("all", "outbox"):
        print("Sandbox outbox:")
        print(json.dumps(outbox(env), indent=2))
    if args.what in ("all", "dlq"):
        print("Dead-letter queues:")
        print(json.dumps(dead_letters(env), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
