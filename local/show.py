"""See what the local stack did: ``python -m local.show [conversations|conversation ID|outbox|dlq]``.

Reads ``.local/env`` (written by ``make local``) and talks to the emulator and sandboxes over HTTP.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.request
from pathlib import Path
from typing import Any

import boto3
from boto3.dynamodb.conditions import Attr

from local.env_file import read_env_file
from shared import json_codec
from shared.channels import ALL_CHANNELS
from stacks.names import dlq_name, physical_name

ENV_FILE = Path(__file__).resolve().parent.parent / ".local" / "env"


def read_env(path: Path = ENV_FILE) -> dict[str, str]:
    if not path.exists():
        sys.exit(f"{path} not found: start the local stack first (make local)")
    return read_env_file(path)


def _client(env: dict[str, str], service: str, *, resource: bool = False) -> Any:
    factory = boto3.resource if resource else boto3.client
    return factory(
        service,
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_REGION"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def conversations(env: dict[str, str]) -> list[dict[str, Any]]:
    table = _client(env, "dynamodb", resource=True).Table(physical_name("conversations", env["ENVIRONMENT"]))
    items = table.scan()["Items"]
    return sorted(items, key=lambda item: item.get("created_at", ""))


def conversation(env: dict[str, str], conversation_id: str) -> dict[str, Any] | None:
    table = _client(env, "dynamodb", resource=True).Table(physical_name("conversations", env["ENVIRONMENT"]))
    items = table.scan(FilterExpression=Attr("conversation_id").eq(conversation_id))["Items"]
    return items[0] if items else None


def outbox(env: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    boxes = {}
    for name in ("TWILIO_SANDBOX_URL", "SENDGRID_SANDBOX_URL"):
        if name in env:
            with urllib.request.urlopen(f"{env[name]}/_sandbox/outbox", timeout=10) as response:
                boxes[name.split("_")[0].lower()] = json.loads(response.read())
    return boxes


def dead_letters(env: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    sqs = _client(env, "sqs")
    letters: dict[str, list[dict[str, Any]]] = {}
    for channel in ALL_CHANNELS:
        url = sqs.get_queue_url(QueueName=dlq_name(channel.value, env["ENVIRONMENT"]))["QueueUrl"]
        # Peek without consuming: received messages become visible again straight away.
        messages = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0, AttributeNames=["All"]
        ).get("Messages", [])
        letters[channel.value] = [
            {"message_id": m["MessageId"], "receive_count": m["Attributes"].get("ApproximateReceiveCount"),
             "body": json.loads(m["Body"])}
            for m in messages
        ]  # fmt: skip
    return letters


def _summary(item: dict[str, Any]) -> str:
    return (
        f"{item.get('created_at', ''):<27} {item.get('channel_method', ''):<9} "
        f"{item.get('conversation_status', ''):<22} {item['conversation_id']}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.show", description=__doc__)
    parser.add_argument(
        "what", nargs="?", default="all", choices=["all", "conversations", "conversation", "outbox", "dlq"]
    )
    parser.add_argument("conversation_id", nargs="?")
    parser.add_argument("--env-file", type=Path, default=ENV_FILE)
    args = parser.parse_args(argv)
    env = read_env(args.env_file)
    if args.what == "conversation":
        if not args.conversation_id:
            parser.error("conversation needs a conversation id")
        item = conversation(env, args.conversation_id)
        if item is None:
            print(f"no conversation {args.conversation_id}", file=sys.stderr)
            return 1
        print(json.dumps(json.loads(json_codec.dumps(item)), indent=2))
        return 0
    if args.what in ("all", "conversations"):
        print("Conversations:")
        for item in conversations(env):
            print("  " + _summary(item))
    if args.what in ("all", "outbox"):
        print("Sandbox outbox:")
        print(json.dumps(outbox(env), indent=2))
    if args.what in ("all", "dlq"):
        print("Dead-letter queues:")
        print(json.dumps(dead_letters(env), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
