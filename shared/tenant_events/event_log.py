"""The webhook-events table: every event queued for a project's webhook, kept with the conversation.

One item per event, keyed ``conversation_id`` + ``<occurred_at>#<webhook id>`` so a conversation's
events read back in the order they happened (the replay tool re-queues them from here). The put
is conditional: a stream record processed twice writes its events once.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shared.models.tenant_events import WebhookEvent
from shared.processing.dynamodb_items import CONDITION_FAILED, error_code, store_error, to_item
from shared.processing.errors import RecordStoreUnavailable

QUEUED = "queued"  # the first ``delivery_state``; the sender moves it on


def event_key(event: WebhookEvent) -> str:
    return f"{event.timestamp}#{event.id}"


class WebhookEventLog:
    def __init__(self, client: Any, table_name: str):
        self._client = client
        self._table = table_name

    def add(self, event: WebhookEvent, *, expires_at: int, logged_at: str) -> bool:
        """Log the event; False when it is logged already (a stream record processed again)."""
        item = {
            "conversation_id": event.data.conversation_id,
            "event_key": event_key(event),
            "webhook_id": event.id,
            "event_type": event.type.value,
            "occurred_at": event.timestamp,
            "company_id": event.data.company_id,
            "project_id": event.data.project_id,
            # The body as it is sent, byte for byte: the signature is over it.
            "payload": event.model_dump_json(),
            "delivery_state": QUEUED,
            "logged_at": logged_at,
            "expires_at": expires_at,
        }
        try:
            self._client.put_item(
                TableName=self._table,
                Item=to_item(item),
                ConditionExpression="attribute_not_exists(event_key)",
            )
        except ClientError as error:
            if error_code(error) == CONDITION_FAILED:
                return False
            raise store_error(error, "logging the webhook event") from None
        except BotoCoreError as error:
            raise RecordStoreUnavailable(f"DynamoDB unreachable logging the event: {type(error).__name__}") from None
        return True
