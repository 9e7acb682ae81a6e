"""The webhooks FIFO queue: one message group per conversation, deduplicated by the event id.

A conversation's events reach its webhook in order and a failing delivery holds back only that
conversation's later events; other conversations (and other tenants) never wait for it.
"""

from __future__ import annotations

import hashlib
import string
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shared.models.tenant_events import WebhookEvent

# SQS: at most 128 characters, alphanumerics and punctuation.
_GROUP_ID_LIMIT = 128
_GROUP_ID_CHARACTERS = frozenset(string.ascii_letters + string.digits + string.punctuation)


class QueueUnavailable(Exception):
    """The queue did not take the message: the stream record is retried."""


def message_group_id(conversation_id: str) -> str:
    """The conversation id itself; a digest of it when SQS would refuse it (a long email sender)."""
    if len(conversation_id) <= _GROUP_ID_LIMIT and set(conversation_id) <= _GROUP_ID_CHARACTERS:
        return conversation_id
    return "conv_" + hashlib.sha256(conversation_id.encode()).hexdigest()


class WebhookQueue:
    def __init__(self, client: Any, queue_url: str):
        self._client = client
        self._url = queue_url

    def send(self, event: WebhookEvent) -> None:
        try:
            self._client.send_message(
                QueueUrl=self._url,
                MessageBody=event.model_dump_json(),
                MessageGroupId=message_group_id(event.data.conversation_id),
                # SQS drops a repeat within 5 minutes; past that the tenant dedupes on webhook-id.
                MessageDeduplicationId=event.id,
            )
        except (ClientError, BotoCoreError) as error:
            raise QueueUnavailable(f"the webhooks queue did not take the event: {type(error).__name__}") from None
