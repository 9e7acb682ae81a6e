"""A main queue and its dead-letter queue, encrypted and reachable over TLS only: a channel's
queue, the events queue, or the FIFO webhooks queue (issue 13)."""

from __future__ import annotations

from typing import TypedDict

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.names import dlq_name, fifo_dlq_name, fifo_queue_name, queue_name
from stacks.settings import EnvironmentSettings


class FifoOptions(TypedDict, total=False):
    # The Queue properties only a FIFO queue sets (typed, so ``**`` into sqs.Queue is checked).
    fifo: bool
    content_based_deduplication: bool


class WorkQueue(Construct):
    queue: sqs.Queue
    dead_letter_queue: sqs.Queue

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        visibility_timeout_seconds: int,
        settings: EnvironmentSettings,
        fifo: bool = False,
        max_receive_count: int | None = None,
    ):
        """``name``: ``ai-multi-comms-<name>-queue-<env>`` and ``-<name>-dlq-<env>`` (``.fifo`` after
        both when ``fifo``: a FIFO queue's DLQ must be FIFO too). The visibility timeout is its
        consumer's (six times its function's timeout); retention is the environment's, the same for
        every queue, and so is the number of receives before the DLQ unless ``max_receive_count``.

        A FIFO queue deduplicates by the MessageDeduplicationId its producer sets (content-based
        deduplication off): two events with the same body are still two events."""
        super().__init__(scope, construct_id)
        queues = settings.queues
        fifo_options = FifoOptions(fifo=True, content_based_deduplication=False) if fifo else FifoOptions()
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            queue_name=(fifo_dlq_name if fifo else dlq_name)(name, settings.name),
            retention_period=Duration.days(queues.dlq_retention_days),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            **fifo_options,
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            queue_name=(fifo_queue_name if fifo else queue_name)(name, settings.name),
            visibility_timeout=Duration.seconds(visibility_timeout_seconds),
            retention_period=Duration.days(queues.retention_days),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letter_queue, max_receive_count=max_receive_count or queues.max_receive_count
            ),
            **fifo_options,
        )

    def feed(
        self,
        function: lambda_.Function,
        *,
        batch_size: int,
        max_batching_window_seconds: int | None,
        max_concurrency: int,
    ) -> None:
        """Make ``function`` this queue's consumer: batches with partial batch responses, the
        right to receive, delete and delay (heartbeat, retry backoff) its messages, and to move a
        message that can never be processed to the DLQ at once rather than retry it.
        ``max_batching_window_seconds`` None for a FIFO queue (Lambda has no batching window for them)."""
        self.queue.grant_consume_messages(function)
        self.dead_letter_queue.grant_send_messages(function)
        function.add_event_source(
            event_sources.SqsEventSource(
                self.queue,
                batch_size=batch_size,
                max_batching_window=None
                if max_batching_window_seconds is None
                else Duration.seconds(max_batching_window_seconds),
                max_concurrency=max_concurrency,
                report_batch_item_failures=True,
            )
        )
