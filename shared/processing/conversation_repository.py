"""The conversations table as the processors use it: an idempotent claim and conditional transitions.

Every status write names the statuses it may leave (``shared.models.conversation.TRANSITIONS``), so
of two deliveries racing on one conversation exactly one moves it on; the other gets
``RecordConflict``.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel

from shared.models.conversation import ConversationRecord, ConversationStatus, MessageEntry, sources_of
from shared.processing.errors import RecordConflict, RecordStoreUnavailable

_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()
# Codes that say "not now"; anything else (a missing table, a malformed request) is a bug to surface.
_TRANSIENT_CODES = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionConflictException",
}


@dataclass(frozen=True)
class ConversationKey:
    primary_channel: str
    conversation_id: str

    def item_key(self) -> dict[str, Any]:
        return {
            "primary_channel": {"S": self.primary_channel},
            "conversation_id": {"S": self.conversation_id},
        }


def key_of(record: ConversationRecord) -> ConversationKey:
    return ConversationKey(record.primary_channel, record.conversation_id)


class ConversationRepository:
    def __init__(self, client: Any, table_name: str):
        self._client = client
        self._table = table_name

    def claim(self, record: ConversationRecord) -> tuple[ConversationRecord, bool]:
        """Create the record, or return the one a previous delivery created; ``True`` when created."""
        try:
            self._client.put_item(
                TableName=self._table,
                Item=_to_item(record.model_dump(mode="python", exclude_none=True)),
                ConditionExpression="attribute_not_exists(primary_channel)",
            )
            return record, True
        except ClientError as error:
            if _code(error) != "ConditionalCheckFailedException":
                raise _store_error(error, "creating the record") from None
        except BotoCoreError as error:
            raise RecordStoreUnavailable(f"DynamoDB unreachable creating the record: {type(error).__name__}") from None
        existing = self.get(key_of(record))
        if existing is None:  # deleted between the put and the read: let SQS bring the message back
            raise RecordStoreUnavailable("The record vanished right after a conflicting create")
        return existing, False

    def get(self, key: ConversationKey) -> ConversationRecord | None:
        try:
            item = self._client.get_item(TableName=self._table, Key=key.item_key(), ConsistentRead=True).get("Item")
        except ClientError as error:
            raise _store_error(error, "reading the record") from None
        except BotoCoreError as error:
            raise RecordStoreUnavailable(f"DynamoDB unreachable reading the record: {type(error).__name__}") from None
        return None if item is None else ConversationRecord.model_validate(_from_item(item))

    def transition(
        self,
        key: ConversationKey,
        to: ConversationStatus,
        *,
        now: str,
        fields: dict[str, Any] | None = None,
        append: MessageEntry | None = None,
        expect: dict[str, Any] | None = None,
    ) -> ConversationRecord:
        """Move the record to ``to`` from one of its allowed sources; ``None`` field values are removed.

        ``expect`` adds equality conditions (e.g. the ``send_started_at`` a resend replaces).
        """
        names: dict[str, str] = {"#status": "conversation_status", "#updated": "updated_at"}
        values: dict[str, Any] = {":to": to.value, ":now": now}
        sets = ["#status = :to", "#updated = :now"]
        removes: list[str] = []
        for index, (name, value) in enumerate((fields or {}).items()):
            names[f"#f{index}"] = name
            if value is None:
                removes.append(f"#f{index}")
            else:
                values[f":f{index}"] = value
                sets.append(f"#f{index} = :f{index}")
        if append is not None:
            names["#messages"] = "messages"
            values[":message"] = [append.model_dump(mode="python")]
            values[":none"] = []
            sets.append("#messages = list_append(if_not_exists(#messages, :none), :message)")
        sources = sorted(sources_of(to))
        source_names = []
        for index, source in enumerate(sources):
            values[f":s{index}"] = source.value
            source_names.append(f":s{index}")
        conditions = [f"#status IN ({', '.join(source_names)})"]
        for index, (name, value) in enumerate((expect or {}).items()):
            names[f"#e{index}"] = name
            values[f":e{index}"] = value
            conditions.append(f"#e{index} = :e{index}")
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        try:
            item = self._client.update_item(
                TableName=self._table,
                Key=key.item_key(),
                UpdateExpression=expression,
                ConditionExpression=" AND ".join(conditions),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=_to_item(values),
                ReturnValues="ALL_NEW",
            )["Attributes"]
        except ClientError as error:
            if _code(error) == "ConditionalCheckFailedException":
                return self._already_written(key, to, now, sources)
            raise _store_error(error, f"writing {to}") from None
        except BotoCoreError as error:
            raise RecordStoreUnavailable(f"DynamoDB unreachable writing {to}: {type(error).__name__}") from None
        return ConversationRecord.model_validate(_from_item(item))

    def _already_written(
        self, key: ConversationKey, to: ConversationStatus, now: str, sources: list[ConversationStatus]
    ) -> ConversationRecord:
        """A failed condition is our own write when the SDK retried a call whose answer was lost:
        the record then holds this very transition (same status, same ``updated_at``)."""
        current = self.get(key)
        if current is not None and current.conversation_status is to and current.updated_at == now:
            return current
        allowed = ", ".join(s.value for s in sources)
        raise RecordConflict(f"The record is no longer in {allowed}; another delivery moved it on")

    def provider_ids_of_other_conversations(self, key: ConversationKey) -> set[str]:
        """Provider message ids already recorded by the recipient's other conversations."""
        ids: set[str] = set()
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "primary_channel = :recipient",
            "FilterExpression": "attribute_exists(provider_message_id) AND conversation_id <> :own",
            "ProjectionExpression": "provider_message_id",
            "ExpressionAttributeValues": _to_item({":recipient": key.primary_channel, ":own": key.conversation_id}),
        }
        try:
            while True:
                page = self._client.query(**request)
                ids.update(item["provider_message_id"]["S"] for item in page.get("Items", []))
                if "LastEvaluatedKey" not in page:
                    return ids
                request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        except ClientError as error:
            raise _store_error(error, "reading the recipient's conversations") from None
        except BotoCoreError as error:
            raise RecordStoreUnavailable(f"DynamoDB unreachable: {type(error).__name__}") from None

    def note_error(self, key: ConversationKey, reason: str, *, now: str) -> None:
        """Remember why the last attempt failed, without changing the status (best effort)."""
        # The failure itself is what matters; the retry does not depend on this note.
        with contextlib.suppress(ClientError, BotoCoreError):
            self._client.update_item(
                TableName=self._table,
                Key=key.item_key(),
                UpdateExpression="SET last_error = :reason, updated_at = :now",
                ConditionExpression="attribute_exists(primary_channel)",
                ExpressionAttributeValues=_to_item({":reason": reason, ":now": now}),
            )


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _store_error(error: ClientError, doing: str) -> Exception:
    code = _code(error)
    if code in _TRANSIENT_CODES:
        return RecordStoreUnavailable(f"DynamoDB failed {doing}: {code}")
    return error


def _to_item(values: dict[str, Any]) -> dict[str, Any]:
    return {name: _SERIALIZER.serialize(_plain(value)) for name, value in values.items()}


def _plain(value: Any) -> Any:
    """Plain DynamoDB values: models as maps, enums as strings, floats as exact decimals."""
    if isinstance(value, BaseModel):
        return _plain(value.model_dump(mode="python", exclude_none=True))
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "value") and isinstance(getattr(value, "value", None), str):
        return value.value
    return value


def _from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _DESERIALIZER.deserialize(value) for name, value in item.items()}
