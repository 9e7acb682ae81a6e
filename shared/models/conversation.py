"""A record of the conversations table: the state machine of one conversation (DESIGN §4, §7)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.channels import Channel


class ConversationStatus(StrEnum):
    PROCESSING = "processing"
    AI_GENERATED = "ai_generated"
    SENDING = "sending"
    INITIAL_MESSAGE_SENT = "initial_message_sent"
    FAILED_SECRETS_FETCH = "failed_secrets_fetch"
    FAILED_TO_PROCESS_AI = "failed_to_process_ai"
    # The AI's message pointed to a link, number or address the project did not supply: not sent.
    FAILED_CONTENT_CHECK = "failed_content_check"
    FAILED_TO_SEND_MESSAGE = "failed_to_send_message"
    FAILED_UNKNOWN = "failed_unknown"
    SEND_UNCONFIRMED = "send_unconfirmed"

    @property
    def is_final(self) -> bool:
        return self not in (
            ConversationStatus.PROCESSING,
            ConversationStatus.AI_GENERATED,
            ConversationStatus.SENDING,
        )


class MessageEntry(BaseModel):
    message_id: str
    timestamp: str
    role: str
    content: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class TokenUsage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class ConversationRecord(BaseModel):
    # Every attribute the engine writes is declared here (the repository refuses to write an
    # undeclared one). Reads ignore unknown attributes rather than forbid them: during a deploy an
    # older processor may read a record a newer one wrote, and must not fail on its new fields.
    model_config = ConfigDict(extra="ignore")

    primary_channel: str
    conversation_id: str
    company_id: str
    project_id: str
    request_id: str
    channel_method: Channel
    conversation_status: ConversationStatus
    created_at: str
    updated_at: str
    task_complete: int = 0
    # The exclusive claim (docs/decisions.md, "Hardening (issue 9) — exactly once"): every write
    # expects the version this delivery read and the exact status, increments the version and
    # names the delivery that wrote it, so exactly one delivery moves each step and a retried
    # write whose answer was lost is recognised as our own. Records written before issue 9 have none (0).
    version: int = 0
    written_by: str | None = None
    recipient_first_name: str | None = None
    recipient_last_name: str | None = None
    recipient_tel: str | None = None
    recipient_email: str | None = None
    comms_consent: bool | None = None
    project_data: dict[str, Any] = Field(default_factory=dict)
    messages: list[MessageEntry] = Field(default_factory=list)

    # Written by the channel processors (issue 4). The gsi_* pairs are sparse: only the pair of the
    # record's channel is present, so each reply-matching index holds only its channel's records.
    gsi_company_whatsapp_number: str | None = None
    gsi_company_sms_number: str | None = None
    gsi_company_email: str | None = None
    gsi_recipient_tel: str | None = None
    gsi_recipient_email: str | None = None
    company_name: str | None = None
    project_name: str | None = None
    company_sender: str | None = None
    initial_request_timestamp: str | None = None
    router_version: str | None = None
    processor_version: str | None = None
    context_schema_version: str | None = None
    ai_content: dict[str, str] | None = None
    ai_response_id: str | None = None
    ai_model: str | None = None
    prompt_version: str | None = None
    ai_usage: TokenUsage | None = None
    send_started_at: str | None = None
    provider_message_id: str | None = None
    sent_at: str | None = None
    initial_processing_time_ms: int | None = None
    failure_reason: str | None = None
    last_error: str | None = None

    # Delivery status of the latest outbound message (``provider_message_id``), as its provider
    # reports it (shared/events/delivery_status.py): separate from ``conversation_status``, only
    # moves forward (``delivery_rank``), written by the events processor without touching
    # ``version``, which guards the processing state machine only.
    delivery_status: str | None = None
    delivery_rank: int | None = None
    delivery_updated_at: str | None = None
    delivery_error_code: str | None = None
    delivery_error_reason: str | None = None
    # Engagement (SendGrid open/click), kept apart from delivery: first time seen.
    first_opened_at: str | None = None
    first_clicked_at: str | None = None


# The record's state machine (DESIGN §7): every write of ``conversation_status`` is a conditional
# update from one of the states listed here, so two deliveries of one message cannot both move on.
TRANSITIONS: dict[ConversationStatus, frozenset[ConversationStatus]] = {
    ConversationStatus.PROCESSING: frozenset(
        {
            ConversationStatus.AI_GENERATED,
            ConversationStatus.FAILED_SECRETS_FETCH,
            ConversationStatus.FAILED_TO_PROCESS_AI,
            ConversationStatus.FAILED_TO_SEND_MESSAGE,
            ConversationStatus.FAILED_UNKNOWN,
        }
    ),
    ConversationStatus.AI_GENERATED: frozenset(
        {
            ConversationStatus.SENDING,
            # the stored content names a link, number or address the project did not supply
            ConversationStatus.FAILED_CONTENT_CHECK,
            ConversationStatus.FAILED_SECRETS_FETCH,
            ConversationStatus.FAILED_TO_SEND_MESSAGE,
            ConversationStatus.FAILED_UNKNOWN,
        }
    ),
    ConversationStatus.SENDING: frozenset(
        {
            ConversationStatus.INITIAL_MESSAGE_SENT,
            # the provider answered with an error: nothing was sent, the stored content is reused
            ConversationStatus.AI_GENERATED,
            # a resend after the provider said no message exists (a new send_started_at)
            ConversationStatus.SENDING,
            ConversationStatus.FAILED_SECRETS_FETCH,
            ConversationStatus.FAILED_TO_SEND_MESSAGE,
            ConversationStatus.SEND_UNCONFIRMED,
        }
    ),
    # A send that was in flight when another delivery gave up on it may still report success.
    ConversationStatus.SEND_UNCONFIRMED: frozenset({ConversationStatus.INITIAL_MESSAGE_SENT}),
}


def may_move(source: ConversationStatus, target: ConversationStatus) -> bool:
    return target in TRANSITIONS.get(source, frozenset())
