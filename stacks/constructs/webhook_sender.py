"""The webhook sender (issue 13): fed by the FIFO webhooks queue, it signs each event and POSTs it
to the project's webhook URL. Its role reads the project's record and its signing secret, updates
the event's log item, delays a message (retry backoff) and moves one to the FIFO DLQ."""

from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from shared.tenant_webhooks.settings import WebhookSenderSettings
from stacks.constructs.policy import allow
from stacks.constructs.python_function import PythonFunction
from stacks.constructs.secret_access import acknowledge_secret_wildcard, grant_secret_reads
from stacks.constructs.work_queue import WorkQueue
from stacks.names import WEBHOOK_SENDER, webhook_secret_resource_pattern
from stacks.settings import EnvironmentSettings

FOLDER = "webhook_sender"


class WebhookSender(Construct):
    function: PythonFunction

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: EnvironmentSettings,
        company_data: dynamodb.ITable,
        webhook_events: dynamodb.ITable,
        webhooks_queue: WorkQueue,
    ):
        super().__init__(scope, construct_id)
        own = settings.webhook_sender
        environment = WebhookSenderSettings(
            environment=settings.name,
            company_table_name=company_data.table_name,
            webhook_events_table_name=webhook_events.table_name,
            webhook_queue_url=webhooks_queue.queue.queue_url,
            webhook_dlq_url=webhooks_queue.dead_letter_queue.queue_url,
            # The POST timeout, backoff and retry window are the code's defaults; local targets
            # (http://, loopback) stay refused: WEBHOOK_ALLOW_LOCAL_TARGETS is for the local stack only.
        )
        check_request_budget(own.timeout_seconds, own.batch_size, environment.request_timeout_seconds)
        self.function = PythonFunction(
            self,
            "Function",
            folder=FOLDER,
            name=WEBHOOK_SENDER,
            settings=settings,
            memory_mb=own.memory_mb,
            timeout_seconds=own.timeout_seconds,
            description="Signs tenants' events (Standard Webhooks) and delivers them to their webhook URLs",
            environment=environment.to_environment(),
        )
        # Receive, delete, delay (ChangeMessageVisibility: the retry backoff) and move to the DLQ.
        webhooks_queue.feed(
            self.function.function,
            batch_size=own.batch_size,
            max_batching_window_seconds=None,  # Lambda has no batching window for FIFO queues
            max_concurrency=own.max_concurrency,
        )
        role = self.function.role
        # The project's current webhook (URL and secret reference) by key, at every delivery.
        allow(role, sid="ProjectConfiguration", actions=["dynamodb:GetItem"], resources=[company_data.table_arn])
        # The event's log item: attempts, last status, delivered at.
        allow(role, sid="EventLog", actions=["dynamodb:UpdateItem"], resources=[webhook_events.table_arn])
        pattern = webhook_secret_resource_pattern(settings.name)
        grant_secret_reads(self, role, sid="WebhookSigningSecrets", resource_patterns=[pattern])
        acknowledge_secret_wildcard(
            self,
            role,
            resource_pattern=pattern,
            reason="The wildcard is the company_id/project_id part of ai-multi-comms/webhook-secrets/"
            f"<company_id>/<project_id>-{settings.name}: one sender signs every project's events of the "
            "environment; GetSecretValue only, and only the secret the project's record names is read.",
        )


def check_request_budget(timeout_seconds: int, batch_size: int, request_timeout_seconds: float) -> None:
    # A batch's POSTs may all wait their full timeout (one FIFO group's messages go one after the
    # other); the function must outlast them, or a batch half-delivered would be delivered again.
    if timeout_seconds < batch_size * request_timeout_seconds + 5:
        raise ValueError(
            "webhook_sender.timeout_seconds must cover batch_size x WEBHOOK_TIMEOUT_SECONDS plus 5 s: "
            f"{timeout_seconds} < {batch_size} x {request_timeout_seconds} + 5"
        )
