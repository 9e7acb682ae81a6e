"""One channel's processor: its function, the SQS event source that feeds it, and a role that can
do exactly what the pipeline does for that channel and nothing for the others."""

from __future__ import annotations

from aws_cdk import RemovalPolicy, SecretValue
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from shared.channels import Channel
from shared.processing.settings import ProcessorSettings
from shared.secret_names import consent_key_secret_name
from stacks.bundling import asset_hash
from stacks.constructs.consent_access import CONSENT_READ_WRITE, grant_consent_access
from stacks.constructs.python_function import LAMBDAS, PythonFunction
from stacks.constructs.secret_access import acknowledge_credentials_wildcard, grant_secret_reads
from stacks.constructs.wakeup_scheduler import WakeupScheduler
from stacks.constructs.work_queue import WorkQueue
from stacks.nag import acknowledge
from stacks.names import (
    credentials_secret_resource_pattern,
    openai_secret_name,
    openai_secret_resource_pattern,
    processor_name,
)
from stacks.settings import EnvironmentSettings


class ChannelProcessor(Construct):
    function: PythonFunction
    openai_key: secretsmanager.Secret

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        channel: Channel,
        queue: WorkQueue,
        conversations: dynamodb.ITable,
        provider_messages: dynamodb.ITable,
        suppressions: dynamodb.ITable,
        consent_key: secretsmanager.ISecret,
        wakeups: WakeupScheduler,
        settings: EnvironmentSettings,
    ):
        super().__init__(scope, construct_id)
        processor = settings.processor
        folder = f"{channel.value}_processor"
        self.function = PythonFunction(
            self,
            "Processor",
            folder=folder,
            name=processor_name(channel.value),
            settings=settings,
            memory_mb=processor.memory_mb,
            timeout_seconds=processor.timeout_seconds,
            description=f"Writes the first {channel.value} message with OpenAI and sends it exactly once",
            environment=ProcessorSettings(
                channel=channel,
                environment=settings.name,
                conversations_table_name=conversations.table_name,
                provider_messages_table_name=provider_messages.table_name,
                queue_url=queue.queue.queue_url,
                suppressions_table_name=suppressions.table_name,
                consent_key_secret_id=consent_key_secret_name(settings.name),
                conversation_retention_days=settings.data.conversation_retention_days,
                scheduler_group_name=wakeups.group_name,
                scheduler_role_arn=wakeups.role.role_arn,
                dead_letter_queue_url=queue.dead_letter_queue.queue_url,
                heartbeat_interval_seconds=processor.heartbeat_interval_seconds,
                visibility_timeout_seconds=settings.queues.visibility_timeout_seconds,
                # The hash of the processor's sources (handler + shared/ + pins): names the exact code.
                processor_version=asset_hash(LAMBDAS / folder)[:12],
            ).to_environment(),
        )
        role = self.function.role
        # Its own queue only.
        queue.feed(
            self.function.function,
            batch_size=processor.batch_size,
            max_batching_window_seconds=processor.max_batching_window_seconds,
            max_concurrency=processor.max_concurrency,
        )
        # The table only, no index: the processor's one query (a recipient's other conversations)
        # reads the base table by its partition key. Grant an index when code first queries it.
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ConversationRecords",
                actions=["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"],
                resources=[conversations.table_arn],
            )
        )
        # Each send's message item (shared/events/provider_messages.py; the events processor finds the
        # message by it): put once right after the send, read back once after the record names it.
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ProviderMessageItems",
                actions=["dynamodb:GetItem", "dynamodb:PutItem"],
                resources=[provider_messages.table_arn],
            )
        )
        # The re-check right before each send, and the suppression a provider's refusal writes
        # (Twilio 21610 / 21211 …: shared/consent/provider_signals.py).
        grant_consent_access(
            role,
            suppressions=suppressions,
            consent_key=consent_key,
            actions=CONSENT_READ_WRITE,
        )
        # Scheduled first messages: a delayed copy on its own queue, or a schedule in the group.
        wakeups.grant_arm(role, queue.queue)
        grant_secret_reads(
            self,
            role,
            sid="ReadOwnChannelSecrets",
            resource_patterns=(
                openai_secret_resource_pattern(channel.value, settings.name),
                credentials_secret_resource_pattern(channel.value, settings.name),
            ),
        )
        self.openai_key = self._openai_key_shell(channel, settings)
        self._acknowledge(channel, settings)

    def _openai_key_shell(self, channel: Channel, settings: EnvironmentSettings) -> secretsmanager.Secret:
        """The channel's OpenAI key secret, created empty; operators put the key in it once.

        CloudFormation writes ``SecretString`` only when the template's value changes, so a key put
        with ``put-secret-value`` survives every later deploy. Until then the processor fails the
        record with ``failed_secrets_fetch`` naming the empty field.
        """
        return secretsmanager.Secret(
            self,
            "OpenAiKey",
            secret_name=openai_secret_name(channel.value, settings.name),
            description=f'OpenAI API key of the {channel.value} processor: {{"ai_api_key": "sk-..."}}',
            secret_object_value={"ai_api_key": SecretValue.unsafe_plain_text("")},
            removal_policy=RemovalPolicy.RETAIN
            if settings.protection.removal_policy == "retain"
            else RemovalPolicy.DESTROY,
        )

    def _acknowledge(self, channel: Channel, settings: EnvironmentSettings) -> None:
        acknowledge(
            self.openai_key,
            "AwsSolutions-SMG4",
            "A third-party API key: OpenAI issues it, so a rotation Lambda cannot mint a new one. "
            "Operators rotate it at OpenAI and put the new value (docs/decisions.md, issue 4).",
        )
        acknowledge_credentials_wildcard(
            self,
            self.function.role,
            channel=channel.value,
            env=settings.name,
            why=f"one role reads every project's {channel.value} credentials in its environment and no other channel's",
        )
