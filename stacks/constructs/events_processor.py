"""The events processor: its function, the SQS event source on the events queue, and a role that
can apply a verified provider event to the message and conversation it names, record the person's
message on its conversation and queue the reply job, and nothing else."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from shared.channels import Channel
from shared.events.settings import EventsSettings
from shared.secret_names import consent_key_secret_name
from shared.tables import EMAIL_REPLY_INDEX, REPLY_TOKEN_INDEX, SMS_REPLY_INDEX, WHATSAPP_REPLY_INDEX
from stacks.bundling import asset_hash
from stacks.constructs.consent_access import CONSENT_READ_WRITE, grant_consent_access
from stacks.constructs.python_function import LAMBDAS, PythonFunction
from stacks.constructs.work_queue import WorkQueue
from stacks.names import EVENTS_PROCESSOR
from stacks.settings import EnvironmentSettings

FOLDER = "events_processor"
REPLY_INDEXES = (WHATSAPP_REPLY_INDEX, SMS_REPLY_INDEX, EMAIL_REPLY_INDEX, REPLY_TOKEN_INDEX)


class EventsProcessor(Construct):
    function: PythonFunction

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        queue: WorkQueue,
        conversations: dynamodb.ITable,
        provider_messages: dynamodb.ITable,
        company_data: dynamodb.ITable,
        suppressions: dynamodb.ITable,
        consent_key: secretsmanager.ISecret,
        channel_queues: Mapping[Channel, WorkQueue],
        settings: EnvironmentSettings,
    ):
        super().__init__(scope, construct_id)
        events = settings.events
        self.function = PythonFunction(
            self,
            "Processor",
            folder=FOLDER,
            name=EVENTS_PROCESSOR,
            settings=settings,
            memory_mb=events.memory_mb,
            timeout_seconds=events.timeout_seconds,
            description="Applies Twilio/SendGrid status events to their messages and records the person's replies",
            environment=EventsSettings(
                environment=settings.name,
                conversations_table_name=conversations.table_name,
                provider_messages_table_name=provider_messages.table_name,
                queue_url=queue.queue.queue_url,
                dead_letter_queue_url=queue.dead_letter_queue.queue_url,
                visibility_timeout_seconds=events.visibility_timeout_seconds,
                max_receive_count=settings.queues.max_receive_count,
                # The hash of the function's sources (handler + shared/ + pins): names the exact code.
                processor_version=asset_hash(LAMBDAS / FOLDER)[:12],
                company_table_name=company_data.table_name,
                whatsapp_queue_url=channel_queues[Channel.WHATSAPP].queue.queue_url,
                sms_queue_url=channel_queues[Channel.SMS].queue.queue_url,
                email_queue_url=channel_queues[Channel.EMAIL].queue.queue_url,
                suppressions_table_name=suppressions.table_name,
                consent_key_secret_id=consent_key_secret_name(settings.name),
                conversation_retention_days=settings.data.conversation_retention_days,
            ).to_environment(),
        )
        role = self.function.role
        queue.feed(
            self.function.function,
            batch_size=events.batch_size,
            max_batching_window_seconds=events.max_batching_window_seconds,
            max_concurrency=events.max_concurrency,
        )
        # Explicit statements, not table.grant(): grant() adds the table's indexes, and the events
        # processor reads and writes items by key only.
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ProviderMessageItems",
                # Get the message by its provider id, update its status conditionally on the rank,
                # put an ``unmatched#`` item for an event no message of that tenant has.
                actions=["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:PutItem"],
                resources=[provider_messages.table_arn],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ConversationRecords",
                # The conversation's latest delivery status and the person's messages, by its key:
                # never a new record or a scan.
                actions=["dynamodb:GetItem", "dynamodb:UpdateItem"],
                resources=[conversations.table_arn],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReplyMatching",
                # The reply indexes only (keys-only): the matcher reads each record by key.
                actions=["dynamodb:Query"],
                resources=[f"{conversations.table_arn}/index/{name}" for name in REPLY_INDEXES],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ProjectConfiguration",
                # The project's record by key, to build the reply job (whether and how to answer).
                actions=["dynamodb:GetItem"],
                resources=[company_data.table_arn],
            )
        )
        # STOP / START keywords and the providers' opt-out signals (issue 12).
        grant_consent_access(
            role,
            suppressions=suppressions,
            consent_key=consent_key,
            actions=CONSENT_READ_WRITE,
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReplyJobs",
                # SQS-managed encryption: no key to grant.
                actions=["sqs:SendMessage"],
                resources=[channel_queues[channel].queue.queue_arn for channel in Channel],
            )
        )
