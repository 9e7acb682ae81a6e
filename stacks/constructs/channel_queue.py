"""A channel's main queue and its dead-letter queue, encrypted and reachable over TLS only."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.names import dlq_name, queue_name
from stacks.settings import EnvironmentSettings


class ChannelQueue(Construct):
    queue: sqs.Queue
    dead_letter_queue: sqs.Queue

    def __init__(self, scope: Construct, construct_id: str, *, channel: str, settings: EnvironmentSettings):
        super().__init__(scope, construct_id)
        queues = settings.queues
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            queue_name=dlq_name(channel, settings.name),
            retention_period=Duration.days(queues.dlq_retention_days),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            queue_name=queue_name(channel, settings.name),
            visibility_timeout=Duration.seconds(queues.visibility_timeout_seconds),
            retention_period=Duration.days(queues.retention_days),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letter_queue, max_receive_count=queues.max_receive_count
            ),
        )
