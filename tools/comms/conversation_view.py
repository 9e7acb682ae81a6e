"""What an operator sees of a conversation (``comms conversations show|list``, ``make show WHAT=conversation``).

Everything an operator needs to say where a conversation stands and why — statuses, times, the
failure reason, the provider's delivery error, the thread in the order the engine recorded it —
and nothing that identifies the person beyond need: the recipient's address is masked, and so is
every number or address inside a message's text or a reason (``shared.log_masking``). The record
holds no secret. The company's own sender is shown as it is: it is the company's, and part of the id.
"""

from __future__ import annotations

from typing import Literal, TextIO

from pydantic import BaseModel

from shared.log_masking import mask_address, mask_text
from shared.models.conversation import ConversationRecord, MessageEntry
from tools.comms.output import emit_one

# What ``show`` prints of each message unless ``--full``: enough to recognise it on one line.
PREVIEW_CHARS = 80
LIST_COLUMNS = ("created_at", "conversation_id", "channel", "conversation_status", "delivery_status", "recipient")


class MessageLine(BaseModel):
    direction: Literal["outbound", "inbound"]
    timestamp: str
    # Inbound: received. Outbound: the provider's delivery status for the latest message the engine
    # sent (the only one the record tracks), "sent" for the earlier ones.
    status: str
    provider_message_id: str
    content: str
    subject: str | None = None
    inbound_seq: int | None = None
    answers_through: int | None = None
    consent_keyword: str | None = None
    media_count: int | None = None
    media_types: list[str] | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class ConversationRow(BaseModel):
    """A line of ``comms conversations list``: what the listing index projects."""

    created_at: str
    conversation_id: str
    channel: str
    conversation_status: str
    delivery_status: str | None
    recipient: str  # masked


class ConversationOverview(ConversationRow):
    """``show``: the row, and where the conversation stands, and its thread."""

    company_id: str
    project_id: str
    request_id: str
    company_sender: str | None
    updated_at: str
    sent_at: str | None
    scheduled_for: str | None
    schedule_reason: str | None
    failure_reason: str | None
    last_error: str | None
    delivery_error_code: str | None
    delivery_error_reason: str | None
    suppression_reason: str | None
    handoff_reason: str | None
    inbound_count: int
    answered_through: int
    ai_turns: int
    task_complete: bool
    messages: list[MessageLine]


def overview(record: ConversationRecord, *, full: bool = False) -> ConversationOverview:
    return ConversationOverview(
        **row(record).model_dump(),
        company_id=record.company_id,
        project_id=record.project_id,
        request_id=record.request_id,
        company_sender=record.company_sender,
        updated_at=record.updated_at,
        sent_at=record.sent_at,
        scheduled_for=record.scheduled_for,
        schedule_reason=record.schedule_reason,
        failure_reason=_masked(record.failure_reason),
        last_error=_masked(record.last_error),
        delivery_error_code=record.delivery_error_code,
        delivery_error_reason=_masked(record.delivery_error_reason),
        suppression_reason=record.suppression_reason,
        handoff_reason=record.handoff_reason,
        inbound_count=record.inbound_count,
        answered_through=record.answered_through,
        ai_turns=record.ai_turns,
        task_complete=bool(record.task_complete),
        messages=[_message(entry, record, full=full) for entry in record.messages],
    )


def row(record: ConversationRecord) -> ConversationRow:
    return ConversationRow(
        created_at=record.created_at,
        conversation_id=record.conversation_id,
        channel=record.channel_method.value,
        conversation_status=record.conversation_status.value,
        delivery_status=record.delivery_status,
        recipient=_masked_recipient(record),
    )


def write_overview(view: ConversationOverview, out: TextIO) -> None:
    """Where it stands (the fields that are set), then the thread as recorded."""
    fields = {
        "conversation": view.conversation_id,
        "project": f"{view.company_id} / {view.project_id}",
        "request": view.request_id,
        "channel": view.channel,
        "status": view.conversation_status,
        "delivery": view.delivery_status,
        "recipient": view.recipient,
        "sender": view.company_sender,
        "created": view.created_at,
        "updated": view.updated_at,
        "sent": view.sent_at,
        "scheduled for": view.scheduled_for and f"{view.scheduled_for} ({view.schedule_reason})",
        "failure": view.failure_reason,
        "last error": view.last_error if view.last_error != view.failure_reason else None,
        "delivery error": " ".join(e for e in (view.delivery_error_code, view.delivery_error_reason) if e) or None,
        "suppressed": view.suppression_reason,
        "hand-over": view.handoff_reason,
        "inbound messages": view.inbound_count or None,
        "answered through": view.answered_through or None,
        "AI turns": view.ai_turns or None,
        "task complete": view.task_complete or None,
    }
    emit_one({name: value for name, value in fields.items() if value is not None}, as_json=False, stream=out)
    # In the order the engine recorded them, which is the thread's: an email's timestamp is its Date
    # header (whole seconds, the sender's clock), so sorting by time could put an answer first.
    count = len(view.messages)
    out.write(f"\nThread ({count} message{'' if count == 1 else 's'}, as recorded):\n")
    for message in view.messages:
        out.write(_message_lines(message))


def _message(entry: MessageEntry, record: ConversationRecord, *, full: bool) -> MessageLine:
    inbound = entry.role == "user"
    if inbound:
        status = "received"
    elif entry.message_id == record.provider_message_id:
        status = record.delivery_status or "sent"
    else:
        status = "sent"
    return MessageLine(
        direction="inbound" if inbound else "outbound",
        timestamp=entry.timestamp,
        status=status,
        provider_message_id=entry.message_id,
        content=_preview(mask_text(entry.content), full=full),
        subject=_masked(entry.subject),
        inbound_seq=entry.inbound_seq,
        answers_through=entry.answers_through,
        consent_keyword=entry.consent_keyword,
        media_count=entry.media_count,
        media_types=entry.media_types,
        prompt_tokens=entry.prompt_tokens,
        completion_tokens=entry.completion_tokens,
        total_tokens=entry.total_tokens,
    )


def _message_lines(message: MessageLine) -> str:
    who = message.direction + (f" #{message.inbound_seq}" if message.inbound_seq is not None else "")
    notes = []
    if message.consent_keyword:
        notes.append(f"keyword {message.consent_keyword}")
    if message.answers_through is not None:
        notes.append(f"answers through #{message.answers_through}")
    if message.total_tokens:
        notes.append(f"tokens {message.total_tokens} ({message.prompt_tokens} in, {message.completion_tokens} out)")
    if message.media_count:
        notes.append(f"media {message.media_count} {', '.join(message.media_types or [])}".rstrip())
    head = f"  {message.timestamp:<27} {who:<12} {message.status:<12} {message.provider_message_id}"
    lines = [head + (f"  [{'; '.join(notes)}]" if notes else "")]
    if message.subject:
        lines.append(f"      Subject: {message.subject}")
    lines.extend(f"      {line}" for line in message.content.splitlines() or [""])
    return "\n".join(lines) + "\n"


def _preview(text: str, *, full: bool) -> str:
    if full:
        return text
    line = " ".join(text.split())
    return line if len(line) <= PREVIEW_CHARS else line[: PREVIEW_CHARS - 1] + "…"


def _masked_recipient(record: ConversationRecord) -> str:
    # The table's key is the person's address on the conversation's channel (a WhatsApp one may
    # carry its ``whatsapp:`` prefix); masked after it, so the country code stays readable.
    return mask_address(record.primary_channel.removeprefix("whatsapp:")) or "-"


def _masked(text: str | None) -> str | None:
    return None if text is None else mask_text(text)
