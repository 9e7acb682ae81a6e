"""Builds the tenant-events function's handler (the conversations table's stream → tenant events):
settings, clients and the publisher, once per container."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from botocore.config import Config

from shared.tenant_events.event_log import WebhookEventLog
from shared.tenant_events.event_queue import WebhookQueue
from shared.tenant_events.project_webhooks import ProjectWebhooks
from shared.tenant_events.publisher import TenantEventPublisher
from shared.tenant_events.settings import TenantEventsSettings
from shared.tenant_events.stream_batch import process_stream_batch

SERVICE = "tenant-events"
_AWS = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=3, read_timeout=10)


def lambda_handler(environ: Mapping[str, str]) -> Callable[[dict[str, Any], Any], dict]:
    settings = TenantEventsSettings.from_variables(environ)
    logger = Logger(service=SERVICE)
    session = boto3.session.Session()
    dynamodb = session.client("dynamodb", config=_AWS)
    publisher = TenantEventPublisher(
        webhooks=ProjectWebhooks(dynamodb, settings.company_table_name),
        log=WebhookEventLog(dynamodb, settings.webhook_events_table_name),
        queue=WebhookQueue(session.client("sqs", config=_AWS), settings.webhook_queue_url),
        retention_days=settings.conversation_retention_days,
    )

    @logger.inject_lambda_context(clear_state=True)
    def handler(event: dict[str, Any], context: Any) -> dict:
        return process_stream_batch(event, publisher, logger)

    return handler
