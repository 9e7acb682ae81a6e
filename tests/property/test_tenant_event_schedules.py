"""Tenant events (issue 13) derived from the records the fault schedules write: the conversations
table's stream is the order of the record's writes, so the history ``RecordHistory`` keeps of a
schedule (first message, delivery reports, reply turns, opt-outs, every fault of the other two
property files) is the stream, and each consecutive pair of one conversation's states is what the
tenant-events function is handed: ``derive_events(old, new)`` (the real one, pure).

The stream's own faults are drawn over it: records come in batches; a batch fails at one record
(after queueing some of that record's events) and is retried from it (``batchItemFailures``), or
times out after queueing everything and is delivered again whole.

Properties, per conversation, of every event queued (what the FIFO queue, deduplicating on the
event id, passes on to the sender):
- nothing lost: every event whose condition happened in the history is queued (the first message
  went out: ``sent``; each inbound seq: ``reply_received``; each reply: ``reply_sent``; ``suppressed``:
  ``opted_out``; a delivery status reached: ``delivered``/``read``/``failed``; …), with the ids the
  contract names (``in#<seq>``, ``out#<message id>``, ``delivery#<message id>``, …);
- nothing invented: no event whose condition never happened (a ``sent`` for a record that only
  reached ``sending``), one id per occurrence and distinct occurrences distinct ids;
- the ids queued under faults are exactly those of a fault-free pass over the history, and no two
  distinct writes give the same event (a ``sending → sending`` resend, a delivery update of a sent
  record: no second ``sent``); deriving a pair again gives the very same events;
- order: events are queued in the order their occurrences happened: ``sent`` before the first
  message's ``delivered`` before its ``read``; ``reply_received`` n before n+1 and before the
  ``reply_sent`` answering it.

Fewer examples than the files it borrows its schedules from (the pipeline runs for real each time);
``docs/benchmarks.md`` has its runtime.
"""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from shared.events.delivery_status import FAILURES, rank_of
from shared.models.conversation import TURN_STEPS, ConversationRecord, ConversationStatus
from shared.models.tenant_api import MessageView
from shared.models.tenant_events import WebhookEvent, WebhookEventType, event_id
from shared.tenant_events.derivation import derive_events
from tests.property.fault_harness import FAULTS, OPT_OUTS, RACING_SENDS, Schedule, opt_out_point
from tests.property.test_reply_fault_schedules import OPT_OUT_FAULTS, TURN_POINTS, ReplySchedule, replying_project

_S = ConversationStatus
_T = WebhookEventType
FIRST_MESSAGE_FAILURES = frozenset(
    {_S.FAILED_SECRETS_FETCH, _S.FAILED_TO_PROCESS_AI, _S.FAILED_CONTENT_CHECK, _S.FAILED_TO_SEND_MESSAGE}
    | {_S.FAILED_UNKNOWN}
)
# Once per conversation: their discriminator is the contract's to choose, so they are told apart by type.
ONCE = (_T.SCHEDULED, _T.SENT, _T.NEEDS_HUMAN, _T.COMPLETED, _T.OPTED_OUT)
DELIVERED, READ = rank_of("delivered"), rank_of("read")
SETTINGS = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)


# -- the stream ---------------------------------------------------------------------------------------
Pair = tuple[ConversationRecord | None, ConversationRecord]


def histories(schedule: Schedule) -> dict[str, list[ConversationRecord]]:
    """Each conversation's record after every write, in the order the table took them."""
    found: dict[str, list[ConversationRecord]] = {}
    for state in schedule.watch.states:
        found.setdefault(state["conversation_id"], []).append(ConversationRecord.model_validate(state))
    return found


def stream_of(history: list[ConversationRecord]) -> list[Pair]:
    """What the stream hands the function: (old image, new image) of each write, the first an INSERT."""
    return list(zip([None, *history[:-1]], history, strict=True))


