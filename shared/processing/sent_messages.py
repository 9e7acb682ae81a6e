"""A send's message item (the provider-messages table) as the channel pipeline keeps it: put once
before the record names the message, and mirrored on the record once after it does.

The events processor finds a message by its item; the record carries a copy of its latest
message's delivery state (``shared.events``). The pipeline only sends and records; this module
keeps the two stores in step around that record.
"""

from __future__ import annotations

from typing import Any

from shared.events.delivery_state import DeliveryState
from shared.events.provider_messages import ProviderMessages, SentMessage
from shared.models.conversation import ConversationRecord
from shared.processing.conversation_repository import ConversationRepository, key_of
from shared.processing.errors import ProcessingFailure
from shared.processing.senders import SendReceipt


class SentMessages:
    def __init__(self, items: ProviderMessages, repository: ConversationRepository, logger: Any):
        self._items = items
        self._repository = repository
        self._logger = logger

    def record(self, record: ConversationRecord, receipt: SendReceipt, *, provider: str, sent_at: str) -> DeliveryState:
        """Put the send's item (once: a redelivery's re-put keeps what events already moved) and
        return the message's delivery state as the item holds it, for the record to take."""
        return self._items.record_send(
            SentMessage(
                provider=provider,
                provider_message_id=receipt.provider_message_id,
                channel=record.channel_method.value,
                company_id=record.company_id,
                project_id=record.project_id,
                primary_channel=record.primary_channel,
                conversation_id=record.conversation_id,
                sent_at=sent_at,
                delivery_status=receipt.status,
                expires_at=record.expires_at,
            )
        )

    def catch_up(self, record: ConversationRecord, *, provider: str, written: DeliveryState) -> None:
        """An event may have reached the item between its put and the record's move (the events
        processor then waits for the record to name the message, but not forever): mirror the item
        once more, forward only. Best effort: the message's next event mirrors it too."""
        assert record.provider_message_id is not None
        try:
            current = self._items.delivery_of(provider, record.provider_message_id)
            if current is None or current == written:
                return
            for engagement in (False, True):
                self._repository.record_delivery(
                    key_of(record),
                    company_id=record.company_id,
                    project_id=record.project_id,
                    provider_message_id=record.provider_message_id,
                    state=current,
                    engagement=engagement,
                )
        except ProcessingFailure as failure:
            self._logger.warning("delivery status not caught up on the record", extra={"why": failure.reason})
