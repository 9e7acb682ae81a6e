"""Builds a channel processor's Lambda handler: settings, clients and the pipeline, once per container."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from botocore.config import Config

from shared.consent.address_hash import load_hasher
from shared.events.provider_messages import ProviderMessages
from shared.processing import metric_names
from shared.processing.adapters import ChannelAdapter
from shared.processing.ai_writer import AiWriter
from shared.processing.batch import BatchProcessor
from shared.processing.conversation_repository import ConversationRepository
from shared.processing.credentials import SecretReader
from shared.processing.pipeline import Pipeline
from shared.processing.recipient_consent import RecipientConsent
from shared.processing.replies.turns import ReplyTurns
from shared.processing.settings import ProcessorSettings
from shared.processing.telemetry import ProcessorTelemetry
from shared.processing.wakeups import Wakeups
from shared.secret_names import credentials_secret_prefix, openai_secret_prefix

# A batch runs up to ten records and ten heartbeats at once; the default pool of 10 would queue them.
_AWS = Config(
    retries={"mode": "standard", "max_attempts": 3},
    connect_timeout=3,
    read_timeout=10,
    max_pool_connections=32,
)


def lambda_handler(adapter: ChannelAdapter, environ: Mapping[str, str]) -> Callable[[dict[str, Any], Any], dict]:
    settings = ProcessorSettings.from_environ(environ, channel=adapter.channel)
    service = f"{adapter.channel.value}-processor"
    logger = Logger(service=service)
    metrics = Metrics(namespace=environ.get("POWERTOOLS_METRICS_NAMESPACE") or metric_names.NAMESPACE, service=service)
    telemetry = ProcessorTelemetry(metrics)
    session = boto3.session.Session()
    channel = adapter.channel.value
    dynamodb = session.client("dynamodb", config=_AWS)
    secretsmanager = session.client("secretsmanager", config=_AWS)
    # Email signs each recipient's unsubscribe link (issue 12); the key is read at the first send.
    adapter.use_consent_key(lambda: load_hasher(secretsmanager, settings.consent_key_secret_id))
    sqs = session.client("sqs", config=_AWS)
    pipeline = Pipeline(
        adapter=adapter,
        settings=settings,
        repository=ConversationRepository(dynamodb, settings.conversations_table_name),
        provider_messages=ProviderMessages(dynamodb, settings.provider_messages_table_name),
        secrets=SecretReader(
            secretsmanager,
            allowed_prefixes=(credentials_secret_prefix(channel), openai_secret_prefix(channel)),
        ),
        ai=AiWriter(
            base_url=settings.openai_base_url,
            timeout_seconds=settings.ai_timeout_seconds,
            max_retries=settings.ai_max_retries,
            telemetry=telemetry,
        ),
        consent=RecipientConsent(
            dynamodb, settings.suppressions_table_name, secretsmanager, settings.consent_key_secret_id
        ),
        wakeups=Wakeups(sqs=sqs, scheduler=session.client("scheduler", config=_AWS), settings=settings, logger=logger),
        logger=logger,
        metrics=metrics,
        telemetry=telemetry,
    )
    batch = BatchProcessor(
        pipeline=pipeline,
        turns=ReplyTurns(pipeline),
        sqs=sqs,
        settings=settings,
        logger=logger,
        metrics=metrics,
    )

    @logger.inject_lambda_context(clear_state=True)
    @metrics.log_metrics
    def handler(event: dict[str, Any], context: Any) -> dict:
        return batch.process(event)

    return handler