def consumed(pairs: list[Pair], draw: Any) -> list[WebhookEvent]:
    """Every event the function queues while the stream's faults are drawn, in the order queued."""
    queued: list[WebhookEvent] = []
    position = 0
    while position < len(pairs):
        batch = pairs[position : position + draw(st.integers(1, 4), label="batch size")]
        start = 0
        for attempt in itertools.count():
            fault = "none" if attempt >= 2 else draw(st.sampled_from(("none", "none", "fails", "times out")))
            if fault == "fails":  # a record fails after queueing some of its events; retried from it
                failing = draw(st.integers(start, len(batch) - 1), label="failing record")
                for old, new in batch[start:failing]:
                    queued += derive_events(old, new)
                events = derive_events(*batch[failing])
                queued += events[: draw(st.integers(0, len(events)), label="queued before it failed")]
                start = failing
                continue
            for old, new in batch[start:]:
                queued += derive_events(old, new)
            if fault == "none":
                break
            # "times out": everything was queued, nothing checkpointed: the batch comes again whole
        position += len(batch)
    return queued


def distinct_writes(history: list[ConversationRecord]) -> list[ConversationRecord]:
    """The history without writes that changed nothing (the stream would carry none for them)."""
    return [state for i, state in enumerate(history) if i == 0 or state != history[i - 1]]


# -- what happened, from the history alone ---------------------------------------------------------------
class Occurrences:
    """The events a history calls for (``required``) and those it allows (``allowed``: a status may
    be passed over, e.g. ``read`` reported before ``delivered`` ever showed), by id for the events
    whose discriminator the contract fixes, by type for the once-per-conversation ones."""

    def __init__(self, history: list[ConversationRecord]):
        self.conversation_id = history[-1].conversation_id
        self.required_ids: set[str] = set()
        self.allowed_ids: set[str] = set()
        self.required_types: set[WebhookEventType] = set()
        self.allowed_types: set[WebhookEventType] = set()
        self.messages: dict[str, MessageView] = {}  # by event id: the message it must carry
        self.names: dict[str, str] = {}  # by event id: type and discriminator, for a failure's report
        for before, state in stream_of(history):
            self._status(before, state)
            self._delivery(state)
            self._messages(state)
            if state.task_complete:
                self._once(_T.COMPLETED)

    def _id(self, event_type: WebhookEventType, discriminator: str, *, required: bool = True) -> str:
        event = event_id(self.conversation_id, event_type, discriminator)
        self.names[event] = f"{event_type.value} {discriminator}"
        self.allowed_ids.add(event)
        if required:
            self.required_ids.add(event)
        return event

    def _once(self, event_type: WebhookEventType) -> None:
        self.required_types.add(event_type)
        self.allowed_types.add(event_type)

    def _status(self, before: ConversationRecord | None, state: ConversationRecord) -> None:
        status = state.conversation_status
        for event_type, reached in (
            (_T.SCHEDULED, _S.SCHEDULED),
            (_T.SENT, _S.INITIAL_MESSAGE_SENT),
            (_T.NEEDS_HUMAN, _S.NEEDS_HUMAN),
            (_T.OPTED_OUT, _S.SUPPRESSED),
        ):
            if status is reached:
                self._once(event_type)
        if status in FIRST_MESSAGE_FAILURES:
            self._id(_T.FAILED, "processing")
        # ``send_unconfirmed``/``reply_unconfirmed`` are no failure: the message may have gone out.
        if status is _S.REPLY_NOT_SENT:
            # The messages the turn gives up: its claimed range, or all pending when it ended
            # before claiming (``reply_through`` is then the previous turn's).
            claimed = (
                before is not None and before.conversation_status in TURN_STEPS and state.reply_through is not None
            )
            self._id(_T.FAILED, f"reply#{state.reply_through if claimed else state.inbound_count}")

    def _delivery(self, state: ConversationRecord) -> None:
        message, status = state.provider_message_id, state.delivery_status
        if not message or not status:
            return
        rank = rank_of(status) or 0
        for event_type, exact, at_least in ((_T.DELIVERED, "delivered", DELIVERED), (_T.READ, "read", READ)):
            if rank >= at_least:
                self._id(event_type, message, required=status == exact)
        if status in FAILURES:
            self._id(_T.FAILED, f"delivery#{message}")

    def _messages(self, state: ConversationRecord) -> None:
        outbound = [entry for entry in state.messages if entry.role == "assistant"]
        for entry in state.messages:
            if entry.role == "user":
                self.messages[self._id(_T.REPLY_RECEIVED, f"in#{entry.inbound_seq}")] = MessageView.of(entry)
        for entry in outbound[1:]:
            self.messages[self._id(_T.REPLY_SENT, f"out#{entry.message_id}")] = MessageView.of(entry)


