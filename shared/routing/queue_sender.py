"""Puts a context message on its channel's queue.

Transient failures (throttling, 5xx, timeouts, dropped connections) are retried with exponential
backoff and jitter by the SQS client itself (botocore "standard" retry mode, set where the client
is built); other errors (missing queue, access denied) are not retried. Either way a message that
could not be queued surfaces as ``QueueError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shared.api_errors import QueueError
from shared.channels import Channel
from shared.models.context import ContextMessage


class ChannelQueues:
    def __init__(self, sqs: Any, queue_urls: Mapping[Channel, str]):
        self._sqs = sqs
        self._queue_urls = dict(queue_urls)

    def send(self, message: ContextMessage, body: str) -> str:
        """Send ``body`` (the encoded ``message``) and return the SQS message id."""
        queue_url = self._queue_urls.get(message.channel)
        if not queue_url:
            raise QueueError(f"No queue is configured for the {message.channel.value} channel")
        try:
            response = self._sqs.send_message(
                QueueUrl=queue_url, MessageBody=body, MessageAttributes=message_attributes(message)
            )
        except (ClientError, BotoCoreError) as error:
            raise QueueError("The request could not be queued") from error
        return response["MessageId"]


def message_attributes(message: ContextMessage) -> dict[str, dict[str, str]]:
    """Routing facts only: no recipient data, no key (attributes are visible to any queue reader)."""
    values = {
        "channel": message.channel.value,
        "conversation_id": message.conversation_id,
        "request_id": message.request_data.request_id,
    }
    return {name: {"DataType": "String", "StringValue": value} for name, value in values.items()}
