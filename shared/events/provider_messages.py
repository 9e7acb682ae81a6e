"""The provider-messages table: one item per send (``<provider>#<message id>``) holding its
conversation, its tenant and its own delivery status; and the events that matched no message
(``unmatched#…``), and the person's messages no open conversation took (``unmatched#<provider>#inbound#…``),
kept 30 days for inspection.

Every write is one conditional request: the send's item is created once and never reset, and an
event is applied only to a message of the event's tenant, at most once, and only forward.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shared.events.delivery_state import DeliveryState
from shared.events.delivery_status import is_failure, rank_of
from shared.events.envelope import ProviderEvent
from shared.events.status_updates import StatusUpdate, UpdateKind
from shared.processing.dynamodb_items import CONDITION_FAILED, error_code, from_item, old_item, store_error, to_item
from shared.processing.errors import RecordStoreUnavailable

MESSAGE = "message"
UNMATCHED = "unmatched"
# The ``status`` of an unmatched item that is the person's message, not a status event.
INBOUND = "inbound"
# Long enough to find out why a tenant's events went nowhere; short enough that forged or stray
# events do not pile up.
UNMATCHED_RETENTION = timedelta(days=30)
_ENGAGEMENT_ATTRIBUTES = {"open": ("open_count", "first_opened_at"), "click": ("click_count", "first_clicked_at")}


def message_key(provider: str, provider_message_id: str) -> str:
    return f"{provider}#{provider_message_id}"


@dataclass(frozen=True)
class SentMessage:
    """What the channel pipeline knows of a send the provider accepted."""

    provider: str
    provider_message_id: str
    channel: str
    company_id: str
    project_id: str
    primary_channel: str
    conversation_id: str
    sent_at: str
    # The provider's answer to the send (Twilio ``queued``); None when it gave none (SendGrid's 202).
    delivery_status: str | None
    # The conversation record's ``expires_at`` when it sent (retention, issue 12): the item names
    # the person's address and goes with the record. None: a record from before retention.
    expires_at: int | None


class Match(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"  # seen already, or not forward: nothing written
    MISSING = "missing"  # no message has that id (yet)
    OTHER_TENANT = "other_tenant"  # the message is another company's or project's
    OTHER_CONVERSATION = "other_conversation"  # the event's custom_args name another conversation


@dataclass(frozen=True)
class Applied:
    match: Match
    item: dict[str, Any] | None = None  # the message's item after the event (or as found, when not applied)


class ProviderMessages:
    def __init__(self, client: Any, table_name: str):
        self._client = client
        self._table = table_name

    def record_send(self, sent: SentMessage) -> DeliveryState:
        """Create the send's item, once: a redelivery's re-put must not reset what events already
        moved. Returns the message's delivery state as the item holds it after the call."""
        rank = rank_of(sent.delivery_status) if sent.delivery_status else None
        item: dict[str, Any] = {
            "provider_message_key": message_key(sent.provider, sent.provider_message_id),
            "item_type": MESSAGE,
            "provider": sent.provider,
            "provider_message_id": sent.provider_message_id,
            "channel": sent.channel,
            "company_id": sent.company_id,
            "project_id": sent.project_id,
            "primary_channel": sent.primary_channel,
            "conversation_id": sent.conversation_id,
            "sent_at": sent.sent_at,
        }
        if sent.expires_at is not None:
            item["expires_at"] = sent.expires_at
        if rank is not None:
            item |= {
                "delivery_status": sent.delivery_status,
                "delivery_rank": rank,
                "delivery_updated_at": sent.sent_at,
            }
        try:
            self._client.put_item(
                TableName=self._table,
                Item=to_item(item),
                ConditionExpression="attribute_not_exists(provider_message_key)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if error_code(error) != CONDITION_FAILED:
                raise store_error(error, "recording the send") from None
            existing = old_item(error)
            if existing is not None and existing.get("conversation_id") == sent.conversation_id:
                return DeliveryState.of(existing)
        except BotoCoreError as error:
            raise RecordStoreUnavailable(f"DynamoDB unreachable recording the send: {type(error).__name__}") from None
        return DeliveryState.of(item)

    def delivery_of(self, provider: str, provider_message_id: str) -> DeliveryState | None:
        """The message's delivery state as its item holds it now; None when it has no item."""
        try:
            item = self._client.get_item(
                TableName=self._table,
                Key={"provider_message_key": {"S": message_key(provider, provider_message_id)}},
                ConsistentRead=True,
            ).get("Item")
        except ClientError as error:
            raise store_error(error, "reading the message") from None
        except BotoCoreError as error:
            raise RecordStoreUnavailable(f"DynamoDB unreachable reading the message: {type(error).__name__}") from None
        return None if item is None else DeliveryState.of(from_item(item))

    def apply(self, update: StatusUpdate, *, company_id: str, project_id: str, at: str) -> Applied:
        """Apply the event to its message in one conditional update: the message exists and is the
        tenant's (and the custom_args' conversation's), the event was not seen, a status moves forward."""
        assert update.provider_message_id is not None
        names = {"#seen": "seen_event_ids"}
        values: dict[str, Any] = {
            ":message": MESSAGE,
            ":company": company_id,
            ":project": project_id,
            ":id": update.event_id,
            ":ids": {update.event_id},
        }
        conditions = [
            "item_type = :message",
            "company_id = :company",
            "project_id = :project",
            "NOT contains(#seen, :id)",
        ]
        if update.conversation_id is not None:
            conditions.append("conversation_id = :conversation")
            values[":conversation"] = update.conversation_id
        sets, removes, adds = _changes(update, at, names, values, conditions)
        adds.append("#seen :ids")
        expression = " ".join(
            part
            for part in (
                "SET " + ", ".join(sets) if sets else "",
                "REMOVE " + ", ".join(removes) if removes else "",
                "ADD " + ", ".join(adds),
            )
            if part
        )
        try:
            item = self._client.update_item(
                TableName=self._table,
                Key={"provider_message_key": {"S": update.message_key}},
                UpdateExpression=expression,
                ConditionExpression=" AND ".join(conditions),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=to_item(values),
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )["Attributes"]
        except ClientError as error:
            if error_code(error) != CONDITION_FAILED:
                raise store_error(error, "applying the event") from None
            return _why_not(old_item(error), company_id, project_id, update.conversation_id)
        except BotoCoreError as error:
            raise RecordStoreUnavailable(f"DynamoDB unreachable applying the event: {type(error).__name__}") from None
        return Applied(Match.APPLIED, from_item(item))

    def keep_unmatched(self, update: StatusUpdate, event: ProviderEvent, *, reason: str, now: datetime) -> str:
        """Keep an event no message of its tenant has, for inspection; returns its key."""
        key = f"{UNMATCHED}#{update.provider.value}#{update.provider_message_id or '-'}#{update.event_id}"
        self._keep(
            key, event, reason=reason, now=now, provider_message_id=update.provider_message_id, status=update.status
        )
        return key

    def keep_unmatched_inbound(self, event: ProviderEvent, inbound_id: str, *, reason: str, now: datetime) -> str:
        """Keep the person's message that no open conversation of its tenant takes; returns its key.
        The payload may hold the message's text: the tenant's data, like the record's history."""
        key = f"{UNMATCHED}#{event.provider.value}#inbound#{inbound_id}"
        self._keep(key, event, reason=reason, now=now, provider_message_id=inbound_id, status=INBOUND)
        return key

    def _keep(
        self,
        key: str,
        event: ProviderEvent,
        *,
        reason: str,
        now: datetime,
        provider_message_id: str | None,
        status: str,
    ) -> None:
        item = {
            "provider_message_key": key,
            "item_type": UNMATCHED,
            "provider": event.provider.value,
            "provider_message_id": provider_message_id,
            "status": status,
            "company_id": event.company_id,
            "project_id": event.project_id,
            "received_at": event.received_at.isoformat(),
            "reason": reason,
            # As sent: a provider's keys need not be valid DynamoDB map keys.
            "payload": json.dumps(event.payload, sort_keys=True, default=str),
            "expires_at": int((now + UNMATCHED_RETENTION).timestamp()),
        }
        try:
            self._client.put_item(TableName=self._table, Item=to_item(item))
        except ClientError as error:
            raise store_error(error, "keeping the unmatched event") from None
        except BotoCoreError as error:
            raise RecordStoreUnavailable(f"DynamoDB unreachable keeping the event: {type(error).__name__}") from None


def _changes(
    update: StatusUpdate, at: str, names: dict[str, str], values: dict[str, Any], conditions: list[str]
) -> tuple[list[str], list[str], list[str]]:
    """The SET, REMOVE and ADD clauses of one update kind (and its extra conditions)."""
    if update.kind is UpdateKind.DELIVERY:
        conditions.append("(attribute_not_exists(delivery_rank) OR delivery_rank < :rank)")
        values |= {":status": update.status, ":rank": update.rank, ":at": at}
        sets = ["delivery_status = :status", "delivery_rank = :rank", "delivery_updated_at = :at"]
        removes = []
        # A delivery reported after a failure supersedes it: the failure's code and reason go with it.
        failure = is_failure(update.status)
        for name, value in (("delivery_error_code", update.error_code), ("delivery_error_reason", update.error_reason)):
            if failure and value is not None:
                values[f":{name}"] = value[:500]
                sets.append(f"{name} = :{name}")
            else:
                removes.append(name)
        return sets, removes, []
    if update.kind is UpdateKind.ENGAGEMENT:
        count, first = _ENGAGEMENT_ATTRIBUTES[update.status]
        values |= {":at": at, ":one": 1}
        return [f"{first} = if_not_exists({first}, :at)"], [], [f"{count} :one"]
    # Seen, for the issues that act on them (unsubscribe, spam report): never a delivery status.
    names["#other"] = "other_events"
    values[":other"] = {update.status}
    return [], [], ["#other :other"]


def _why_not(item: dict[str, Any] | None, company_id: str, project_id: str, conversation_id: str | None) -> Applied:
    if item is None or item.get("item_type") != MESSAGE:
        return Applied(Match.MISSING)
    if (item.get("company_id"), item.get("project_id")) != (company_id, project_id):
        return Applied(Match.OTHER_TENANT)  # nothing of the item goes back to the caller
    if conversation_id is not None and item.get("conversation_id") != conversation_id:
        return Applied(Match.OTHER_CONVERSATION)
    return Applied(Match.DUPLICATE, item)