# -- the properties ----------------------------------------------------------------------------------------
def assert_the_events_hold(schedule: Schedule, draw: Any) -> None:
    for conversation_id, history in histories(schedule).items():
        note(f"{conversation_id}: " + " → ".join(s.conversation_status.value for s in history))
        queued = consumed(stream_of(history), draw)
        _assert_nothing_lost_nothing_invented(Occurrences(history), queued)
        _assert_faults_change_nothing(history, queued)
        _assert_in_the_order_they_happened(queued)


def _assert_nothing_lost_nothing_invented(happened: Occurrences, queued: list[WebhookEvent]) -> None:
    ids = {event.id for event in queued}
    lost = happened.required_ids - ids
    assert not lost, f"events lost: {sorted(happened.names[e] for e in lost)}"
    by_id = [e for e in queued if e.type not in ONCE]
    invented = {(e.type.value, e.id) for e in by_id if e.id not in happened.allowed_ids}
    assert not invented, f"events whose occurrence never happened (or with another id): {sorted(invented)}"
    once = {e.type for e in queued if e.type in ONCE}
    assert happened.required_types <= once, f"events lost: {sorted(t.value for t in happened.required_types - once)}"
    assert once <= happened.allowed_types, (
        f"events that never happened: {sorted(t.value for t in once - happened.allowed_types)}"
    )
    for event_type in ONCE:
        given_ids = {e.id for e in queued if e.type is event_type}
        assert len(given_ids) <= 1, f"{event_type.value} under {len(given_ids)} ids: the tenant sees it twice"
    for event in queued:
        assert event.data.conversation_id == happened.conversation_id, "an event names another conversation"
        if event.id in happened.messages:
            assert event.data.message == happened.messages[event.id], f"{event.type.value} carries another message"


def _assert_faults_change_nothing(history: list[ConversationRecord], queued: list[WebhookEvent]) -> None:
    fault_free = [event for old, new in stream_of(distinct_writes(history)) for event in derive_events(old, new)]
    given = Counter(e.id for e in fault_free)
    spurious = sorted({f"{e.type.value} {e.id}" for e in fault_free if given[e.id] > 1})
    assert not spurious, f"two writes gave the same event: {spurious}"
    assert {e.id for e in queued} == {e.id for e in fault_free}, "the stream's faults changed which events exist"
    for event in queued:  # a pair derived again: the very same event, body included
        assert event in fault_free, f"{event.type.value} {event.id} differs when its write is derived again"
    for old, new in stream_of(history):
        assert derive_events(old, new) == derive_events(old, new)


