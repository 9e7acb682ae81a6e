"""A conversation's tenant events (issue 13) re-sent to its project's webhook, as the operator's
answer to "we lost your events" or a receiver fixed after its retries ran out (``comms webhooks replay``).

Reads the events logged for the conversation (``webhook-events``, one Query of its partition, in
the order they happened); a replay puts each back on the webhooks FIFO queue in that order, in the
conversation's group, with the body as logged: the same ``webhook-id``, so a tenant that already
has one dedupes it. Each copy gets a new deduplication id, or SQS would drop a replay within five
minutes of the event's own send. The sender signs each anew with the project's current webhook
and secret.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError
from pydantic import ValidationError

from shared.models.tenant_events import WebhookEvent, WebhookEventType
from shared.tenant_events.event_queue import message_group_id
from tools.comms.errors import CommandError

# The log item's attributes (shared/tenant_events/event_log.py; the sender moves the state on).
BODY = "payload"
DELIVERY_STATE = "delivery_state"


class UnreadableLog(CommandError):
    """A logged item is not an event: a replay must not silently leave one out."""

    exit_code = 1


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
        raise CommandError(f"--since {text!r} is not an ISO 8601 time") from None
    if since.tzinfo is None:
        raise CommandError(f"--since {text!r} has no zone (add Z or an offset)")
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
        raise CommandError(f"--type {text!r} is not an event type ({known})") from None


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
                raise UnreadableLog(f"the logged event {item.get('event_key')!r} is not a valid event") from None
            if event_type is not None and event.type is not event_type:
                continue
            if since is not None and datetime.fromisoformat(event.timestamp.replace("Z", "+00:00")) < since:
                continue
            found.append(LoggedEvent(event, item[BODY], str(item.get(DELIVERY_STATE, "unknown"))))
        if "LastEvaluatedKey" not in page:
            return found
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


class ReplayStopped(CommandError):
    """The queue refused an event: those before it are queued, none after it (the order holds)."""

    exit_code = 1

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
