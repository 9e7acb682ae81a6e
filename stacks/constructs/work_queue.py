"""A main queue and its dead-letter queue, encrypted and reachable over TLS only: a channel's
queue, or the events queue."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.names import dlq_name, queue_name
from stacks.settings import EnvironmentSettings


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
    ):
        """``name``: ``ai-multi-comms-<name>-queue-<env>`` and ``-<name>-dlq-<env>``. The visibility
        timeout is its consumer's (six times its function's timeout); retention and the number of
        receives before the DLQ are the environment's, the same for every queue."""
        super().__init__(scope, construct_id)
        queues = settings.queues
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            queue_name=dlq_name(name, settings.name),
            retention_period=Duration.days(queues.dlq_retention_days),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            queue_name=queue_name(name, settings.name),
            visibility_timeout=Duration.seconds(visibility_timeout_seconds),
            retention_period=Duration.days(queues.retention_days),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letter_queue, max_receive_count=queues.max_receive_count
            ),
        )

    def feed(
        self,
        function: lambda_.Function,
        *,
        batch_size: int,
        max_batching_window_seconds: int,
        max_concurrency: int,
    ) -> None:
        """Make ``function`` this queue's consumer: batches with partial batch responses, the
        right to receive, delete and delay (heartbeat, retry backoff) its messages, and to move a
        message that can never be processed to the DLQ at once rather than retry it."""
        self.queue.grant_consume_messages(function)
        self.dead_letter_queue.grant_send_messages(function)
        function.add_event_source(
            event_sources.SqsEventSource(
                self.queue,
                batch_size=batch_size,
                max_batching_window=Duration.seconds(max_batching_window_seconds),
                max_concurrency=max_concurrency,
                report_batch_item_failures=True,
            )
        )
