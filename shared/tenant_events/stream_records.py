"""A record of the conversations table's stream (NEW_AND_OLD_IMAGES) as the two records it changed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from shared.models.conversation import ConversationRecord

_DESERIALIZER = TypeDeserializer()


@dataclass(frozen=True)
class RecordChange:
    sequence_number: str
    event_name: str  # INSERT, MODIFY or REMOVE
    old: ConversationRecord | None
    new: ConversationRecord | None


def change_of(stream_record: dict[str, Any]) -> RecordChange:
    """Raises ``pydantic.ValidationError`` for an image that is not a conversation record."""
    body = stream_record["dynamodb"]
    return RecordChange(
        sequence_number=body["SequenceNumber"],
        event_name=stream_record.get("eventName", ""),
        old=_record(body.get("OldImage")),
        new=_record(body.get("NewImage")),
    )


def _record(image: dict[str, Any] | None) -> ConversationRecord | None:
    if not image:
        return None
    return ConversationRecord.model_validate({name: _DESERIALIZER.deserialize(v) for name, v in image.items()})
