"""The tenant-events function (issue 13): fed by the conversations table's stream, it derives each
change's events and, for projects with a webhook, logs them and queues them on the FIFO webhooks
queue. Its role reads the stream, the project's record, puts log items and sends to that queue."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from shared.tenant_events.settings import TenantEventsSettings
from stacks.constructs.policy import allow
from stacks.constructs.python_function import PythonFunction
from stacks.constructs.work_queue import WorkQueue
from stacks.nag import acknowledge
from stacks.names import TENANT_EVENTS, dlq_name
from stacks.settings import EnvironmentSettings, TenantEventsFunctionSettings

FOLDER = "tenant_events"


class TenantEvents(Construct):
    function: PythonFunction
    # Where the event source records a batch it gave up on: the shard and sequence range (the
    # records themselves stay in the stream for 24 h), never a conversation's content.
    stream_failures: sqs.Queue

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: EnvironmentSettings,
        conversations: dynamodb.ITable,
        company_data: dynamodb.ITable,
        webhook_events: dynamodb.ITable,
        webhooks_queue: WorkQueue,
    ):
        super().__init__(scope, construct_id)
        own = settings.tenant_events
        self.function = PythonFunction(
            self,
            "Function",
            folder=FOLDER,
            name=TENANT_EVENTS,
            settings=settings,
            memory_mb=own.memory_mb,
            timeout_seconds=own.timeout_seconds,
            description="Derives tenants' events from conversation changes and queues them for their webhooks",
            environment=TenantEventsSettings(
                environment=settings.name,
                company_table_name=company_data.table_name,
                webhook_events_table_name=webhook_events.table_name,
                webhook_queue_url=webhooks_queue.queue.queue_url,
                conversation_retention_days=settings.data.conversation_retention_days,
            ).to_environment(),
        )
        self.stream_failures = sqs.Queue(
            self,
            "StreamFailures",
            queue_name=dlq_name(TENANT_EVENTS, settings.name),
            retention_period=Duration.days(settings.queues.dlq_retention_days),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
        )
        acknowledge(
            self.stream_failures,
            "AwsSolutions-SQS3",
            "This queue is itself a dead-letter destination: the on-failure destination of the "
            "conversations stream's event source (it holds shard/sequence ranges, nothing retried).",
        )
        self._consume(conversations, own)
        self._grant(company_data, webhook_events, webhooks_queue)

    def _consume(self, conversations: dynamodb.ITable, own: TenantEventsFunctionSettings) -> None:
        function: lambda_.Function = self.function.function
        function.add_event_source(
            event_sources.DynamoEventSource(
                conversations,
                # From the oldest record the stream still holds: a new or re-created mapping
                # misses no change (derivation is idempotent: the same ids again).
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=own.batch_size,
                max_batching_window=Duration.seconds(own.max_batching_window_seconds),
                # A failing record is isolated by halving the batch, reported by sequence number,
                # retried a bounded number of times, then recorded in the DLQ so the shard moves on.
                bisect_batch_on_error=True,
                report_batch_item_failures=True,
                retry_attempts=own.retry_attempts,
                max_record_age=Duration.seconds(own.max_record_age_seconds),
                on_failure=event_sources.SqsDlq(self.stream_failures),
            )
        )
        acknowledge(
            self.function.role,
            "AwsSolutions-IAM5[Resource::*]",
            "dynamodb:ListStreams has no resource-level permission (AWS lists it with Resource *); "
            "the event source grants it with the stream reads, which are on this table's stream only.",
        )

    def _grant(self, company_data: dynamodb.ITable, webhook_events: dynamodb.ITable, queue: WorkQueue) -> None:
        role = self.function.role
        # The project's record by key: whether it has a webhook at all.
        allow(role, sid="ProjectConfiguration", actions=["dynamodb:GetItem"], resources=[company_data.table_arn])
        # One conditional put per event (the same event again is refused, not rewritten).
        allow(role, sid="EventLog", actions=["dynamodb:PutItem"], resources=[webhook_events.table_arn])
        # SQS-managed encryption: no key to grant.
        allow(role, sid="WebhooksQueue", actions=["sqs:SendMessage"], resources=[queue.queue.queue_arn])
