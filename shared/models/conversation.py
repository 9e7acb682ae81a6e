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

    # The thread (issue 11, docs/decisions.md "Replies (issue 11) — the turn state machine"). A
    # *turn* answers every inbound message recorded and not yet answered (``answered_through`` <
    # ``inbound_count``) with one reply; its steps mirror the first message's.
    # The person wrote and nothing answers yet: a turn is about to start, or replies are off.
    REPLY_RECEIVED = "reply_received"
    REPLY_PROCESSING = "reply_processing"  # a turn claimed the pending messages; the AI writes
    REPLY_GENERATED = "reply_generated"  # the reply is stored (``reply_content``), not yet sent
    REPLY_SENDING = "reply_sending"  # the send started (``reply_send_started_at``)
    REPLY_SENT = "reply_sent"  # the turn's reply went out
    # The turn ended without a reply (AI refused, window closed, provider refused): ``failure_reason``.
    REPLY_NOT_SENT = "reply_not_sent"
    # The turn's send may have gone out and nobody can tell: never resent, alarmed like send_unconfirmed.
    REPLY_UNCONFIRMED = "reply_unconfirmed"
    # The AI asked for a person, or the project's AI-turn limit was reached (``handoff_reason``):
    # later messages are recorded and never answered automatically.
    NEEDS_HUMAN = "needs_human"

    # Consent (issue 12, docs/decisions.md "Consent (issue 12) — the contracts").
    # The first message waits for ``scheduled_for`` (the request's ``send_at`` and/or the project's
    # send window); a wake-up (SQS delay or an EventBridge Scheduler one-time schedule) redelivers
    # the context message then, and the pipeline moves on to ``processing``.
    SCHEDULED = "scheduled"
    # Final: the person opted out (or the address is suppressed) before something was sent; nothing
    # more is sent in this conversation (``suppression_reason``). Also where an open thread closes
    # when the person writes STOP.
    SUPPRESSED = "suppressed"

    @property
    def is_final(self) -> bool:
        """Final for the *first message's* pipeline: nothing left for a context message to do."""
        return self not in (
            ConversationStatus.SCHEDULED,
            ConversationStatus.PROCESSING,
            ConversationStatus.AI_GENERATED,
            ConversationStatus.SENDING,
        )

    @property
    def turn_in_progress(self) -> bool:
        """A reply turn holds the record: a reply job resumes it before it starts another."""
        return self in TURN_STEPS

    @property
    def is_open(self) -> bool:
        """The first message went out and the thread may take the person's messages (matching)."""
        return self in OPEN_STATUSES

    @property
    def may_start_turn(self) -> bool:
        """A new turn may claim the record from here (when messages are pending)."""
        return self in TURN_STARTS


class MessageEntry(BaseModel):
    # The provider's id: Twilio's MessageSid, SendGrid's X-Message-Id; for an inbound email its
    # Message-ID header (or a digest of it when absent: shared/replies/inbound.py).
    message_id: str
    timestamp: str
    role: str  # "assistant" (the engine's messages) or "user" (the person's)
    content: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    # Inbound messages (role "user", issue 11): their place in the thread (1, 2, …), the media
    # they carried (noted, never fetched) and, for email, the subject and RFC 5322 Message-ID.
    inbound_seq: int | None = None
    media_count: int | None = None
    media_types: list[str] | None = None
    subject: str | None = None
    email_message_id: str | None = None
    # Replies (role "assistant" after the first): the inbound messages the reply answers (through seq).
    answers_through: int | None = None
    # Inbound (issue 12): the whole message was a consent keyword (shared/consent/keywords.py):
    # "opt_out" (STOP…: never answered, the conversation closes), "opt_in" (START…), "help"
    # (answered with the project's help text, not by the AI).
    consent_keyword: str | None = None


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

    # The thread (issue 11). Inbound messages are recorded by the events processor without
    # touching ``version`` (an in-flight turn's claim must not break); turns move the status.
    # Provider ids of every recorded inbound message: a redelivered webhook is recorded once.
    inbound_message_ids: list[str] = Field(default_factory=list)
    inbound_count: int = 0  # inbound messages recorded; the latest has ``inbound_seq`` == this
    answered_through: int = 0  # every inbound message with seq <= this is answered (or given up)
    last_inbound_at: str | None = None
    # The turn in progress answers the messages through this seq (set when it claims them).
    reply_through: int | None = None
    reply_content: dict[str, Any] | None = None  # the AI's answer: text, task_complete, needs_human
    reply_response_id: str | None = None
    reply_prompt_version: str | None = None
    reply_usage: TokenUsage | None = None
    reply_send_started_at: str | None = None
    last_reply_at: str | None = None
    ai_turns: int = 0  # replies the AI wrote (the project's ``reply_policy.max_ai_turns`` caps it)
    handoff_reason: str | None = None  # why the record is ``needs_human``
    # Email: the per-conversation reply-to token (``reply+<token>@<reply_domain>``), also the
    # sparse key of the ``reply-token-index``; and the thread's Message-IDs for References.
    gsi_reply_token: str | None = None
    email_references: list[str] = Field(default_factory=list)

    # Consent (issue 12). When the first message may go (ISO 8601 UTC) and why it waits
    # ("send_at", "quiet_hours" or "send_at+quiet_hours"); the recipient's time zone used.
    scheduled_for: str | None = None
    schedule_reason: str | None = None
    recipient_timezone: str | None = None
    # Why the record is ``suppressed`` (a ``SuppressionReason`` value).
    suppression_reason: str | None = None
    # Retention: DynamoDB's TTL attribute (epoch seconds), the last activity + the environment's
    # ``conversation_retention_days``; pushed forward when the person writes or the engine sends.
    expires_at: int | None = None

    # The tenant's read API (issue 13): ``<company_id>#<project_id>``, the partition key of the
    # listing index (shared/tables.py ``PROJECT_CREATED_AT_INDEX``), written at creation.
    gsi_project_key: str | None = None


