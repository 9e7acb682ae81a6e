"""Records the person's message on its conversation: once per provider id, in order, without
touching the turn's claim (docs/decisions.md, "Replies (issue 11) — the turn state machine").

One conditional UpdateItem appends the ``role: user`` entry and its id, and sets ``inbound_count``
to the entry's ``inbound_seq`` (the count as read + 1). The condition holds the tenant, an open
status, "this id is not recorded" and "the count is still what was read": a failed condition
returns the item as it is, which says whether the message is a duplicate (done), the thread closed
(not recorded) or another message was recorded first (retry with the next seq). ``version``,
``written_by`` and ``conversation_status`` are left alone, so a turn in flight keeps its claim.
Then an idle thread moves to ``reply_received`` with a normal versioned transition.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shared.models.conversation import OPEN_STATUSES, ConversationRecord, ConversationStatus, MessageEntry
from shared.processing.conversation_repository import ConversationRepository, key_of
from shared.processing.dynamodb_items import CONDITION_FAILED, error_code, from_item, old_item, store_error, to_item
from shared.processing.errors import RecordConflict, RecordStoreUnavailable
from shared.processing.times import parse_time
from shared.replies.inbound import InboundMessage
from shared.retention import expires_at

# Where the events processor marks a pending message; a turn's own states are left to the turn.
IDLE_STATUSES = frozenset(
    {ConversationStatus.INITIAL_MESSAGE_SENT, ConversationStatus.REPLY_SENT, ConversationStatus.REPLY_NOT_SENT}
)
# Messages racing for the next seq of one conversation: each lost round means another one was
# recorded, so a handful is plenty; beyond it SQS brings the event back.
MAX_ATTEMPTS = 8
_OPEN = sorted(status.value for status in OPEN_STATUSES)


class Recording(StrEnum):
    RECORDED = "recorded"
    DUPLICATE = "duplicate"  # the id is on the record already
    CLOSED = "closed"  # the thread is no longer open (or the record is gone): nothing written


@dataclass(frozen=True)
class Recorded:
    outcome: Recording
    record: ConversationRecord | None  # as written (recorded) or as found (duplicate)
    seq: int | None = None  # the message's inbound_seq


class InboundRecords:
    def __init__(self, client: Any, table_name: str, repository: ConversationRepository, *, retention_days: int):
        self._client = client
        self._table = table_name
        self._repository = repository
        self._retention_days = retention_days

    def record(self, found: ConversationRecord, message: InboundMessage, *, at: str) -> Recorded:
        """Append ``message`` to ``found``'s thread (``at``: when it was received)."""
        current: ConversationRecord | None = found
        for _ in range(MAX_ATTEMPTS):
            if current is None or current.company_id != found.company_id or current.project_id != found.project_id:
                return Recorded(Recording.CLOSED, None)
            if message.inbound_id in current.inbound_message_ids:
                return Recorded(Recording.DUPLICATE, current, _seq_of(current, message.inbound_id))
            if not current.conversation_status.is_open:
                return Recorded(Recording.CLOSED, current)
            written = self._append(current, message, at=at)
            if isinstance(written, ConversationRecord):
                return Recorded(Recording.RECORDED, written, written.inbound_count)
            current = written.current
        raise RecordConflict("Other messages kept taking the next place in the thread; retrying later")

    def mark_received(self, record: ConversationRecord, *, token: str, now: str) -> ConversationRecord:
        """Move an idle thread to ``reply_received``. Anyone else's write since the read (a turn
        claiming, another message marking it) already says the thread is live: not an error."""
        if record.conversation_status not in IDLE_STATUSES:
            return record
        try:
            return self._repository.transition(record, ConversationStatus.REPLY_RECEIVED, token=token, now=now)
        except RecordConflict:
            return record

    def _append(self, current: ConversationRecord, message: InboundMessage, *, at: str) -> ConversationRecord | _Lost:
        seq = current.inbound_count + 1
        entry = MessageEntry(
            message_id=message.inbound_id,
            timestamp=message.sent_at or at,
            role="user",
            content=message.text,
            inbound_seq=seq,
            media_count=message.media_count or None,
            media_types=list(message.media_types) or None,
            subject=message.subject,
            email_message_id=message.email_message_id,
            consent_keyword=message.consent_keyword.value if message.consent_keyword else None,
        )
        names = {
            "#messages": "messages",
            "#ids": "inbound_message_ids",
            "#count": "inbound_count",
            "#status": "conversation_status",
        }
        values: dict[str, Any] = {
            ":entry": [entry.model_dump(mode="python", exclude_none=True)],
            ":ids": [message.inbound_id],
            ":id": message.inbound_id,
            ":seq": seq,
            ":at": at,
            # The person wrote: the record is kept the whole retention from now (never less than before).
            ":expires": expires_at(_moment(at), self._retention_days, kept_until=current.expires_at),
            ":none": [],
            ":company": current.company_id,
            ":project": current.project_id,
        }
        open_names = []
        for index, status in enumerate(_OPEN):
            values[f":open{index}"] = status
            open_names.append(f":open{index}")
        sets = [
            "#messages = list_append(if_not_exists(#messages, :none), :entry)",
            "#ids = list_append(if_not_exists(#ids, :none), :ids)",
            "#count = :seq",
            "last_inbound_at = :at",
            "expires_at = :expires",
        ]
        if message.email_message_id:
            # The reply pipeline threads its answer on the person's Message-ID (In-Reply-To/References).
            names["#refs"] = "email_references"
            values[":refs"] = [message.email_message_id]
            sets.append("#refs = list_append(if_not_exists(#refs, :none), :refs)")
        if current.inbound_count:
            values[":read"] = current.inbound_count
            count_holds = "#count = :read"
        else:
            count_holds = "attribute_not_exists(#count) OR #count = :zero"
            values[":zero"] = 0
        condition = (
            f"company_id = :company AND project_id = :project AND #status IN ({', '.join(open_names)})"
            f" AND NOT contains(#ids, :id) AND ({count_holds})"
        )
        try:
            item = self._client.update_item(
                TableName=self._table,
                Key=key_of(current).item_key(),
                UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=to_item(values),
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )["Attributes"]
        except ClientError as error:
            if error_code(error) != CONDITION_FAILED:
                raise store_error(error, "recording the inbound message") from None
            found = old_item(error)
            return _Lost(None if found is None else ConversationRecord.model_validate(found))
        except BotoCoreError as error:
            raise RecordStoreUnavailable(
                f"DynamoDB unreachable recording the inbound message: {type(error).__name__}"
            ) from None
        return ConversationRecord.model_validate(from_item(item))


@dataclass(frozen=True)
class _Lost:
    """The condition failed: the record as it is now (None: gone)."""

    current: ConversationRecord | None


def _moment(at: str) -> datetime:
    moment = parse_time(at)
    assert moment is not None, "an inbound message is recorded with the time it was received"
    return moment


def _seq_of(record: ConversationRecord, inbound_id: str) -> int | None:
    for entry in record.messages:
        if entry.role == "user" and entry.message_id == inbound_id:
            return entry.inbound_seq
    return None