def _assert_in_the_order_they_happened(queued: list[WebhookEvent]) -> None:
    """On the first time each id is queued (later copies are dropped by the FIFO queue's
    deduplication or the tenant's)."""
    first: dict[str, WebhookEvent] = {}
    for event in queued:
        first.setdefault(event.id, event)
    order = list(first.values())
    position = {event.id: n for n, event in enumerate(order)}

    def at(event_type: WebhookEventType, when: Any = lambda e: True) -> list[int]:
        return [position[e.id] for e in order if e.type is event_type and when(e)]

    sent = at(_T.SENT)
    for later in (_T.DELIVERED, _T.READ, _T.REPLY_RECEIVED, _T.REPLY_SENT):
        assert all(s < n for s in sent for n in at(later)), f"{later.value} queued before conversation.sent"
    for delivered in order:
        if delivered.type is _T.DELIVERED:
            message = delivered.data.delivery and delivered.data.delivery.message_id
            reads = at(_T.READ, lambda e, m=message: e.data.delivery and e.data.delivery.message_id == m)
            assert all(position[delivered.id] < n for n in reads), "read queued before delivered"
    received = {e.data.message.inbound_seq: position[e.id] for e in order if e.type is _T.REPLY_RECEIVED}
    seqs = sorted(received)
    assert [received[s] for s in seqs] == sorted(received.values()), f"reply_received out of seq order: {received}"
    for reply in order:
        if reply.type is _T.REPLY_SENT:
            through = reply.data.message.answers_through or 0
            early = [seq for seq, n in received.items() if seq <= through and n > position[reply.id]]
            assert not early, f"reply_sent answering through {through} queued before reply_received {early}"


# -- the schedules: the first message's, then reply turns' -----------------------------------------------
@pytest.fixture(scope="module")
def replying(aws_in_process: dict[str, Any]) -> dict[str, Any]:
    """The project set up for replies (module-wide: the first-message tests above run before it)."""
    return replying_project(aws_in_process)


def _first_message(schedule: Schedule) -> None:
    """As the pipeline's property file runs it: the queue until quiet, a DLQ'd conversation that
    is not final redriven, then the delivery reports applied."""
    schedule.run_sqs()
    for conversation in range(len(schedule.messages)):
        if any(m.dead for m in schedule.queue if m.conversation == conversation):
            schedule.redrive(conversation)  # a final record ignores it; a durable one finishes
    schedule.finish_events()


@settings(SETTINGS, max_examples=20)
@given(data=st.data())
def test_first_message_schedules_queue_every_event_once_in_order(aws_in_process, data):
    schedule = Schedule(aws_in_process, data.draw)
    _first_message(schedule)

    assert_the_events_hold(schedule, data.draw)


@settings(SETTINGS, max_examples=15)
@given(data=st.data())
def test_an_opt_out_between_any_two_calls_is_told_once(aws_in_process, data):
    schedule = Schedule(aws_in_process, data.draw, faults=FAULTS | RACING_SENDS)
    reason = data.draw(st.sampled_from(OPT_OUTS), label="the person opts out by")
    schedule.opt_out_between_calls(opt_out_point(data.draw, calls=30), reason)
    _first_message(schedule)
    schedule.opt_out_if_pending()

    assert_the_events_hold(schedule, data.draw)


@settings(SETTINGS, max_examples=15)
@given(data=st.data())
def test_reply_schedules_queue_each_reply_received_and_sent_once_in_order(replying, data):
    # The provider reports each message's statuses too: the record's delivery status then stays
    # put while the turns write it, and moves again for each reply.
    schedule = ReplySchedule(replying, data.draw, delivery_reports=True)
    schedule.run()
    schedule.redrive_everything()

    assert_the_events_hold(schedule, data.draw)


@settings(SETTINGS, max_examples=12)
@given(data=st.data())
def test_a_stop_or_opt_out_racing_the_reply_turns_is_told_once(replying, data):
    schedule = ReplySchedule(replying, data.draw, faults=OPT_OUT_FAULTS)
    how = data.draw(st.sampled_from(("STOP", "STOP", *OPT_OUTS)), label="the person opts out by")
    before = opt_out_point(data.draw, calls=60, points=TURN_POINTS)
    if how == "STOP":
        schedule.stop_between_calls(before, data.draw(st.integers(1, 2), label="posts of the STOP"))
    else:
        schedule.opt_out_between_calls(before, how)
    schedule.run()
    schedule.stop_if_pending()
    schedule.opt_out_if_pending()
    schedule.run_sqs()
    schedule.redrive_everything()

    assert_the_events_hold(schedule, data.draw)
