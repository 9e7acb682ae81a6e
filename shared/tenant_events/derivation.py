"""The tenant events of one change of a conversation record: a pure function of its old and new image.

The conversations table's stream is the outbox (docs/decisions.md, "The tenant's side (issue 13)"):
every event is read off a change, never written beside it, so none is lost between a record write
and its queueing. Each event's id (``event_id``) depends only on the conversation, the type and
what the event is about (a message id, an inbound seq, a reply range), never on when the change
was processed: a stream record processed twice, or replayed, gives the same ids.

Within one change the events come in the order they happened: what the person wrote before the
engine's answer to it, a message before its delivery, the reply before the hand-over it carried.
"""

from __future__ import annotations

from shared.events.delivery_status import RANKS, is_failure, rank_of
from shared.models.conversation import TURN_STEPS, ConversationRecord, ConversationStatus, MessageEntry
from shared.models.tenant_api import MessageView
from shared.models.tenant_events import DeliveryView, WebhookEvent, WebhookEventData, WebhookEventType, event_id

_S = ConversationStatus
_T = WebhookEventType

# The first message's pipeline ended without sending it (``send_unconfirmed`` is not among them:
# the message may have gone out, and the record may still move to ``initial_message_sent``).
PROCESSING_FAILURES = frozenset(
    {
        _S.FAILED_SECRETS_FETCH,
        _S.FAILED_TO_PROCESS_AI,
        _S.FAILED_CONTENT_CHECK,
        _S.FAILED_TO_SEND_MESSAGE,
        _S.FAILED_UNKNOWN,
    }
)
_DELIVERED_RANK = RANKS["delivered"]
_READ_RANK = RANKS["read"]
# The first message fails at most once: the discriminator of that ``failed``.
PROCESSING = "processing"


def derive_events(old: ConversationRecord | None, new: ConversationRecord | None) -> list[WebhookEvent]:
    """The events of the change ``old`` → ``new`` (None: the record did not exist / was removed).

    A removal (TTL expiry, an erasure) tells the tenant nothing.
    """
    if new is None:
        return []
    before = old.conversation_status if old is not None else None
    status = new.conversation_status
    entered = status if status != before else None
    events: list[WebhookEvent] = []
    add = _Builder(new, events)

    new_inbound, new_outbound = _new_messages(old, new)
    for entry in new_inbound:
        add(_T.REPLY_RECEIVED, f"in#{entry.inbound_seq}", entry.timestamp, message=MessageView.of(entry))
    if entered is _S.SCHEDULED:
        add(_T.SCHEDULED, "", new.updated_at, scheduled_for=new.scheduled_for)
    if entered in PROCESSING_FAILURES:
        add(_T.FAILED, PROCESSING, new.updated_at, reason=status.value)
    first_outbound = _first_outbound(new)
    if entered is _S.INITIAL_MESSAGE_SENT:
        message = MessageView.of(first_outbound) if first_outbound is not None else None
        add(_T.SENT, "", new.sent_at or (message.timestamp if message else new.updated_at), message=message)
    for entry in new_outbound:
        if entry is not first_outbound:
            add(_T.REPLY_SENT, f"out#{entry.message_id}", entry.timestamp, message=MessageView.of(entry))
    _add_delivery(old, new, add)
    if entered is _S.REPLY_NOT_SENT:
        add(_T.FAILED, f"reply#{_failed_range_end(before, new)}", new.updated_at, reason=status.value)
    if entered is _S.NEEDS_HUMAN:
        add(_T.NEEDS_HUMAN, "", new.updated_at, reason=new.handoff_reason)
    if new.task_complete and not (old is not None and old.task_complete):
        add(_T.COMPLETED, "", new.updated_at)
    if entered is _S.SUPPRESSED:
        add(_T.OPTED_OUT, "", new.updated_at, reason=new.suppression_reason)
    return events


class _Builder:
    """Appends one event of ``record`` (the new image: the state the tenant is told about)."""

    def __init__(self, record: ConversationRecord, events: list[WebhookEvent]):
        self._record = record
        self._events = events

    def __call__(
        self,
        event_type: WebhookEventType,
        discriminator: str,
        timestamp: str,
        *,
        message: MessageView | None = None,
        delivery: DeliveryView | None = None,
        reason: str | None = None,
        scheduled_for: str | None = None,
    ) -> None:
        record = self._record
        data = WebhookEventData(
            conversation_id=record.conversation_id,
            company_id=record.company_id,
            project_id=record.project_id,
            request_id=record.request_id,
            channel=record.channel_method,
            conversation_status=record.conversation_status,
            delivery_status=record.delivery_status,
            task_complete=bool(record.task_complete),
            message=message,
            delivery=delivery,
            reason=reason,
            scheduled_for=scheduled_for,
        )
        self._events.append(
            WebhookEvent(
                id=event_id(record.conversation_id, event_type, discriminator),
                type=event_type,
                timestamp=timestamp,
                data=data,
            )
        )


def _failed_range_end(before: ConversationStatus | None, new: ConversationRecord) -> int:
    """The last of the person's messages a ``reply_not_sent`` leaves unanswered: the turn's range
    (``reply_through``) when a turn had claimed them; every pending message (``inbound_count``)
    when the turn ended before claiming (``reply_through`` is then the previous turn's)."""
    if before in TURN_STEPS and new.reply_through is not None:
        return new.reply_through
    return new.inbound_count


def _new_messages(
    old: ConversationRecord | None, new: ConversationRecord
) -> tuple[list[MessageEntry], list[MessageEntry]]:
    """The person's messages (by seq) and the engine's (by provider id) the old image lacks."""
    old_messages = old.messages if old is not None else []
    seen_inbound = {entry.inbound_seq for entry in old_messages if entry.role == "user"}
    seen_outbound = {entry.message_id for entry in old_messages if entry.role != "user"}
    inbound = sorted(
        (e for e in new.messages if e.role == "user" and e.inbound_seq not in seen_inbound),
        key=lambda entry: entry.inbound_seq or 0,
    )
    outbound = [e for e in new.messages if e.role != "user" and e.message_id not in seen_outbound]
    return inbound, outbound


def _first_outbound(record: ConversationRecord) -> MessageEntry | None:
    return next((entry for entry in record.messages if entry.role != "user"), None)


def _add_delivery(old: ConversationRecord | None, new: ConversationRecord, add: _Builder) -> None:
    """The record mirrors the delivery status of its latest outbound message only
    (``provider_message_id``): an event when that message's status reaches delivered, read or a
    failure. Statuses only move forward, and one that skips a step (sent → read) is reported as
    what it reached, without the step it skipped."""
    message_id, status = new.provider_message_id, new.delivery_status
    if message_id is None or status is None:
        return
    rank = rank_of(status)
    if rank is None:
        return
    before = 0  # a message the old image did not name starts from nothing
    if old is not None and old.provider_message_id == message_id and old.delivery_status:
        before = rank_of(old.delivery_status) or 0
    if rank <= before:
        return
    delivery = DeliveryView(message_id=message_id, status=status, error_code=new.delivery_error_code)
    at = new.delivery_updated_at or new.updated_at
    if rank >= _READ_RANK:
        add(_T.READ, message_id, at, delivery=delivery)
    elif rank >= _DELIVERED_RANK:
        add(_T.DELIVERED, message_id, at, delivery=delivery)
    elif is_failure(status):
        add(_T.FAILED, f"delivery#{message_id}", at, delivery=delivery, reason=status)
