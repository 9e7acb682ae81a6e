"""The tenant events (issue 13): what the engine tells a project's webhook, as Standard Webhooks.

Derived from the changes of a conversation record (shared/tenant_events/), delivered by the
webhook sender (shared/tenant_webhooks/), documented by ``tools.openapi`` (OpenAPI 3.1
``webhooks``) from these models. The body is ``WebhookEvent``; the ``webhook-id`` header is its
``id``, stable across redeliveries and replays, so the tenant dedupes on it.
"""

from __future__ import annotations

import hashlib
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from shared.channels import Channel
from shared.models.conversation import ConversationStatus
from shared.models.tenant_api import MessageView


class WebhookEventType(StrEnum):
    SCHEDULED = "conversation.scheduled"
    SENT = "conversation.sent"
    DELIVERED = "conversation.delivered"
    READ = "conversation.read"
    FAILED = "conversation.failed"
    REPLY_RECEIVED = "conversation.reply_received"
    REPLY_SENT = "conversation.reply_sent"
    NEEDS_HUMAN = "conversation.needs_human"
    COMPLETED = "conversation.completed"
    OPTED_OUT = "conversation.opted_out"


class DeliveryView(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message_id: str = Field(description="The provider's id of the message this status is about.")
    status: str
    error_code: str | None = None


class WebhookEventData(BaseModel):
    model_config = ConfigDict(extra="forbid")

    conversation_id: str
    company_id: str
    project_id: str
    request_id: str
    channel: Channel
    conversation_status: ConversationStatus
    delivery_status: str | None = None
    task_complete: bool
    message: MessageView | None = Field(
        default=None, description="sent, reply_received, reply_sent: the message the event is about."
    )
    delivery: DeliveryView | None = Field(default=None, description="delivered, read, failed (delivery).")
    reason: str | None = Field(
        default=None,
        description="failed: the failure's category; needs_human: the hand-over reason; "
        "opted_out: the suppression reason.",
    )
    scheduled_for: str | None = Field(default=None, description="scheduled: when the first message goes (UTC).")


class WebhookEvent(BaseModel):
    """The body of one delivery (Standard Webhooks: ``type``, ``timestamp``, ``data``)."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="Also the webhook-id header: the same on every delivery of this event.")
    type: WebhookEventType
    timestamp: str = Field(description="When it happened (ISO 8601, UTC).")
    data: WebhookEventData


def event_id(conversation_id: str, event_type: WebhookEventType, discriminator: str = "") -> str:
    """``evt_`` + 32 hex: the same conversation, type and discriminator always give the same id
    (a stream record processed twice, a redelivery, an operator's replay)."""
    digest = hashlib.sha256(f"{conversation_id}\n{event_type.value}\n{discriminator}".encode()).hexdigest()
    return f"evt_{digest[:32]}"
