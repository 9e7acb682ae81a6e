"""One conversation as an operator reads it (``make show WHAT=conversation CONVERSATION=<id>``):
where it stands, then its messages in the order they were recorded — time, who wrote, the provider's message id, tokens,
the text.

Shows what the record holds for the operator (addresses, texts, statuses, failure and hand-over
reasons) and never a secret: the record holds none, and the reply token of an email thread is shown
only as the Reply-To address the person writes to, which is what the person's mail client shows too.
"""

from __future__ import annotations

from typing import Any

_STATE_FIELDS = (
    ("status", "conversation_status"),
    ("delivery", "delivery_status"),
    ("inbound messages", "inbound_count"),
    ("answered through", "answered_through"),
    ("turn answers through", "reply_through"),
    ("AI turns", "ai_turns"),
    ("task complete", "task_complete"),
    ("hand-over reason", "handoff_reason"),
    ("failure", "failure_reason"),
    ("last inbound", "last_inbound_at"),
    ("last reply", "last_reply_at"),
)


def render(record: dict[str, Any]) -> str:
    lines = [
        f"Conversation {record['conversation_id']}",
        f"  {record.get('channel_method', '?')} · {record.get('company_id')}/{record.get('project_id')} · "
        f"person {record.get('primary_channel')} · company {record.get('company_sender') or '-'}",
    ]
    for label, name in _STATE_FIELDS:
        value = record.get(name)
        if value not in (None, ""):
            lines.append(f"  {label + ':':<22}{_plain(value)}")
    if record.get("delivery_error_code"):
        lines.append(
            f"  {'delivery error:':<22}{record['delivery_error_code']} {record.get('delivery_error_reason') or ''}"
        )
    messages = record.get("messages") or []
    # In the order the engine recorded them, which is the thread's: an email's timestamp is its Date
    # header (whole seconds, the sender's clock), so sorting by time could put an answer first.
    lines.append(f"Thread ({len(messages)} messages, as recorded):")
    for message in messages:
        lines.extend(_message(message))
    return "\n".join(lines)


def _message(message: dict[str, Any]) -> list[str]:
    role = message.get("role", "?")
    who = "person" if role == "user" else "engine" if role == "assistant" else role
    if message.get("inbound_seq") is not None:
        who += f" #{_plain(message['inbound_seq'])}"
    notes = []
    if message.get("answers_through") is not None:
        notes.append(f"answers through #{_plain(message['answers_through'])}")
    if message.get("total_tokens"):
        notes.append(
            f"tokens {_plain(message['total_tokens'])} "
            f"({_plain(message.get('prompt_tokens', 0))} in, {_plain(message.get('completion_tokens', 0))} out)"
        )
    if message.get("media_count"):
        notes.append(f"media {_plain(message['media_count'])} {', '.join(message.get('media_types') or [])}".rstrip())
    head = f"  {message.get('timestamp', ''):<27} {who:<10} {message.get('message_id', '')}"
    lines = [head + (f"  [{'; '.join(notes)}]" if notes else "")]
    if message.get("subject"):
        lines.append(f"      Subject: {message['subject']}")
    lines.extend(f"      {line}" for line in str(message.get("content", "")).splitlines() or [""])
    return lines


def _plain(value: Any) -> str:
    """DynamoDB numbers (Decimal) as the integers they are."""
    try:
        return str(int(value)) if int(value) == value else str(value)
    except (TypeError, ValueError):
        return str(value)
