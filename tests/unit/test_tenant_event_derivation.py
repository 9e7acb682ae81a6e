"""Tenant events derived from a conversation record's changes (shared/tenant_events/derivation.py).

Every transition of the state machine, the delivery and message rules one by one, and random
walks over TRANSITIONS with the thread and the delivery growing: ids stable when a change is
derived again, never shared by two distinct events, one event per status change that is one.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.events.delivery_status import RANKS, rank_of
from shared.models.conversation import TRANSITIONS, TURN_STEPS, ConversationRecord, ConversationStatus, MessageEntry
from shared.models.tenant_events import WebhookEvent, WebhookEventType, event_id
from shared.tenant_events.derivation import PROCESSING_FAILURES, derive_events

S = ConversationStatus
T = WebhookEventType
CID = "acme#support#3f0c2c34-9d4e-4b8e-8a55-0c7d8c1e9a01#447700900999"


def record(**fields: Any) -> ConversationRecord:
    base: dict[str, Any] = {
        "primary_channel": "+447700900123",
        "conversation_id": CID,
        "company_id": "acme",
        "project_id": "support",
        "request_id": "3f0c2c34-9d4e-4b8e-8a55-0c7d8c1e9a01",
        "channel_method": "whatsapp",
        "conversation_status": S.PROCESSING,
        "created_at": "2026-11-26T09:00:00.000Z",
        "updated_at": "2026-11-26T09:00:00.000Z",
        "recipient_tel": "+447700900123",
        "last_error": "internal: never leaves the engine",
        "ai_response_id": "resp_internal",
    }
    return ConversationRecord.model_validate(base | fields)


def changed(old: ConversationRecord, **fields: Any) -> ConversationRecord:
    return old.model_copy(update=fields)


def outbound(message_id: str, at: str, text: str = "Hello from Acme") -> MessageEntry:
    return MessageEntry(message_id=message_id, timestamp=at, role="assistant", content=text, total_tokens=42)


def inbound(seq: int, at: str, text: str = "Yes please", **extra: Any) -> MessageEntry:
    return MessageEntry(message_id=f"SMin{seq}", timestamp=at, role="user", content=text, inbound_seq=seq, **extra)


def kinds(events: list[WebhookEvent]) -> list[T]:
    return [event.type for event in events]


# What entering a status tells the tenant when nothing else changes (no message, no delivery).
STATUS_EVENTS: dict[S, T] = {
    S.INITIAL_MESSAGE_SENT: T.SENT,
    S.REPLY_NOT_SENT: T.FAILED,
    S.NEEDS_HUMAN: T.NEEDS_HUMAN,
    S.SUPPRESSED: T.OPTED_OUT,
    **{status: T.FAILED for status in PROCESSING_FAILURES},
}
EVERY_TRANSITION = sorted((source, target) for source, targets in TRANSITIONS.items() for target in targets)


def test_the_failure_statuses_are_exactly_the_failed_ones():
    assert {status for status in S if status.value.startswith("failed_")} == PROCESSING_FAILURES


@pytest.mark.parametrize(("source", "target"), EVERY_TRANSITION, ids=lambda status: status.value)
def test_every_transition_gives_the_event_of_its_target_and_nothing_else(source: S, target: S):
    old = record(conversation_status=source, reply_through=2, updated_at="2026-11-26T09:01:00.000Z")
    new = changed(old, conversation_status=target, updated_at="2026-11-26T09:02:00.000Z")

    events = derive_events(old, new)

    expected = [STATUS_EVENTS[target]] if target in STATUS_EVENTS and target != source else []
    assert kinds(events) == expected
    for event in events:
        assert event.timestamp == "2026-11-26T09:02:00.000Z"
        assert event.data.conversation_status is target
        assert event.data.conversation_id == CID


def test_the_reasons_and_discriminators_of_status_events():
    busy = record(conversation_status=S.PROCESSING)
    (failed,) = derive_events(busy, changed(busy, conversation_status=S.FAILED_TO_PROCESS_AI))
    assert failed.id == event_id(CID, T.FAILED, "processing")
    assert failed.data.reason == "failed_to_process_ai"

    turn = record(conversation_status=S.REPLY_SENDING, reply_through=3, answered_through=1, inbound_count=4)
    (not_sent,) = derive_events(turn, changed(turn, conversation_status=S.REPLY_NOT_SENT))
    assert not_sent.id == event_id(CID, T.FAILED, "reply#3")  # the turn's range, not the later message
    assert not_sent.data.reason == "reply_not_sent"
    # Ended before any turn claimed the pending messages: reply_through is the previous turn's.
    pending = record(conversation_status=S.REPLY_RECEIVED, reply_through=3, answered_through=3, inbound_count=5)
    (unclaimed,) = derive_events(pending, changed(pending, conversation_status=S.REPLY_NOT_SENT))
    assert unclaimed.id == event_id(CID, T.FAILED, "reply#5")

    (human,) = derive_events(turn, changed(turn, conversation_status=S.NEEDS_HUMAN, handoff_reason="ai_turn_limit"))
    assert (human.id, human.data.reason) == (event_id(CID, T.NEEDS_HUMAN), "ai_turn_limit")

    (opted,) = derive_events(
        turn, changed(turn, conversation_status=S.SUPPRESSED, suppression_reason="opt_out_keyword")
    )
    assert (opted.id, opted.data.reason) == (event_id(CID, T.OPTED_OUT), "opt_out_keyword")


def test_a_new_scheduled_record_is_scheduled_and_a_new_processing_one_says_nothing():
    waiting = record(conversation_status=S.SCHEDULED, scheduled_for="2026-11-26T18:00:00.000Z")
    (scheduled,) = derive_events(None, waiting)
    assert scheduled.type is T.SCHEDULED
    assert scheduled.data.scheduled_for == "2026-11-26T18:00:00.000Z"
    assert scheduled.timestamp == waiting.created_at
    assert derive_events(None, record()) == []


def test_a_removed_record_tells_nothing():
    assert derive_events(record(conversation_status=S.REPLY_SENT), None) == []


def test_the_first_message_is_sent_then_delivered_when_its_delivery_came_first():
    sending = record(conversation_status=S.SENDING)
    sent = changed(
        sending,
        conversation_status=S.INITIAL_MESSAGE_SENT,
        messages=[outbound("SM1", "2026-11-26T09:00:05.000Z")],
        provider_message_id="SM1",
        sent_at="2026-11-26T09:00:05.000Z",
        delivery_status="delivered",
        delivery_rank=RANKS["delivered"],
        delivery_updated_at="2026-11-26T09:00:06.000Z",
    )

    first, delivered = derive_events(sending, sent)

    assert (first.type, first.id, first.timestamp) == (T.SENT, event_id(CID, T.SENT), "2026-11-26T09:00:05.000Z")
    assert first.data.message is not None
    assert (first.data.message.direction, first.data.message.content) == ("outbound", "Hello from Acme")
    assert (delivered.type, delivered.id) == (T.DELIVERED, event_id(CID, T.DELIVERED, "SM1"))
    assert delivered.timestamp == "2026-11-26T09:00:06.000Z"
    assert delivered.data.delivery is not None and delivered.data.delivery.message_id == "SM1"


def _sent_with(status: str | None, **extra: Any) -> ConversationRecord:
    return record(
        **({"conversation_status": S.INITIAL_MESSAGE_SENT} | extra),
        messages=[outbound("SM1", "2026-11-26T09:00:05.000Z")],
        provider_message_id="SM1",
        sent_at="2026-11-26T09:00:05.000Z",
        delivery_status=status,
        delivery_rank=rank_of(status) if status else None,
        delivery_updated_at="2026-11-26T09:00:05.000Z" if status else None,
    )


def _delivery(old: ConversationRecord, status: str, **extra: Any) -> ConversationRecord:
    return changed(
        old,
        delivery_status=status,
        delivery_rank=rank_of(status),
        delivery_updated_at="2026-11-26T09:03:00.000Z",
        **extra,
    )


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (None, "queued", []),
        ("queued", "sent", []),
        ("sent", "delivered", [T.DELIVERED]),
        ("sent", "partially_delivered", [T.DELIVERED]),
        ("delivered", "read", [T.READ]),
        ("sent", "read", [T.READ]),  # skipped delivered: only what it reached
        ("queued", "undelivered", [T.FAILED]),
        ("sent", "failed", [T.FAILED]),
        ("processed", "bounce", [T.FAILED]),
        ("deferred", "dropped", [T.FAILED]),
        ("undelivered", "delivered", [T.DELIVERED]),  # carriers do report a delivery after a failure
        ("delivered", "delivered", []),
    ],
)
def test_delivery_events_of_the_latest_message(before: str | None, after: str, expected: list[T]):
    old = _sent_with(before)
    assert kinds(derive_events(old, _delivery(old, after))) == expected


def test_a_delivery_failure_carries_the_message_the_status_and_the_code():
    old = _sent_with("sent")
    (failed,) = derive_events(old, _delivery(old, "undelivered", delivery_error_code="30003"))
    assert failed.id == event_id(CID, T.FAILED, "delivery#SM1")
    assert failed.timestamp == "2026-11-26T09:03:00.000Z"
    assert failed.data.reason == "undelivered"
    assert failed.data.delivery is not None
    assert failed.data.delivery.model_dump() == {"message_id": "SM1", "status": "undelivered", "error_code": "30003"}


def test_delivered_and_read_of_one_message_and_of_the_next_have_distinct_ids():
    ids = {
        event_id(CID, T.DELIVERED, "SM1"),
        event_id(CID, T.READ, "SM1"),
        event_id(CID, T.DELIVERED, "SM2"),
        event_id(CID, T.FAILED, "delivery#SM1"),
    }
    assert len(ids) == 4


def test_the_person_writes_and_the_reply_goes_out():
    idle = _sent_with("delivered")
    pending = changed(
        idle,
        conversation_status=S.REPLY_RECEIVED,
        messages=[*idle.messages, inbound(2, "2026-11-26T09:05:01.000Z"), inbound(1, "2026-11-26T09:05:00.000Z")],
        inbound_count=2,
        updated_at="2026-11-26T09:05:01.000Z",
    )
    first, second = derive_events(idle, pending)
    assert (first.type, first.id) == (T.REPLY_RECEIVED, event_id(CID, T.REPLY_RECEIVED, "in#1"))
    assert second.id == event_id(CID, T.REPLY_RECEIVED, "in#2")
    assert first.data.message is not None
    assert (first.data.message.direction, first.data.message.inbound_seq) == ("inbound", 1)
    assert first.timestamp == "2026-11-26T09:05:00.000Z"

    sending = changed(pending, conversation_status=S.REPLY_SENDING, reply_through=2)
    reply = outbound("SM2", "2026-11-26T09:05:09.000Z", "Great, booked.").model_copy(update={"answers_through": 2})
    replied = changed(
        sending,
        conversation_status=S.REPLY_SENT,
        messages=[*sending.messages, reply],
        provider_message_id="SM2",
        delivery_status="queued",
        delivery_rank=1,
        answered_through=2,
    )
    (sent_reply,) = derive_events(sending, replied)  # the old message's delivery is not repeated
    assert (sent_reply.type, sent_reply.id) == (T.REPLY_SENT, event_id(CID, T.REPLY_SENT, "out#SM2"))
    assert sent_reply.timestamp == "2026-11-26T09:05:09.000Z"
    assert sent_reply.data.message is not None and sent_reply.data.message.answers_through == 2

    (delivered,) = derive_events(replied, _delivery(replied, "delivered"))
    assert delivered.id == event_id(CID, T.DELIVERED, "SM2")


def test_a_hand_over_message_is_a_reply_sent_then_needs_human():
    sending = _sent_with("read", conversation_status=S.REPLY_SENDING, reply_through=1)
    handed = changed(
        sending,
        conversation_status=S.NEEDS_HUMAN,
        messages=[*sending.messages, outbound("SM2", "2026-11-26T09:06:00.000Z", "A colleague will call.")],
        provider_message_id="SM2",
        delivery_status="queued",
        delivery_rank=1,
        handoff_reason="ai_requested",
    )
    assert kinds(derive_events(sending, handed)) == [T.REPLY_SENT, T.NEEDS_HUMAN]


def test_stop_is_a_reply_received_then_opted_out():
    idle = _sent_with("delivered")
    stopped = changed(
        idle,
        conversation_status=S.SUPPRESSED,
        messages=[*idle.messages, inbound(1, "2026-11-26T09:07:00.000Z", "STOP", consent_keyword="opt_out")],
        inbound_count=1,
        suppression_reason="opt_out_keyword",
    )
    received, opted = derive_events(idle, stopped)
    assert (received.type, opted.type) == (T.REPLY_RECEIVED, T.OPTED_OUT)
    assert received.data.message is not None and received.data.message.consent_keyword == "opt_out"


def test_completed_fires_when_task_complete_becomes_one_and_keeps_its_id():
    open_thread = _sent_with("delivered", conversation_status=S.REPLY_PROCESSING)
    done = changed(open_thread, conversation_status=S.REPLY_GENERATED, task_complete=1)
    (completed,) = derive_events(open_thread, done)
    assert (completed.type, completed.data.task_complete) == (T.COMPLETED, True)
    assert derive_events(done, changed(done, updated_at="2026-11-26T10:00:00.000Z")) == []
    # Reopened and completed again: the same event, which the tenant dedupes.
    again = derive_events(changed(done, task_complete=0), done)
    assert [event.id for event in again] == [completed.id]


def test_the_payload_holds_nothing_internal():
    sending = record(conversation_status=S.SENDING)
    sent = changed(
        sending,
        conversation_status=S.INITIAL_MESSAGE_SENT,
        messages=[outbound("SM1", "2026-11-26T09:00:05.000Z")],
        provider_message_id="SM1",
        sent_at="2026-11-26T09:00:05.000Z",
    )
    (event,) = derive_events(sending, sent)
    body = json.loads(event.model_dump_json())
    text = json.dumps(body)
    for internal in ("internal: never leaves", "resp_internal", "written_by", "total_tokens", "gsi_", "+447700900123"):
        assert internal not in text
    assert set(body) == {"id", "type", "timestamp", "data"}


def test_a_change_derived_twice_gives_the_same_events():
    old = _sent_with("sent")
    new = _delivery(old, "read")
    assert derive_events(old, new) == derive_events(old, new)


# --- Random walks over the state machine, the thread and the delivery --------------------------

IDLE = (S.INITIAL_MESSAGE_SENT, S.REPLY_SENT, S.REPLY_NOT_SENT)
DELIVERY_STATUSES = sorted(RANKS, key=lambda status: (RANKS[status], status))


class Walk:
    """A conversation moved the way the engine moves it: every status write follows TRANSITIONS,
    a message sent names the record's ``provider_message_id``, the person's messages count up,
    a delivery status only moves forward, a turn claims only messages no turn claimed."""

    def __init__(self, draw: Any):
        self.draw = draw
        self.tick = 0
        self.outbound_count = 0
        # The last of the person's messages a turn claimed or a failure gave up on: the engine
        # runs a turn for a message only once (its job), so a new turn needs a newer message.
        self.covered = 0
        start = draw(st.sampled_from([S.SCHEDULED, S.PROCESSING]))
        self.records = [record(conversation_status=start, created_at=self.now(), updated_at=self.now())]

    def now(self) -> str:
        self.tick += 1
        return f"2026-11-26T{9 + self.tick // 3600:02d}:{self.tick // 60 % 60:02d}:{self.tick % 60:02d}.000Z"

    @property
    def current(self) -> ConversationRecord:
        return self.records[-1]

    def step(self) -> None:
        actions = ["transition", "transition", "delivery", "inbound", "task"]
        action = self.draw(st.sampled_from(actions))
        new = getattr(self, action)(self.current)
        if new is not None:
            self.records.append(new)

    def _send(self, old: ConversationRecord, fields: dict[str, Any]) -> dict[str, Any]:
        self.outbound_count += 1
        message_id = f"SM{self.outbound_count}"
        at = self.now()
        status = self.draw(st.sampled_from([None, "queued", "sent", "delivered"]))
        return fields | {
            "messages": [*old.messages, outbound(message_id, at)],
            "provider_message_id": message_id,
            "delivery_status": status,
            "delivery_rank": rank_of(status) if status else None,
            "delivery_updated_at": at if status else None,
        }

    def transition(self, old: ConversationRecord) -> ConversationRecord | None:
        targets = sorted(TRANSITIONS.get(old.conversation_status, frozenset()))
        if not targets:
            return None
        target = self.draw(st.sampled_from(targets))
        fields: dict[str, Any] = {"conversation_status": target, "updated_at": self.now()}
        if target is S.REPLY_PROCESSING:
            if old.inbound_count <= max(old.answered_through, self.covered):  # nothing new: no turn
                return None
            fields["reply_through"] = self.covered = old.inbound_count
        elif target is S.REPLY_RECEIVED:
            return self.inbound(old)  # only the person's message marks the thread pending
        elif target is S.INITIAL_MESSAGE_SENT:
            fields = self._send(old, fields | {"sent_at": fields["updated_at"]})
        elif target is S.REPLY_SENT or (target is S.NEEDS_HUMAN and old.conversation_status is S.REPLY_SENDING):
            fields = self._send(old, fields | {"answered_through": max(old.answered_through, old.reply_through or 0)})
        elif target is S.REPLY_NOT_SENT:
            fields["failure_reason"] = "provider_refused"
            self.covered = max(self.covered, old.inbound_count)
        elif target is S.SUPPRESSED:
            fields["suppression_reason"] = "opt_out_keyword"
        elif target is S.NEEDS_HUMAN:
            fields["handoff_reason"] = "ai_turn_limit"
        return changed(old, **fields)

    def delivery(self, old: ConversationRecord) -> ConversationRecord | None:
        if old.provider_message_id is None:
            return None
        later = [status for status in DELIVERY_STATUSES if RANKS[status] > (old.delivery_rank or 0)]
        if not later:
            return None
        status = self.draw(st.sampled_from(later))
        return changed(old, delivery_status=status, delivery_rank=RANKS[status], delivery_updated_at=self.now())

    def inbound(self, old: ConversationRecord) -> ConversationRecord | None:
        if not old.conversation_status.is_open:
            return None
        seq = old.inbound_count + 1
        fields: dict[str, Any] = {"messages": [*old.messages, inbound(seq, self.now())], "inbound_count": seq}
        if old.conversation_status in IDLE or old.conversation_status is S.REPLY_UNCONFIRMED:
            fields |= {"conversation_status": S.REPLY_RECEIVED, "updated_at": self.now()}
        return changed(old, **fields)

    def task(self, old: ConversationRecord) -> ConversationRecord | None:
        return None if old.task_complete else changed(old, task_complete=1)


@st.composite
def walks(draw: Any) -> list[ConversationRecord]:
    walk = Walk(draw)
    for _ in range(draw(st.integers(min_value=1, max_value=40))):
        walk.step()
    return walk.records


def _expected_status_event(old: ConversationRecord, new: ConversationRecord) -> tuple[T, str] | None:
    target = new.conversation_status
    if target == old.conversation_status or target not in STATUS_EVENTS:
        return None
    if target in PROCESSING_FAILURES:
        return T.FAILED, event_id(CID, T.FAILED, "processing")
    if target is S.REPLY_NOT_SENT:
        through = new.reply_through if old.conversation_status in TURN_STEPS else new.inbound_count
        return T.FAILED, event_id(CID, T.FAILED, f"reply#{through}")
    return STATUS_EVENTS[target], event_id(CID, STATUS_EVENTS[target])


@settings(max_examples=300, deadline=None)
@given(walks())
def test_random_walks_give_stable_unique_ids_and_one_event_per_status_event(records: list[ConversationRecord]):
    pairs = [(None, records[0]), *itertools.pairwise(records)]
    derived = [derive_events(old, new) for old, new in pairs]

    # Processed again (a retried batch, a replay): the same events, so the same ids.
    assert [derive_events(old, new) for old, new in pairs] == derived
    ids = [event.id for events in derived for event in events]
    # Distinct events never share an id: the walk never repeats one.
    assert len(ids) == len(set(ids))

    for (old, new), events in zip(pairs[1:], derived[1:], strict=True):
        expected = _expected_status_event(old, new)
        status_types = {T.SENT, T.NEEDS_HUMAN, T.OPTED_OUT, T.SCHEDULED}
        if expected is None:
            assert not [e for e in events if e.type in status_types]
            assert not [e for e in events if e.type is T.FAILED and e.data.delivery is None]
        else:
            event_type, expected_id = expected
            assert [e.id for e in events if e.type is event_type and e.data.delivery is None] == [expected_id]
        new_inbound = len([m for m in new.messages if m.role == "user"]) - len(
            [m for m in old.messages if m.role == "user"]
        )
        assert len([e for e in events if e.type is T.REPLY_RECEIVED]) == new_inbound
        outbound_before = len([m for m in old.messages if m.role == "assistant"])
        outbound_after = len([m for m in new.messages if m.role == "assistant"])
        replies = outbound_after - max(outbound_before, 1) if outbound_after else 0
        assert len([e for e in events if e.type is T.REPLY_SENT]) == replies
        for event in events:
            assert event.data.conversation_status is new.conversation_status


@settings(max_examples=200, deadline=None)
@given(walks())
def test_random_walks_report_each_messages_delivery_forward_only(records: list[ConversationRecord]):
    pairs = list(itertools.pairwise(records))
    for old, new in pairs:
        delivery_events = [e for e in derive_events(old, new) if e.data.delivery is not None]
        assert len(delivery_events) <= 1
        if not delivery_events:
            continue
        (event,) = delivery_events
        assert event.data.delivery is not None
        assert event.data.delivery.message_id == new.provider_message_id
        same = old.provider_message_id == new.provider_message_id
        before = (old.delivery_rank or 0) if same else 0
        assert (new.delivery_rank or 0) > before
        expected = {6: T.READ, 5: T.DELIVERED, 4: T.FAILED}[new.delivery_rank or 0]
        assert event.type is expected
