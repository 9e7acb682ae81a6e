"""The conversations repository against DynamoDB (moto): conditional transitions that survive the
SDK retrying a call whose answer was lost, and the provider ids a recipient's conversations hold."""

from __future__ import annotations

import pytest

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
    first = repository.transition(key_of(record), ConversationStatus.AI_GENERATED, now=now)

    # The same call again (what botocore does when the first answer was lost) fails its condition.
    again = repository.transition(key_of(record), ConversationStatus.AI_GENERATED, now=now)

    assert again.conversation_status is ConversationStatus.AI_GENERATED
    assert again.updated_at == first.updated_at


def test_a_transition_another_delivery_made_is_a_conflict(repository):
    record, _ = repository.claim(_record("c2"))
    repository.transition(key_of(record), ConversationStatus.AI_GENERATED, now="2026-11-25T12:00:01.000Z")

    with pytest.raises(RecordConflict):
        repository.transition(key_of(record), ConversationStatus.AI_GENERATED, now="2026-11-25T12:00:02.000Z")


def test_provider_ids_of_the_recipients_other_conversations_exclude_its_own(repository):
    for conversation_id, provider_id in (("c1", "SM1"), ("c2", "SM2"), ("c3", None)):
        record, _ = repository.claim(_record(conversation_id))
        if provider_id:
            repository.transition(key_of(record), ConversationStatus.AI_GENERATED, now="2026-11-25T12:00:01.000Z")
            repository.transition(
                key_of(record), ConversationStatus.SENDING, now="2026-11-25T12:00:02.000Z",
                fields={"provider_message_id": provider_id},
            )  # fmt: skip

    assert repository.provider_ids_of_other_conversations(ConversationKey(RECIPIENT, "c1")) == {"SM2"}
    assert repository.provider_ids_of_other_conversations(ConversationKey("+447700900999", "c1")) == set()
