"""One SQS batch of the webhooks FIFO queue, answered with the partial batch response.

A batch may hold several conversations (message groups). Each group is delivered by its own
worker of a small pool, in order, so one tenant's slow endpoint only ever holds up its own
conversation's later events. When an event of a group is to be retried, the group's later events
in the batch are reported failed without an attempt: the tenant gets them in order, after it.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import ValidationError

from shared.log_masking import describe_error, masked_traceback
from shared.models.tenant_events import WebhookEvent
from shared.processing.dead_letter import move_to_dead_letter_queue
from shared.processing.heartbeat import schedule_retry
from shared.tenant_webhooks import metric_names
from shared.tenant_webhooks.delivery import WebhookDelivery
from shared.tenant_webhooks.delivery_log import DeliveryLog
from shared.tenant_webhooks.outcome import Outcome, Verdict, retry_delay
from shared.tenant_webhooks.settings import WebhookSenderSettings

MAX_WORKERS = 5


@dataclass(frozen=True)
class _Result:
    message_id: str
    outcome: Outcome
    failed: bool  # reported in batchItemFailures (SQS delivers it again)


class WebhookBatch:
    def __init__(
        self,
        *,
        delivery: WebhookDelivery,
        log: DeliveryLog,
        sqs: Any,
        settings: WebhookSenderSettings,
        logger: Any,
        metrics: Any,
        clock: Callable[[], datetime],
    ):
        self._delivery = delivery
        self._log = log
        self._sqs = sqs
        self._settings = settings
        self._logger = logger
        self._metrics = metrics
        self._clock = clock

    def process(self, event: dict[str, Any]) -> dict[str, list[dict[str, str]]]:
        groups: dict[str, list[dict[str, Any]]] = {}
        for record in event.get("Records") or []:
            group = (record.get("attributes") or {}).get("MessageGroupId") or record["messageId"]
            groups.setdefault(group, []).append(record)
        if not groups:
            return {"batchItemFailures": []}
        with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(groups)), thread_name_prefix="webhook") as pool:
            results = [result for group in pool.map(self._group, groups.values()) for result in group]
        self._count(results)  # metrics from this thread only: Powertools' metric set is not thread-safe
        return {"batchItemFailures": [{"itemIdentifier": r.message_id} for r in results if r.failed]}

    def _group(self, records: list[dict[str, Any]]) -> list[_Result]:
        results: list[_Result] = []
        for index, record in enumerate(records):
            result = self._one(record)
            results.append(result)
            if result.failed:
                results.extend(self._hold_back(records[index + 1 :]))
                break
        return results

    def _one(self, record: dict[str, Any]) -> _Result:
        message_id = record["messageId"]
        body = record.get("body") or ""
        try:
            event = WebhookEvent.model_validate_json(body)
        except (ValidationError, ValueError) as error:
            outcome = Outcome(Verdict.DEAD_LETTER, f"not a tenant event ({describe_error(error)[:200]})")
            return _Result(message_id, outcome, failed=not self._dead_letter(record, outcome))
        try:
            outcome = self._delivery.deliver(event, body)
        except Exception as error:  # the one outermost catch: log the cause, SQS retries
            self._logger.error(
                "unexpected failure while delivering a webhook",
                extra={"cause": describe_error(error), "trace": masked_traceback(error)},
            )
            outcome = Outcome(Verdict.RETRY, f"unexpected {type(error).__name__}")
        if outcome.verdict is Verdict.DEAD_LETTER:
            moved = self._dead_letter(record, outcome)
            if moved:
                self._log.record(event, outcome, self._clock())
            return _Result(message_id, outcome, failed=not moved)
        self._log.record(event, outcome, self._clock())
        if outcome.verdict is Verdict.RETRY:
            self._schedule_retry(record, outcome)
            return _Result(message_id, outcome, failed=True)
        return _Result(message_id, outcome, failed=False)

    def _hold_back(self, records: list[dict[str, Any]]) -> list[_Result]:
        """The conversation's later events: not attempted, and made visible again at once. SQS
        returns none of a FIFO group's messages while an earlier one is in flight, so they come
        back after the failed one, in order; left hidden for the queue's visibility timeout they
        would instead hold up its retry."""
        held = Outcome(Verdict.HELD_BACK, "an earlier event of the conversation is being retried")
        for record in records:
            self._change_visibility(record, 0)
        return [_Result(r["messageId"], held, failed=True) for r in records]

    def _schedule_retry(self, record: dict[str, Any], outcome: Outcome) -> None:
        receive_count = int((record.get("attributes") or {}).get("ApproximateReceiveCount", "1"))
        delay = retry_delay(
            receive_count,
            base_seconds=self._settings.retry_base_seconds,
            retry_after_seconds=outcome.retry_after_seconds,
        )
        self._logger.info(
            "webhook to be retried",
            extra={"sqs_message_id": record["messageId"], "reason": outcome.reason, "delay_seconds": delay},
        )
        self._change_visibility(record, delay)

    def _change_visibility(self, record: dict[str, Any], delay: int) -> None:
        schedule_retry(
            self._sqs,
            queue_url=self._settings.webhook_queue_url,
            receipt_handle=record["receiptHandle"],
            delay_seconds=delay,
            logger=self._logger,
        )

    def _dead_letter(self, record: dict[str, Any], outcome: Outcome) -> bool:
        self._logger.warning(
            "webhook moved to the DLQ", extra={"sqs_message_id": record["messageId"], "reason": outcome.reason}
        )
        dlq_url = self._settings.webhook_dlq_url
        return move_to_dead_letter_queue(self._sqs, dlq_url, record, outcome.reason, self._logger)

    def _count(self, results: list[_Result]) -> None:
        counts = {
            metric_names.WEBHOOKS_DELIVERED: sum(r.outcome.verdict is Verdict.DELIVERED for r in results),
            metric_names.WEBHOOK_DELIVERY_RETRIED: sum(r.outcome.verdict is Verdict.RETRY for r in results),
            metric_names.WEBHOOKS_DEAD_LETTERED: sum(
                r.outcome.verdict is Verdict.DEAD_LETTER and not r.failed for r in results
            ),
            metric_names.WEBHOOK_TARGET_REFUSED: sum(r.outcome.target_refused for r in results),
        }
        for name, value in counts.items():
            if value:
                self._metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
