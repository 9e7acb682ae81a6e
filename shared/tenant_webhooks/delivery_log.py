"""The webhook-events log item of an event (written by the tenant-events function when it queued
the event): each attempt updates its outcome, so an operator sees what the tenant was sent."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shared.log_masking import mask_text
from shared.models.tenant_events import WebhookEvent
from shared.tenant_events.event_log import event_key
from shared.tenant_webhooks.outcome import Outcome, Verdict


class DeliveryLog:
    def __init__(self, dynamodb: Any, table_name: str, logger: Any):
        self._dynamodb = dynamodb
        self._table_name = table_name
        self._logger = logger

    def record(self, event: WebhookEvent, outcome: Outcome, at: datetime) -> None:
        """Best effort: the delivery happened (or not) whatever the log says, and a failed write
        must not make the tenant receive the event again. Only an existing item is updated: an
        expired one is not re-created half-empty."""
        names = {"#state": "delivery_state", "#attempts": "attempts", "#at": "last_attempt_at"}
        values: dict[str, Any] = {
            ":state": {"S": outcome.verdict.value},
            ":one": {"N": "1"},
            ":at": {"S": at.isoformat()},
        }
        sets = ["#state = :state", "#at = :at"]
        removes = []
        if outcome.status is not None:
            names["#status"] = "last_status"
            values[":status"] = {"N": str(outcome.status)}
            sets.append("#status = :status")
        names["#reason"] = "failure_reason"
        if outcome.verdict in (Verdict.RETRY, Verdict.DEAD_LETTER):
            values[":reason"] = {"S": outcome.reason[:256]}
            sets.append("#reason = :reason")
        else:
            removes.append("#reason")
        expression = f"SET {', '.join(sets)} ADD #attempts :one"
        if removes:
            expression += f" REMOVE {', '.join(removes)}"
        try:
            self._dynamodb.update_item(
                TableName=self._table_name,
                Key={"conversation_id": {"S": event.data.conversation_id}, "event_key": {"S": event_key(event)}},
                UpdateExpression=expression,
                ConditionExpression="attribute_exists(event_key)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            self._logger.warning(
                "webhook delivery not recorded in the event log",
                extra={"why": code, "conversation_id": mask_text(event.data.conversation_id)},
            )
        except BotoCoreError as error:
            self._logger.warning("webhook delivery not recorded in the event log", extra={"why": type(error).__name__})
