"""Puts verified provider events on the events queue, ten to a SendMessageBatch call.

Entries SQS did not take are sent once more; if some still fail, the request is answered 503 so
the provider posts it again. Events already queued are then queued twice: the events processor
drops duplicates (SendGrid repeats events anyway).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shared.events.envelope import ProviderEvent
from shared.webhooks.refusals import BodyTooLarge, DependencyUnavailable

BATCH_ENTRIES = 10
# SQS's limit for one message, and for all messages of one SendMessageBatch call together.
MAX_BATCH_BYTES = 256 * 1024


class EventQueue:
    def __init__(self, sqs: Any, queue_url: str):
        self._sqs = sqs
        self._queue_url = queue_url

    def bodies(self, events: Sequence[ProviderEvent]) -> list[str]:
        """The queue bodies; ``BodyTooLarge`` (before anything is sent) for an event SQS cannot hold."""
        bodies = [event.to_body() for event in events]
        for body in bodies:
            if len(body.encode("utf-8")) > MAX_BATCH_BYTES:
                raise BodyTooLarge(f"an event is larger than the {MAX_BATCH_BYTES} bytes a queue message holds")
        return bodies

    def send(self, bodies: Sequence[str]) -> None:
        for batch in batches(bodies):
            entries = [{"Id": str(index), "MessageBody": body} for index, body in enumerate(batch)]
            failed = self._send_batch(entries)
            if failed:
                failed = self._send_batch(failed)
            if failed:
                raise DependencyUnavailable(f"SQS did not take {len(failed)} of {len(entries)} events")

    def _send_batch(self, entries: list[dict[str, str]]) -> list[dict[str, str]]:
        """The entries SQS did not take."""
        try:
            response = self._sqs.send_message_batch(QueueUrl=self._queue_url, Entries=entries)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            raise DependencyUnavailable(f"SQS failed: {code}") from None
        except BotoCoreError as error:
            raise DependencyUnavailable(f"SQS unreachable: {type(error).__name__}") from None
        failed_ids = {failure["Id"] for failure in response.get("Failed", [])}
        return [entry for entry in entries if entry["Id"] in failed_ids]


def batches(bodies: Sequence[str]) -> list[list[str]]:
    """``bodies`` in order, cut into SendMessageBatch calls: at most ten entries and 256 KiB each."""
    cut: list[list[str]] = []
    current: list[str] = []
    size = 0
    for body in bodies:
        length = len(body.encode("utf-8"))
        if current and (len(current) == BATCH_ENTRIES or size + length > MAX_BATCH_BYTES):
            cut.append(current)
            current, size = [], 0
        current.append(body)
        size += length
    if current:
        cut.append(current)
    return cut
