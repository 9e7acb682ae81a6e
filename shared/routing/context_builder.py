"""Builds the context message a channel processor receives, and its queue body.

Only the requested channel's slice of the project configuration travels: a WhatsApp processor
never sees the SendGrid secret id, and the message stays small.
"""

from __future__ import annotations

from datetime import datetime

from shared import json_codec
from shared.api_errors import ConfigurationError, PayloadTooLarge
from shared.channels import Channel
from shared.identifiers import conversation_id
from shared.models.company import AnyChannelConfig, ChannelConfig, CompanyRecord, OpenAiChannelConfig
from shared.models.context import ContextMessage, ContextMetadata, ProjectSlice, Schedule
from shared.models.request import InitiateRequest

# SQS takes up to 256 KiB per message in every region and SDK; half of it keeps a wide margin for
# attributes and for a processor that adds to the message when it re-queues it.
MAX_QUEUE_MESSAGE_BYTES = 128 * 1024


def build_context(
    request: InitiateRequest,
    record: CompanyRecord,
    *,
    router_version: str,
    queued_at: datetime,
    correlation_id: str | None,
    callback_base_url: str | None,
    schedule: Schedule | None = None,
) -> ContextMessage:
    channel = request.channel
    channel_config = _channel_config(record, channel)
    return ContextMessage(
        conversation_id=conversation_id(
            company_id=request.company_data.company_id,
            project_id=request.company_data.project_id,
            request_id=request.request_data.request_id,
            channel=channel,
            sender=channel_config.sender_address,
        ),
        channel=channel,
        company_data=request.company_data,
        recipient_data=request.recipient_data,
        project_data=request.project_data,
        request_data=request.request_data,
        project=project_slice(record, channel),
        metadata=ContextMetadata(
            router_version=router_version,
            queued_at=queued_at,
            correlation_id=correlation_id,
            callback_base_url=callback_base_url,
        ),
        schedule=schedule,
    )


def project_slice(record: CompanyRecord, channel: Channel) -> ProjectSlice:
    """The part of the project's configuration a processor of ``channel`` needs (the context
    message's and the reply job's); ``ConfigurationError`` when the project cannot use the channel."""
    return ProjectSlice(
        company_name=record.company_name,
        project_name=record.project_name,
        company_rep=record.company_rep,
        rate_limits=record.rate_limits,
        channel_config=_channel_config(record, channel),
        ai_config=_ai_config(record, channel),
        contact_channels=_contact_channels(record),
        allowed_link_domains=record.allowed_link_domains,
        # Only what a processor uses: the send windows stay with the router.
        consent=record.consent.model_copy(update={"send_windows": None}),
    )


def queue_body(message: ContextMessage) -> str:
    """The message as JSON (numbers kept exact), refused if it would not fit a queue message."""
    body = json_codec.dumps(message.model_dump())
    if len(body.encode("utf-8")) > MAX_QUEUE_MESSAGE_BYTES:
        raise PayloadTooLarge(
            f"The request and the project's configuration together exceed {MAX_QUEUE_MESSAGE_BYTES} bytes"
        )
    return body


def _channel_config(record: CompanyRecord, channel: Channel) -> AnyChannelConfig:
    config = record.channel_config.for_channel(channel)
    if config is None:
        raise ConfigurationError(f"The project has no {channel.value} channel configuration")
    return config


def _ai_config(record: CompanyRecord, channel: Channel) -> OpenAiChannelConfig:
    config = record.ai_config.openai_config.get(channel)
    if config is None:
        raise ConfigurationError(f"The project has no AI configuration for the {channel.value} channel")
    if config.is_legacy_only:
        # The Assistants API is gone (DESIGN §6): refuse now rather than queue a message that fails.
        raise ConfigurationError(
            f"The project's AI configuration for {channel.value} names only a retired OpenAI Assistant; "
            "it needs a model and template_sender instructions"
        )
    return config


def _contact_channels(record: CompanyRecord) -> dict[str, str]:
    configs: ChannelConfig = record.channel_config
    return {
        channel.value: config.sender_address
        for channel in record.allowed_channels
        if (config := configs.for_channel(channel)) is not None
    }
