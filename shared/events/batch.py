"""One SQS batch of the events queue, answered with the partial batch response.

An event costs two or three DynamoDB writes, so the records run one after another. Each record
gets its own outcome: applied (deleted), retried after a delay (the message it names is still
being recorded), or moved to the DLQ at once (it will never parse).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from shared.events.applier import EventApplier
from shared.events.outcome import EventOutcome
from shared.events.settings import EventsSettings
from shared.log_masking import describe_error, masked_traceback
from shared.processing import metric_names
from shared.processing.dead_letter import move_to_dead_letter_queue
from shared.processing.heartbeat import schedule_retry


class EventsBatch:
    def __init__(self, *, applier: EventApplier, sqs: Any, settings: EventsSettings, logger: Any, metrics: Any):
        self._applier = applier
        self._sqs = sqs
        self._settings = settings
        self._logger = logger
        self._metrics = metrics

    def process(self, event: dict[str, Any]) -> dict[str, list[dict[str, str]]]:
        records = event.get("Records") or []
        if records:
            self._metrics.add_metric(name=metric_names.RECORDS_RECEIVED, unit=MetricUnit.Count, value=len(records))
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in records if self._one(r)]}

    def _one(self, record: dict[str, Any]) -> bool:
        """Whether SQS should deliver the record again."""
        self._logger.thread_safe_append_keys(sqs_message_id=record.get("messageId"))
        receive_count = int((record.get("attributes") or {}).get("ApproximateReceiveCount", "1"))
        try:
            outcome = self._outcome(record, receive_count)
            if outcome.dead_letter:
                return not move_to_dead_letter_queue(
                    self._sqs, self._settings.dead_letter_queue_url, record, outcome.reason or "malformed", self._logger
                )
            if outcome.retry:
                schedule_retry(
                    self._sqs,
                    queue_url=self._settings.queue_url,
                    receipt_handle=record["receiptHandle"],
                    delay_seconds=self._settings.retry_delay(receive_count),
                    logger=self._logger,
                )
            return outcome.retry
        finally:
            self._logger.thread_safe_clear_keys()

    def _outcome(self, record: dict[str, Any], receive_count: int) -> EventOutcome:
        try:
            return self._applier.handle(record.get("body") or "", receive_count=receive_count)
        except Exception as error:  # the one outermost catch: log the cause; SQS retries, then the DLQ
            self._logger.error(
                "unexpected failure while applying the event",
                extra={"cause": describe_error(error), "trace": masked_traceback(error)},
            )
            self._metrics.add_metric(name=metric_names.UNEXPECTED_FAILURES, unit=MetricUnit.Count, value=1)
            return EventOutcome(retry=True, reason=type(error).__name__)
