"""Re-sends a conversation's tenant events (issue 13) to its project's webhook, as the operator's
answer to "we lost your events" or a receiver fixed after its retries ran out:

    python -m tools.webhook_replay --conversation-id ID --env dev [--since ISO] [--type T] [--yes] [--json]

Reads the events logged for the conversation (``webhook-events``, one Query of its partition, in
the order they happened) and lists them (dry run by default); ``--yes`` puts each back on the
webhooks FIFO queue in that order, in the conversation's group, with the body as logged: the same
``webhook-id``, so a tenant that already has one dedupes it. Each copy gets a new deduplication id,
or SQS would drop a replay within five minutes of the event's own send. The sender signs each
anew with the project's current webhook and secret. Uses the usual AWS credentials (the table's
items, ``sqs:SendMessage`` on the queue), or ``AWS_ENDPOINT_URL`` for the local stack (``. .local/env``).
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from shared.models.tenant_events import WebhookEvent, WebhookEventType
from shared.tables import WEBHOOK_EVENTS
from shared.tenant_events.event_queue import message_group_id
from stacks.names import WEBHOOKS_QUEUE, fifo_queue_name, physical_name
from tools.aws_region import add_region_argument, session

# The log item's attributes (shared/tenant_events/event_log.py; the sender moves the state on).
BODY = "payload"
DELIVERY_STATE = "delivery_state"


class BadInput(ValueError):
    """An argument refused before anything is read."""


@dataclass(frozen=True)
class LoggedEvent:
    event: WebhookEvent
    body: str  # as logged, byte for byte: what the tenant was (or was to be) sent
    delivery_state: str

    def public(self) -> dict[str, str]:
        return {
            "type": self.event.type.value,
            "id": self.event.id,
            "timestamp": self.event.timestamp,
            "delivery_state": self.delivery_state,
        }


def parse_since(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        since = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadInput(f"--since {text!r} is not an ISO 8601 time") from None
    if since.tzinfo is None:
        raise BadInput(f"--since {text!r} has no zone (add Z or an offset)")
    return since


def parse_type(text: str | None) -> WebhookEventType | None:
    """``conversation.sent`` or just ``sent``."""
    if text is None:
        return None
    name = text if text.startswith("conversation.") else f"conversation.{text}"
    try:
        return WebhookEventType(name)
    except ValueError:
        known = ", ".join(t.value.removeprefix("conversation.") for t in WebhookEventType)
        raise BadInput(f"--type {text!r} is not an event type ({known})") from None


def logged_events(
    table: Any, conversation_id: str, *, since: datetime | None = None, event_type: WebhookEventType | None = None
) -> list[LoggedEvent]:
    """The conversation's logged events in the order they happened (the sort key starts with the
    time), those at or after ``since`` and of ``event_type`` when given. An item that is not a
    valid event is an error, not skipped: a replay must not silently leave one out."""
    found: list[LoggedEvent] = []
    query: dict[str, Any] = {
        "KeyConditionExpression": "conversation_id = :c",
        "ExpressionAttributeValues": {":c": conversation_id},
        "ConsistentRead": True,
    }
    while True:
        page = table.query(**query)
        for item in page.get("Items", []):
            try:
                event = WebhookEvent.model_validate_json(item[BODY])
            except (KeyError, TypeError, ValidationError):
                raise ValueError(f"the logged event {item.get('event_key')!r} is not a valid event") from None
            if event_type is not None and event.type is not event_type:
                continue
            if since is not None and datetime.fromisoformat(event.timestamp.replace("Z", "+00:00")) < since:
                continue
            found.append(LoggedEvent(event, item[BODY], str(item.get(DELIVERY_STATE, "unknown"))))
        if "LastEvaluatedKey" not in page:
            return found
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


class ReplayStopped(Exception):
    def __init__(self, sent: int, code: str):
        super().__init__(f"the queue refused an event ({code}) after {sent} were re-sent; the rest were not")


def replay(sqs: Any, queue_url: str, events: list[LoggedEvent]) -> None:
    """One message per event, in order, in the conversation's group; sent one at a time so a
    failure leaves the earlier ones queued and the later ones not (the order holds)."""
    run = uuid.uuid4().hex[:12]
    for sent, logged in enumerate(events):
        try:
            sqs.send_message(
                QueueUrl=queue_url,
                MessageBody=logged.body,
                MessageGroupId=message_group_id(logged.event.data.conversation_id),
                MessageDeduplicationId=f"{logged.event.id}-replay-{run}",
            )
        except ClientError as error:
            raise ReplayStopped(sent, error.response["Error"]["Code"]) from None


def render(events: list[LoggedEvent]) -> str:
    return "\n".join(f"{e.event.timestamp}  {e.event.type.value:<28} {e.event.id}  {e.delivery_state}" for e in events)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.webhook_replay", description=__doc__)
    parser.add_argument("--conversation-id", required=True)
    parser.add_argument("--env", required=True, choices=("dev", "prod"))
    parser.add_argument("--since", help="only events at or after this time (ISO 8601 with a zone)")
    parser.add_argument("--type", help="only events of this type (e.g. sent or conversation.sent)")
    parser.add_argument("--yes", action="store_true", help="re-send them (without it: only list them)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    add_region_argument(parser)
    args = parser.parse_args(argv)
    try:
        since, event_type = parse_since(args.since), parse_type(args.type)
        if not args.conversation_id.strip():
            raise BadInput("--conversation-id is empty")
    except BadInput as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    aws = session(args.env, args.region)
    table_name = physical_name(WEBHOOK_EVENTS.logical_name, args.env)
    queue = fifo_queue_name(WEBHOOKS_QUEUE, args.env)
    try:
        table = aws.resource("dynamodb").Table(table_name)
        events = logged_events(table, args.conversation_id, since=since, event_type=event_type)
        if events and args.yes:
            sqs = aws.client("sqs")
            replay(sqs, sqs.get_queue_url(QueueName=queue)["QueueUrl"], events)
    except (ValueError, ReplayStopped) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except (ClientError, BotoCoreError) as error:
        code = error.response["Error"]["Code"] if isinstance(error, ClientError) else type(error).__name__
        print(f"error: the webhook events of {args.env} could not be read or queued: {code}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"replayed": bool(events and args.yes), "events": [e.public() for e in events]}, indent=2))
    elif not events:
        print(f"no logged events for {args.conversation_id} in {table_name}")
    else:
        print(render(events))
        if args.yes:
            print(f"re-sent {len(events)} event(s) to {queue}, in this order")
        else:
            print(f"dry run: {len(events)} event(s) would be re-sent to {queue}; add --yes to send them")
    return 0 if events else 1


if __name__ == "__main__":
    sys.exit(main())
