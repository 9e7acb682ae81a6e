"""The conversations table as the processors use it: an idempotent create and exclusive transitions.

Every status write follows the state machine (``shared.models.conversation.TRANSITIONS``) and
expects the exact status and version its delivery read, so of two deliveries racing on one
conversation exactly one moves it on; the other gets ``RecordConflict``.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shared.events.delivery_state import DeliveryState
from shared.models.conversation import ConversationRecord, ConversationStatus, MessageEntry, may_move
from shared.processing.dynamodb_items import CONDITION_FAILED, error_code, from_item, old_item, store_error, to_item
from shared.processing.errors import RecordConflict, RecordStoreUnavailable


class DeliveryWrite(StrEnum):
    APPLIED = "applied"
    CURRENT = "current"  # the record already shows this state or a later one
    # The record does not name the message yet: its send is being recorded (or was given up as
    # unconfirmed and may still be recorded); the message's item holds the state meanwhile.
    PENDING = "pending"
    OTHER_MESSAGE = "other_message"  # the record names another message: the item alone holds this one
    MISSING = "missing"  # no such record of that tenant


# Where a send may still come to name its message on the record.
_SEND_IN_FLIGHT = {
    ConversationStatus.PROCESSING.value,
    ConversationStatus.AI_GENERATED.value,
    ConversationStatus.SENDING.value,
    ConversationStatus.SEND_UNCONFIRMED.value,
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


class Claim:
    """One delivery's hold on a record: the version it last read or wrote, and its own token.

    Every write of the delivery goes through ``move``, so each expects what this delivery last saw.
    """

    def __init__(self, repository: ConversationRepository, token: str):
        self.repository = repository
        self.token = token
        self.record: ConversationRecord | None = None

    def move(
        self,
        to: ConversationStatus,
        *,
        now: str,
        fields: dict[str, Any] | None = None,
        append: MessageEntry | None = None,
    ) -> ConversationRecord:
        if self.record is None:
            raise RecordConflict("No record was claimed")
        self.record = self.repository.transition(
            self.record, to, token=self.token, now=now, fields=fields, append=append
        )
        return self.record


class ConversationRepository:
    def __init__(self, client: Any, table_name: str):
        self._client = client
        self._table = table_name

    def claim(self, record: ConversationRecord) -> tuple[ConversationRecord, bool]:
        """Create the record, or return the one a previous delivery created; ``True`` when created
        (also when this very create was retried by the SDK after its answer was lost)."""
        try:
            self._client.put_item(
                TableName=self._table,
                Item=to_item(record.model_dump(mode="python", exclude_none=True)),
                ConditionExpression="attribute_not_exists(primary_channel)",
                # The record that is already there comes back with the failure: no second read.
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            return record, True
        except ClientError as error:
            if error_code(error) != CONDITION_FAILED:
                raise store_error(error, "creating the record") from None
            existing = _item_of(error) or self.get(key_of(record))
        except BotoCoreError as error:
            raise RecordStoreUnavailable(f"DynamoDB unreachable creating the record: {type(error).__name__}") from None
        if existing is None:  # deleted between the put and the read: let SQS bring the message back
            raise RecordStoreUnavailable("The record vanished right after a conflicting create")
        ours = record.written_by is not None and (existing.version, existing.written_by) == (
            record.version,
            record.written_by,
        )
        return existing, ours

    def get(self, key: ConversationKey) -> ConversationRecord | None:
        try:
            item = self._client.get_item(TableName=self._table, Key=key.item_key(), ConsistentRead=True).get("Item")
        except ClientError as error:
            raise store_error(error, "reading the record") from None
        except BotoCoreError as error:
            raise RecordStoreUnavailable(f"DynamoDB unreachable reading the record: {type(error).__name__}") from None
        return None if item is None else ConversationRecord.model_validate(from_item(item))

    def transition(
        self,
        record: ConversationRecord,
        to: ConversationStatus,
        *,
        token: str,
        now: str,
        fields: dict[str, Any] | None = None,
        append: MessageEntry | None = None,
    ) -> ConversationRecord:
        """Move ``record`` to ``to`` if nobody wrote it since it was read; ``None`` field values are removed.

        The write expects the exact status and ``version`` of ``record`` (the delivery's exclusive
        claim), increments the version and stamps ``written_by=token``. Of two deliveries holding
        the same version, exactly one moves on; the other gets ``RecordConflict``.
        """
        if not may_move(record.conversation_status, to):
            raise ValueError(f"{record.conversation_status} cannot move to {to}")
        undeclared = set(fields or {}) - set(ConversationRecord.model_fields)
        if undeclared:
            raise ValueError(f"Undeclared record fields: {sorted(undeclared)}")
        names: dict[str, str] = {"#status": "conversation_status", "#updated": "updated_at", "#version": "version"}
        values: dict[str, Any] = {
            ":to": to.value,
            ":now": now,
            ":from": record.conversation_status.value,
            ":read": record.version,
            ":next": record.version + 1,
            ":token": token,
        }
        sets = ["#status = :to", "#updated = :now", "#version = :next", "written_by = :token"]
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
        # A record written before versions existed has none: version 0 is its absence.
        version_holds = "#version = :read" if record.version else "(attribute_not_exists(#version) OR #version = :read)"
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        try:
            item = self._client.update_item(
                TableName=self._table,
                Key=key_of(record).item_key(),
                UpdateExpression=expression,
                ConditionExpression=f"#status = :from AND {version_holds}",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=to_item(values),
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )["Attributes"]
        except ClientError as error:
            if error_code(error) == CONDITION_FAILED:
                return self._already_written(record, to, token, _item_of(error))
            raise store_error(error, f"writing {to}") from None
        except BotoCoreError as error:
            raise RecordStoreUnavailable(f"DynamoDB unreachable writing {to}: {type(error).__name__}") from None
        return ConversationRecord.model_validate(from_item(item))

    def _already_written(
        self, record: ConversationRecord, to: ConversationStatus, token: str, current: ConversationRecord | None
    ) -> ConversationRecord:
        """A failed condition is our own write when the SDK retried a call whose answer was lost:
        the record then holds exactly the next version, written by this delivery."""
        current = current or self.get(key_of(record))
        if current is not None and current.version == record.version + 1 and current.written_by == token:
            return current
        now = current.conversation_status.value if current else "gone"
        raise RecordConflict(
            f"Another delivery wrote the record since it was read ({record.conversation_status} → {to} expected "
            f"version {record.version}; it is now {now})"
        )

    def record_delivery(
        self,
        key: ConversationKey,
        *,
        company_id: str,
        project_id: str,
        provider_message_id: str,
        state: DeliveryState,
        engagement: bool = False,
    ) -> DeliveryWrite:
        """Mirror a message's delivery state on its record, only forward and only while the record
        names that message. ``version`` and ``written_by`` stay as they are: they guard the
        processing state machine, and a delivery write must not make a processing delivery's
        claim fail (nor can it clash with one: it writes only the delivery attributes).

        ``engagement``: copy the first open/click times (kept once) instead of the status.
        """
        names = {"#message": "provider_message_id"}
        values: dict[str, Any] = {":company": company_id, ":project": project_id, ":message": provider_message_id}
        conditions = ["company_id = :company", "project_id = :project", "#message = :message"]
        sets: list[str] = []
        removes: list[str] = []
        if engagement:
            for index, (name, value) in enumerate(state.engagement_fields.items()):
                if value is not None:
                    names[f"#e{index}"] = name
                    values[f":e{index}"] = value
                    sets.append(f"#e{index} = if_not_exists(#e{index}, :e{index})")
        elif state.delivery_rank is not None:
            conditions.append("(attribute_not_exists(delivery_rank) OR delivery_rank < :rank)")
            values[":rank"] = state.delivery_rank
            for index, (name, value) in enumerate(state.delivery_fields.items()):
                names[f"#d{index}"] = name
                if value is None:
                    removes.append(f"#d{index}")
                else:
                    values[f":d{index}"] = value
                    sets.append(f"#d{index} = :d{index}")
        if not sets:
            return DeliveryWrite.CURRENT
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        try:
            self._client.update_item(
                TableName=self._table,
                Key=key.item_key(),
                UpdateExpression=expression,
                ConditionExpression=" AND ".join(conditions),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=to_item(values),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if error_code(error) != CONDITION_FAILED:
                raise store_error(error, "recording the delivery status") from None
            return _why_not_delivered(old_item(error), company_id, project_id, provider_message_id)
        except BotoCoreError as error:
            raise RecordStoreUnavailable(
                f"DynamoDB unreachable recording the delivery status: {type(error).__name__}"
            ) from None
        return DeliveryWrite.APPLIED

    def others_of_recipient(self, key: ConversationKey) -> list[ConversationRecord]:
        """The recipient's other conversations (the table's partition is the recipient's address)."""
        found: list[ConversationRecord] = []
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "primary_channel = :recipient",
            "ExpressionAttributeValues": to_item({":recipient": key.primary_channel}),
            "ConsistentRead": True,
        }
        try:
            while True:
                page = self._client.query(**request)
                found += [ConversationRecord.model_validate(from_item(item)) for item in page.get("Items", [])]
                if "LastEvaluatedKey" not in page:
                    return [record for record in found if record.conversation_id != key.conversation_id]
                request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        except ClientError as error:
            raise store_error(error, "reading the recipient's conversations") from None
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
                ExpressionAttributeValues=to_item({":reason": reason, ":now": now}),
            )


def _why_not_delivered(
    record: dict[str, Any] | None, company_id: str, project_id: str, provider_message_id: str
) -> DeliveryWrite:
    if record is None or (record.get("company_id"), record.get("project_id")) != (company_id, project_id):
        return DeliveryWrite.MISSING
    named = record.get("provider_message_id")
    if named is None:
        return (
            DeliveryWrite.PENDING
            if record.get("conversation_status") in _SEND_IN_FLIGHT
            else DeliveryWrite.OTHER_MESSAGE
        )
    return DeliveryWrite.CURRENT if named == provider_message_id else DeliveryWrite.OTHER_MESSAGE


def _item_of(error: ClientError) -> ConversationRecord | None:
    """The record a failed condition was checked against (``ReturnValuesOnConditionCheckFailure``)."""
    item = old_item(error)
    return ConversationRecord.model_validate(item) if item else None
