"""Builds the webhook sender's Lambda handler: settings, clients and the batch, once per container."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from botocore.config import Config

from shared.processing.metric_names import NAMESPACE
from shared.routing.company_directory import CompanyDirectory
from shared.tenant_webhooks import target
from shared.tenant_webhooks.batch import WebhookBatch
from shared.tenant_webhooks.delivery import WebhookDelivery, utc_now
from shared.tenant_webhooks.delivery_log import DeliveryLog
from shared.tenant_webhooks.settings import WebhookSenderSettings
from shared.tenant_webhooks.signing_secrets import SigningSecrets

SERVICE = "webhook-sender"
_AWS = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=3, read_timeout=10)


def lambda_handler(
    environ: Mapping[str, str], *, resolver: target.Resolver = target.system_resolver
) -> Callable[[dict[str, Any], Any], dict]:
    """``resolver``: only tests pass one (to make a name answer a private address)."""
    settings = WebhookSenderSettings.from_variables(environ)
    logger = Logger(service=SERVICE)
    metrics = Metrics(namespace=environ.get("POWERTOOLS_METRICS_NAMESPACE") or NAMESPACE, service=SERVICE)
    session = boto3.session.Session()
    dynamodb = session.client("dynamodb", config=_AWS)
    delivery = WebhookDelivery(
        companies=CompanyDirectory(dynamodb, settings.company_table_name),
        secrets=SigningSecrets(session.client("secretsmanager", config=_AWS), environment=settings.environment),
        settings=settings,
        logger=logger,
        resolver=resolver,
    )
    batch = WebhookBatch(
        delivery=delivery,
        log=DeliveryLog(dynamodb, settings.webhook_events_table_name, logger),
        sqs=session.client("sqs", config=_AWS),
        settings=settings,
        logger=logger,
        metrics=metrics,
        clock=utc_now,
    )

    @logger.inject_lambda_context(clear_state=True)
    @metrics.log_metrics
    def handler(event: dict[str, Any], context: Any) -> dict:
        return batch.process(event)

    return handler
