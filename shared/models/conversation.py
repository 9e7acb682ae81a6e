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


class ConversationRecord(BaseModel):
    model_config = ConfigDict(extra="allow")

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
    recipient_first_name: str | None = None
    recipient_last_name: str | None = None
    recipient_tel: str | None = None
    recipient_email: str | None = None
    project_data: dict[str, Any] = Field(default_factory=dict)
    messages: list[MessageEntry] = Field(default_factory=list)