def project_key(company_id: str, project_id: str) -> str:
    """The listing index's partition key of a project (ids cannot hold ``#``)."""
    return f"{company_id}#{project_id}"


# The record's state machine (DESIGN §7): every write of ``conversation_status`` is a conditional
# update from one of the states listed here, so two deliveries of one message cannot both move on.
TRANSITIONS: dict[ConversationStatus, frozenset[ConversationStatus]] = {
    # The wake-up came: the pipeline goes on (or the person opted out meanwhile).
    ConversationStatus.SCHEDULED: frozenset({ConversationStatus.PROCESSING, ConversationStatus.SUPPRESSED}),
    ConversationStatus.PROCESSING: frozenset(
        {
            ConversationStatus.AI_GENERATED,
            ConversationStatus.SUPPRESSED,
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
            ConversationStatus.SUPPRESSED,  # the re-check right before the send
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
            # nothing went out (the provider has no such message) and the person opted out since
            ConversationStatus.SUPPRESSED,
            ConversationStatus.FAILED_SECRETS_FETCH,
            ConversationStatus.FAILED_TO_SEND_MESSAGE,
            ConversationStatus.SEND_UNCONFIRMED,
        }
    ),
    # A send that was in flight when another delivery gave up on it may still report success.
    ConversationStatus.SEND_UNCONFIRMED: frozenset({ConversationStatus.INITIAL_MESSAGE_SENT}),
}

_R = ConversationStatus
# Where the thread is open: the person's messages are matched to the conversation and recorded.
OPEN_STATUSES: frozenset[ConversationStatus] = frozenset(
    {
        _R.INITIAL_MESSAGE_SENT,
        _R.REPLY_RECEIVED,
        _R.REPLY_PROCESSING,
        _R.REPLY_GENERATED,
        _R.REPLY_SENDING,
        _R.REPLY_SENT,
        _R.REPLY_NOT_SENT,
        _R.REPLY_UNCONFIRMED,
        _R.NEEDS_HUMAN,
    }
)
# A turn may start from these (the events processor moves the idle ones to reply_received first).
TURN_STARTS: frozenset[ConversationStatus] = frozenset(
    {_R.INITIAL_MESSAGE_SENT, _R.REPLY_RECEIVED, _R.REPLY_SENT, _R.REPLY_NOT_SENT, _R.REPLY_UNCONFIRMED}
)
# The steps of a turn: a redelivered reply job resumes from here, like processing/ai_generated/sending.
TURN_STEPS: frozenset[ConversationStatus] = frozenset({_R.REPLY_PROCESSING, _R.REPLY_GENERATED, _R.REPLY_SENDING})
# A turn that ended: the reply went out, or it could not.
_TURN_ENDS = frozenset({_R.REPLY_SENT, _R.REPLY_NOT_SENT, _R.REPLY_UNCONFIRMED, _R.NEEDS_HUMAN})

TRANSITIONS.update(
    {
        # The idle states of an open thread: the events processor marks a pending message
        # (reply_received); a turn claims (reply_processing) or hands over (needs_human).
        **{
            idle: frozenset({_R.REPLY_RECEIVED, _R.REPLY_PROCESSING, _R.NEEDS_HUMAN})
            for idle in (_R.INITIAL_MESSAGE_SENT, _R.REPLY_SENT, _R.REPLY_NOT_SENT)
        },
        _R.REPLY_RECEIVED: frozenset({_R.REPLY_PROCESSING, _R.NEEDS_HUMAN, _R.REPLY_NOT_SENT}),
        _R.REPLY_PROCESSING: frozenset({_R.REPLY_GENERATED, _R.NEEDS_HUMAN, _R.REPLY_NOT_SENT}),
        # needs_human: the AI handed over with nothing to send (an empty reply).
        _R.REPLY_GENERATED: frozenset({_R.REPLY_SENDING, _R.REPLY_NOT_SENT, _R.NEEDS_HUMAN}),
        _R.REPLY_SENDING: frozenset(
            {
                _R.REPLY_SENT,
                _R.NEEDS_HUMAN,  # the AI's hand-over message went out
                _R.REPLY_GENERATED,  # the provider answered "not taken": the stored reply is reused
                _R.REPLY_SENDING,  # a resend after the provider said no such message exists
                _R.REPLY_NOT_SENT,
                _R.REPLY_UNCONFIRMED,
            }
        ),
        # A send given up as unconfirmed may still report success; otherwise the thread goes on.
        _R.REPLY_UNCONFIRMED: frozenset({_R.REPLY_SENT, _R.NEEDS_HUMAN, _R.REPLY_RECEIVED, _R.REPLY_PROCESSING}),
    }
)
assert _TURN_ENDS <= OPEN_STATUSES

# Consent (issue 12): every open state may close as ``suppressed`` — the events processor closes an
# idle thread when the person writes STOP; a turn re-checks the list before the AI and right
# before its send. ``suppressed`` itself is final: no transition leaves it.
for _open in OPEN_STATUSES:
    TRANSITIONS[_open] = TRANSITIONS.get(_open, frozenset()) | {_R.SUPPRESSED}
assert _R.SUPPRESSED not in TRANSITIONS and _R.SUPPRESSED not in OPEN_STATUSES


def may_move(source: ConversationStatus, target: ConversationStatus) -> bool:
    return target in TRANSITIONS.get(source, frozenset())
