"""The conversations repository against DynamoDB (moto): conditional transitions that survive the
SDK retrying a call whose answer was lost, and the provider ids a recipient's conversations hold."""

from __future__ import annotations

import pytest
from boto3.dynamodb.types import TypeSerializer

from shared.models.conversation import ConversationRecord, ConversationStatus
from shared.processing.conversation_repository import ConversationKey, ConversationRepository, key_of
from shared.processing.errors import RecordConflict
from shared.tables import CONVERSATIONS

RECIPIENT = "+447700900123"


def _record(conversation_id: str) -> ConversationRecord:
    return ConversationRecord(
        primary_channel=RECIPIENT,
        conversation_id=conversation_id,
        company_id="ci-demo-001",
        project_id="pi-demo-001",
        request_id="3f8b2c1e-4d5a-4b6c-9e7f-0a1b2c3d4e5f",
        channel_method="sms",
        conversation_status=ConversationStatus.PROCESSING,
        created_at="2026-11-25T12:00:00.000Z",
        updated_at="2026-11-25T12:00:00.000Z",
    )


@pytest.fixture
def repository(aws) -> ConversationRepository:
    return ConversationRepository(aws.client("dynamodb"), aws.table_name(CONVERSATIONS.logical_name))


def test_a_transition_the_sdk_retries_after_it_was_applied_is_our_own_write(repository):
    record, _ = repository.claim(_record("c1"))
    now = "2026-11-25T12:00:01.000Z"
    first = repository.transition(record, ConversationStatus.AI_GENERATED, token="delivery-1", now=now)

    # The same call again (what botocore does when the first answer was lost) fails its condition.
    again = repository.transition(record, ConversationStatus.AI_GENERATED, token="delivery-1", now=now)

    assert again.conversation_status is ConversationStatus.AI_GENERATED
    assert again.version == first.version == record.version + 1


def test_a_transition_another_delivery_made_is_a_conflict(repository):
    record, _ = repository.claim(_record("c2"))
    repository.transition(record, ConversationStatus.AI_GENERATED, token="delivery-1", now="2026-11-25T12:00:01.000Z")

    with pytest.raises(RecordConflict):
        repository.transition(
            record, ConversationStatus.AI_GENERATED, token="delivery-2", now="2026-11-25T12:00:01.000Z"
        )


def test_of_two_deliveries_holding_ai_generated_only_one_moves_it_to_sending(repository):
    # Both read ai_generated at the same version; sending → sending is a legal transition, so only
    # the version tells the second delivery that the first already claimed the send.
    record, _ = repository.claim(_record("c3"))
    generated = repository.transition(record, ConversationStatus.AI_GENERATED, token="d1", now="2026-11-25T12:00:01Z")
    repository.transition(generated, ConversationStatus.SENDING, token="d1", now="2026-11-25T12:00:02Z")

    with pytest.raises(RecordConflict):
        repository.transition(generated, ConversationStatus.SENDING, token="d2", now="2026-11-25T12:00:02Z")
    with pytest.raises(RecordConflict):  # nor may it overwrite ai_content from a stale processing read
        repository.transition(
            record, ConversationStatus.AI_GENERATED, token="d2", now="2026-11-25T12:00:03Z",
            fields={"ai_content": {"body": "another text"}},
        )  # fmt: skip


def test_a_record_written_before_versions_existed_can_still_be_moved_once(repository, aws):
    old = _record("c4").model_dump(mode="json", exclude_none=True, exclude={"version", "written_by"})
    aws.client("dynamodb").put_item(
        TableName=aws.table_name(CONVERSATIONS.logical_name),
        Item={name: TypeSerializer().serialize(value) for name, value in old.items()},
    )
    record = repository.get(ConversationKey(RECIPIENT, "c4"))
    assert record.version == 0

    moved = repository.transition(record, ConversationStatus.AI_GENERATED, token="d1", now="2026-11-25T12:00:01Z")

    assert moved.version == 1
    with pytest.raises(RecordConflict):
        repository.transition(record, ConversationStatus.AI_GENERATED, token="d2", now="2026-11-25T12:00:01Z")


def test_a_field_the_record_does_not_declare_is_refused_before_anything_is_written(repository):
    record, _ = repository.claim(_record("c5"))

    with pytest.raises(ValueError, match="Undeclared"):
        repository.transition(
            record, ConversationStatus.AI_GENERATED, token="d1", now="2026-11-25T12:00:01Z", fields={"surprise": 1}
        )
    assert repository.get(key_of(record)).conversation_status is ConversationStatus.PROCESSING


def test_the_recipients_other_conversations_exclude_its_own(repository):
    for conversation_id, provider_id in (("c1", "SM1"), ("c2", "SM2"), ("c3", None)):
        record, _ = repository.claim(_record(conversation_id))
        if provider_id:
            record = repository.transition(
                record, ConversationStatus.AI_GENERATED, token="d", now="2026-11-25T12:00:01Z"
            )
            repository.transition(
                record, ConversationStatus.SENDING, token="d", now="2026-11-25T12:00:02Z",
                fields={"provider_message_id": provider_id},
            )  # fmt: skip

    others = repository.others_of_recipient(ConversationKey(RECIPIENT, "c1"))
    assert sorted(o.conversation_id for o in others) == ["c2", "c3"]
    assert {o.provider_message_id for o in others} == {"SM2", None}
    assert repository.others_of_recipient(ConversationKey("+447700900999", "c1")) == []
