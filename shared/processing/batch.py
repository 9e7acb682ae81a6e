"""Processes the records of one SQS batch concurrently and answers with the partial batch response.

The work is I/O-bound (DynamoDB, Secrets Manager, OpenAI, the provider), so one thread per record
makes a batch of ten cost about one record's wall time. Each record has its own heartbeat and its
own outcome; only the records that should come back are reported in ``batchItemFailures``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from shared.log_masking import describe_error, masked_traceback
from shared.processing import metric_names
from shared.processing.dead_letter import move_to_dead_letter_queue
from shared.processing.heartbeat import Heartbeat, schedule_retry
from shared.processing.pipeline import Pipeline, RecordOutcome
from shared.processing.replies.turns import ReplyTurns
from shared.processing.settings import ProcessorSettings
from shared.replies.reply_job import is_reply_job


class BatchProcessor:
    def __init__(
        self,
        *,
        pipeline: Pipeline,
        turns: ReplyTurns,
        sqs: Any,
        settings: ProcessorSettings,
        logger: Any,
        metrics: Any,
    ):
        self._pipeline = pipeline
        self._turns = turns
        self._metrics = metrics
        self._sqs = sqs
        self._settings = settings
        self._logger = logger

    def process(self, event: dict[str, Any]) -> dict[str, list[dict[str, str]]]:
        records = event.get("Records") or []
        if not records:
            return {"batchItemFailures": []}
        self._metrics.add_metric(name=metric_names.RECORDS_RECEIVED, unit=MetricUnit.Count, value=len(records))
        with ThreadPoolExecutor(max_workers=len(records), thread_name_prefix="record") as pool:
            retries = list(pool.map(self._one, records))
        return {
            "batchItemFailures": [
                {"itemIdentifier": r["messageId"]} for r, retry in zip(records, retries, strict=True) if retry
            ]
        }

    def _one(self, record: dict[str, Any]) -> bool:
        self._logger.thread_safe_append_keys(sqs_message_id=record.get("messageId"))
        try:
            with Heartbeat(
                self._sqs,
                queue_url=self._settings.queue_url,
                receipt_handle=record["receiptHandle"],
                interval_seconds=self._settings.heartbeat_interval_seconds,
                visibility_timeout_seconds=self._settings.visibility_timeout_seconds,
                logger=self._logger,
            ):
                outcome = self._outcome(record)
            if outcome.dead_letter:
                return not move_to_dead_letter_queue(
                    self._sqs, self._settings.dead_letter_queue_url, record, outcome.reason or "malformed", self._logger
                )
            if outcome.retry:
                receive_count = int((record.get("attributes") or {}).get("ApproximateReceiveCount", "1"))
                schedule_retry(
                    self._sqs,
                    queue_url=self._settings.queue_url,
                    receipt_handle=record["receiptHandle"],
                    delay_seconds=self._settings.retry_delay(receive_count, at_least=outcome.retry_after_seconds),
                    logger=self._logger,
                )
            return outcome.retry
        finally:
            self._logger.thread_safe_clear_keys()

    def _outcome(self, record: dict[str, Any]) -> RecordOutcome:
        body = record.get("body") or ""
        attributes = record.get("messageAttributes") or {}
        # One queue per channel carries both the router's context messages and the events
        # processor's reply jobs (``kind=reply``); each has its own state machine on the record.
        work: Pipeline | ReplyTurns = self._turns if is_reply_job(body, attributes) else self._pipeline
        try:
            return work.handle(body, message_id=record.get("messageId", ""), attributes=attributes)
        except Exception as error:  # the one outermost catch: log the cause, record failed_unknown
            # Not logger.exception: an exception's text can quote addresses or generated content.
            self._logger.error(
                "unexpected failure while processing the record",
                extra={"cause": describe_error(error), "trace": masked_traceback(error)},
            )
            return work.handle_unexpected(body, error)
