"""What the tenant's read API answers (issue 13): a conversation as its tenant may see it.

The one place that decides what of a record leaves the engine: the processing and delivery
status, the timestamps and the message history with the personal data the tenant sent, and
never provider credentials, internal errors (``last_error``), AI response ids, claim tokens or
index keys. ``tools.openapi`` documents these models as the responses' schemas.
"""

from __future__ import annotations

from typing import Literal, TypedDict

from pydantic import BaseModel, ConfigDict, Field

from shared.channels import Channel
from shared.models.conversation import ConversationRecord, ConversationStatus, MessageEntry


class _View(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MessageView(_View):
    """One message of the thread, in the order it happened."""

    direction: Literal["outbound", "inbound"] = Field(
        description="outbound: the engine's message to the person; inbound: the person's."
    )
    message_id: str = Field(description="The provider's id (Twilio MessageSid, SendGrid X-Message-Id, Message-ID).")
    timestamp: str = Field(description="ISO 8601, UTC.")
    content: str
    subject: str | None = Field(default=None, description="Email only.")
    inbound_seq: int | None = Field(default=None, description="Inbound: its place among the person's messages.")
    answers_through: int | None = Field(default=None, description="A reply: answers the person's messages to seq.")
    media_count: int | None = Field(default=None, description="Inbound: media the message carried (never fetched).")
    consent_keyword: Literal["opt_out", "opt_in", "help"] | None = None

    @classmethod
    def of(cls, entry: MessageEntry) -> MessageView:
        return cls(
            direction="inbound" if entry.role == "user" else "outbound",
            message_id=entry.message_id,
            timestamp=entry.timestamp,
            content=entry.content,
            subject=entry.subject,
            inbound_seq=entry.inbound_seq,
            answers_through=entry.answers_through,
            media_count=entry.media_count,
            # The record holds a ConsentKeyword's value (or None); the view's Literal lists them for the API docs.
            consent_keyword=entry.consent_keyword,  # type: ignore[arg-type]
        )


class RecipientView(_View):
    first_name: str | None = None
    last_name: str | None = None
    tel: str | None = None
    email: str | None = None


class _SummaryFields(TypedDict):
    # The fields ConversationSummary and ConversationView share, typed so both are built checked.
    conversation_id: str
    company_id: str
    project_id: str
    request_id: str
    channel: Channel
    conversation_status: ConversationStatus
    delivery_status: str | None
    task_complete: bool
    created_at: str
    updated_at: str
    scheduled_for: str | None


class ConversationSummary(_View):
    """A listing row: what the listing index projects (shared/tables.py ``LISTING_ATTRIBUTES``)."""

    conversation_id: str
    company_id: str
    project_id: str
    request_id: str
    channel: Channel
    conversation_status: ConversationStatus
    delivery_status: str | None = Field(
        default=None, description="Of the latest outbound message, as its provider reports it; only moves forward."
    )
    task_complete: bool
    created_at: str
    updated_at: str
    scheduled_for: str | None = None

    @classmethod
    def of(cls, record: ConversationRecord) -> ConversationSummary:
        """From a record, or from the listing index's projection of one (it holds these fields)."""
        return cls(**_summary_fields(record))


def _summary_fields(record: ConversationRecord) -> _SummaryFields:
    return {
        "conversation_id": record.conversation_id,
        "company_id": record.company_id,
        "project_id": record.project_id,
        "request_id": record.request_id,
        "channel": record.channel_method,
        "conversation_status": record.conversation_status,
        "delivery_status": record.delivery_status,
        "task_complete": bool(record.task_complete),
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "scheduled_for": record.scheduled_for,
    }


class ConversationView(ConversationSummary):
    """``GET /conversations/{conversation_id}``."""

    recipient: RecipientView
    sent_at: str | None = None
    delivery_updated_at: str | None = None
    last_inbound_at: str | None = None
    last_reply_at: str | None = None
    suppression_reason: str | None = None
    handoff_reason: str | None = None
    messages: list[MessageView]

    @classmethod
    def of(cls, record: ConversationRecord) -> ConversationView:
        # No failure_reason: the record's holds the internal error text (it doubles as last_error);
        # the failed_* status is the category the tenant can act on.
        return cls(
            **_summary_fields(record),
            recipient=RecipientView(
                first_name=record.recipient_first_name,
                last_name=record.recipient_last_name,
                tel=record.recipient_tel,
                email=record.recipient_email,
            ),
            sent_at=record.sent_at,
            delivery_updated_at=record.delivery_updated_at,
            last_inbound_at=record.last_inbound_at,
            last_reply_at=record.last_reply_at,
            suppression_reason=record.suppression_reason,
            handoff_reason=record.handoff_reason,
            messages=[MessageView.of(entry) for entry in record.messages],
        )


class ConversationPage(_View):
    """``GET /conversations``: newest first."""

    conversations: list[ConversationSummary]
    next_token: str | None = Field(
        default=None,
        description="Opaque; pass it back with the same query and key for the next page. Absent on the last page.",
    )
