"""Keeps an SQS message invisible while its record is being processed, and schedules its retry.

The event source hides a message for the queue's visibility timeout. A heartbeat re-arms that
timeout every ``interval`` seconds, so a slow step never lets a second consumer take the message
while the first still works on it; it stops as soon as the record's outcome is known.
"""

from __future__ import annotations

import threading
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError


class Heartbeat:
    def __init__(
        self,
        sqs: Any,
        *,
        queue_url: str,
        receipt_handle: str,
        interval_seconds: float,
        visibility_timeout_seconds: int,
        logger: Any,
    ):
        self._sqs = sqs
        self._queue_url = queue_url
        self._receipt_handle = receipt_handle
        self._interval = interval_seconds
        self._visibility = visibility_timeout_seconds
        self._logger = logger
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqs-heartbeat", daemon=True)
        self.beats = 0

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        while not self._stopped.wait(self._interval):
            try:
                self._sqs.change_message_visibility(
                    QueueUrl=self._queue_url, ReceiptHandle=self._receipt_handle, VisibilityTimeout=self._visibility
                )
                self.beats += 1
            except (ClientError, BotoCoreError) as error:
                # The message may already be gone (deleted, or its receipt expired): nothing to extend.
                self._logger.warning("heartbeat could not extend the message's visibility", extra={"error": str(error)})


def schedule_retry(sqs: Any, *, queue_url: str, receipt_handle: str, delay_seconds: int, logger: Any) -> None:
    """Make a transiently failed message visible again after ``delay_seconds`` (best effort)."""
    try:
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=delay_seconds)
    except (ClientError, BotoCoreError) as error:
        logger.warning("could not shorten the retry delay; the visibility timeout applies", extra={"error": str(error)})
