"""Builds the webhook ingress's Lambda handler: settings, clients and the flow, once per container."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from botocore.config import Config

from shared.channels import ALL_CHANNELS
from shared.consent.address_hash import load_hasher
from shared.consent.suppressions import SuppressionList
from shared.log_masking import describe_error, masked_traceback
from shared.processing import metric_names
from shared.processing.credentials import SecretReader
from shared.routing.company_directory import CompanyDirectory
from shared.secret_names import credentials_secret_prefix
from shared.webhooks import responses
from shared.webhooks.event_queue import EventQueue
from shared.webhooks.ingress import Ingress
from shared.webhooks.project_secrets import ProjectSecrets
from shared.webhooks.settings import WebhookSettings
from shared.webhooks.unsubscribe import OneClickUnsubscribe
from shared.webhooks.verification_keys import VerificationKeys

SERVICE = "webhook-ingress"

# A provider waits only seconds for the answer, so each call is kept short (as the router's): a
# slow dependency is answered 503, which the provider can retry, not left to a timeout.
_AWS = Config(
    retries={"mode": "standard", "total_max_attempts": 3},
    connect_timeout=1,
    read_timeout=2,
    tcp_keepalive=True,
)


def lambda_handler(environ: Mapping[str, str]) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    settings = WebhookSettings.from_variables(environ)
    logger = Logger(service=SERVICE)
    metrics = Metrics(namespace=environ.get("POWERTOOLS_METRICS_NAMESPACE") or metric_names.NAMESPACE, service=SERVICE)
    session = boto3.session.Session()
    dynamodb = session.client("dynamodb", config=_AWS)
    secretsmanager = session.client("secretsmanager", config=_AWS)
    directory = CompanyDirectory(dynamodb, settings.company_table_name)
    ingress = Ingress(
        settings=settings,
        projects=ProjectSecrets(directory, settings.environment),
        keys=VerificationKeys(
            # Only the provider credentials of the channels: never the OpenAI keys (IAM says the same).
            SecretReader(
                secretsmanager,
                allowed_prefixes=tuple(credentials_secret_prefix(channel.value) for channel in ALL_CHANNELS),
            )
        ),
        queue=EventQueue(session.client("sqs", config=_AWS), settings.events_queue_url),
        unsubscribe=OneClickUnsubscribe(
            # Read at the first unsubscribe request, then cached: the webhooks never need it.
            hasher=lambda: load_hasher(secretsmanager, settings.consent_key_secret_id),
            suppressions=lambda hasher: SuppressionList(dynamodb, settings.suppressions_table_name, hasher),
            directory=directory,
            logger=logger,
            metrics=metrics,
        ),
        logger=logger,
        metrics=metrics,
    )

    # log_event=False explicitly: the event holds signatures and addresses, whatever the env says.
    @logger.inject_lambda_context(
        correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False, clear_state=True
    )
    @metrics.log_metrics
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        try:
            return ingress.handle(event)
        except Exception as error:  # the one outermost catch: log the cause (masked); the provider re-posts
            metrics.add_metric(name=metric_names.WEBHOOK_REJECTED, unit=MetricUnit.Count, value=1)
            logger.error("Unexpected failure", extra={"cause": describe_error(error), "trace": masked_traceback(error)})
            return responses.bare(500)

    return handler
