"""QueueStack: one main queue and one DLQ per channel, the events queue (verified provider
webhooks) with its DLQ, and the FIFO webhooks queue (tenants' events to deliver, issue 13) with its
FIFO DLQ."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from constructs import Construct

from shared.channels import ALL_CHANNELS, Channel
from stacks.constructs.work_queue import WorkQueue
from stacks.names import EVENTS_QUEUE, WEBHOOKS_QUEUE
from stacks.settings import EnvironmentSettings


class QueueStack(Stack):
    channel_queues: dict[Channel, WorkQueue]
    events_queue: WorkQueue
    webhooks_queue: WorkQueue

    def __init__(self, scope: Construct, construct_id: str, *, settings: EnvironmentSettings, **kwargs: Any):
        super().__init__(scope, construct_id, **kwargs)
        self.channel_queues = {
            channel: WorkQueue(
                self,
                f"{channel.value.capitalize()}",
                name=channel.value,
                visibility_timeout_seconds=settings.queues.visibility_timeout_seconds,
                settings=settings,
            )
            for channel in ALL_CHANNELS
        }
        self.events_queue = WorkQueue(
            self,
            "Events",
            name=EVENTS_QUEUE,
            visibility_timeout_seconds=settings.events.visibility_timeout_seconds,
            settings=settings,
        )
        # FIFO, grouped by conversation: one conversation's events in order, a failing endpoint
        # holding back only its own conversation's later events.
        self.webhooks_queue = WorkQueue(
            self,
            "Webhooks",
            name=WEBHOOKS_QUEUE,
            visibility_timeout_seconds=settings.webhook_sender.visibility_timeout_seconds,
            settings=settings,
            fifo=True,
            max_receive_count=settings.webhook_sender.max_receive_count,
        )
        # Issue 14 moved the events queue's dashboard out of ProcessorStack, the only importer of
        # this name. A deployed stack's import blocks removing an export (QueueStack deploys first),
        # so it stays exported until every environment has deployed without the import; then delete.
        self.export_value(self.events_queue.queue.queue_name)
