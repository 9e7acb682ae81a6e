"""ProcessorStack: one processor per channel, fed by its queue; the events processor, fed by the
events queue; the tenant-events function, fed by the conversations table's stream, and the webhook
sender, fed by the FIFO webhooks queue (issue 13); and the critical alerts that watch them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from shared.channels import ALL_CHANNELS, Channel
from stacks.constructs.channel_processor import ChannelProcessor
from stacks.constructs.events_processor import EventsProcessor
from stacks.constructs.monitoring import Monitoring
from stacks.constructs.tenant_events import TenantEvents
from stacks.constructs.wakeup_scheduler import WakeupScheduler
from stacks.constructs.webhook_sender import WebhookSender
from stacks.constructs.work_queue import WorkQueue
from stacks.settings import EnvironmentSettings


class ProcessorStack(Stack):
    processors: dict[Channel, ChannelProcessor]
    events_processor: EventsProcessor
    tenant_events: TenantEvents
    webhook_sender: WebhookSender
    monitoring: Monitoring
    wakeups: WakeupScheduler

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: EnvironmentSettings,
        conversations: dynamodb.ITable,
        provider_messages: dynamodb.ITable,
        company_data: dynamodb.ITable,
        suppressions: dynamodb.ITable,
        webhook_events: dynamodb.ITable,
        consent_key: secretsmanager.ISecret,
        channel_queues: Mapping[Channel, WorkQueue],
        events_queue: WorkQueue,
        webhooks_queue: WorkQueue,
        **kwargs: Any,
    ):
        super().__init__(scope, construct_id, **kwargs)
        self.wakeups = WakeupScheduler(
            self,
            "Wakeups",
            env=settings.name,
            channel_queues=[q.queue for q in channel_queues.values()],
            dead_letter_queues=[q.dead_letter_queue for q in channel_queues.values()],
        )
        self.processors = {
            channel: ChannelProcessor(
                self,
                channel.value.capitalize(),
                channel=channel,
                queue=channel_queues[channel],
                conversations=conversations,
                provider_messages=provider_messages,
                suppressions=suppressions,
                consent_key=consent_key,
                wakeups=self.wakeups,
                settings=settings,
            )
            for channel in ALL_CHANNELS
        }
        self.events_processor = EventsProcessor(
            self,
            "Events",
            queue=events_queue,
            conversations=conversations,
            provider_messages=provider_messages,
            company_data=company_data,
            suppressions=suppressions,
            consent_key=consent_key,
            channel_queues=channel_queues,
            settings=settings,
        )
        self.tenant_events = TenantEvents(
            self,
            "TenantEvents",
            settings=settings,
            conversations=conversations,
            company_data=company_data,
            webhook_events=webhook_events,
            webhooks_queue=webhooks_queue,
        )
        self.webhook_sender = WebhookSender(
            self,
            "WebhookSender",
            settings=settings,
            company_data=company_data,
            webhook_events=webhook_events,
            webhooks_queue=webhooks_queue,
        )
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            settings=settings,
            processors={channel: p.function.function for channel, p in self.processors.items()},
            channel_queues=channel_queues,
            events_processor=self.events_processor.function.function,
            events_queue=events_queue,
            tenant_events=self.tenant_events.function.function,
            stream_failures=self.tenant_events.stream_failures,
            webhook_sender=self.webhook_sender.function.function,
            webhooks_queue=webhooks_queue,
        )
