"""Builds the events processor's Lambda handler: settings, clients and the appliers (status events,
the person's messages, the suppression list they write), once per container."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from botocore.config import Config

from shared.channels import Channel
from shared.events.applier import EventApplier
from shared.events.batch import EventsBatch
from shared.events.channel_metrics import SERVICE, ChannelCounts
from shared.events.provider_messages import ProviderMessages
from shared.events.settings import EventsSettings
from shared.events.suppression_writes import EventSuppressions
from shared.processing import metric_names
from shared.processing.conversation_repository import ConversationRepository
from shared.replies.inbound_applier import InboundApplier
from shared.replies.inbound_consent import InboundConsent
from shared.replies.inbound_records import InboundRecords
from shared.replies.matching import ReplyMatcher
from shared.replies.reply_queue import ReplyJobQueues
from shared.routing.company_directory import CompanyDirectory

_AWS = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=3, read_timeout=10)


def lambda_handler(environ: Mapping[str, str]) -> Callable[[dict[str, Any], Any], dict]:
    settings = EventsSettings.from_variables(environ)
    logger = Logger(service=SERVICE)
    namespace = environ.get("POWERTOOLS_METRICS_NAMESPACE") or metric_names.NAMESPACE
    metrics = Metrics(namespace=namespace, service=SERVICE)
    # Per-channel counts (delivered, read, replies, opt-outs) need a dimension per record.
    channel_counts = ChannelCounts(namespace=namespace, service=SERVICE)
    session = boto3.session.Session()
    dynamodb = session.client("dynamodb", config=_AWS)
    sqs = session.client("sqs", config=_AWS)
    messages = ProviderMessages(dynamodb, settings.provider_messages_table_name)
    conversations = ConversationRepository(dynamodb, settings.conversations_table_name)
    suppressions = EventSuppressions(
        dynamodb,
        session.client("secretsmanager", config=_AWS),
        settings.suppressions_table_name,
        settings.consent_key_secret_id,
    )
    inbound = InboundApplier(
        matcher=ReplyMatcher(dynamodb, settings.conversations_table_name),
        records=InboundRecords(
            dynamodb,
            settings.conversations_table_name,
            conversations,
            retention_days=settings.conversation_retention_days,
        ),
        consent=InboundConsent(
            suppressions=suppressions,
            repository=conversations,
            logger=logger,
            metrics=metrics,
            channel_counts=channel_counts,
        ),
        messages=messages,
        companies=CompanyDirectory(dynamodb, settings.company_table_name),
        queues=ReplyJobQueues(
            sqs,
            {
                Channel.WHATSAPP: settings.whatsapp_queue_url,
                Channel.SMS: settings.sms_queue_url,
                Channel.EMAIL: settings.email_queue_url,
            },
        ),
        settings=settings,
        logger=logger,
        metrics=metrics,
        channel_counts=channel_counts,
    )
    applier = EventApplier(
        messages=messages,
        conversations=conversations,
        suppressions=suppressions,
        settings=settings,
        logger=logger,
        metrics=metrics,
        inbound=inbound,
        channel_counts=channel_counts,
    )
    batch = EventsBatch(applier=applier, sqs=sqs, settings=settings, logger=logger, metrics=metrics)

    @logger.inject_lambda_context(clear_state=True)
    @metrics.log_metrics
    def handler(event: dict[str, Any], context: Any) -> dict:
        return batch.process(event)

    return handler
