"""The conversation record's state machine and the failure → status/retry table."""

from __future__ import annotations

from shared.models.conversation import TRANSITIONS, ConversationStatus, may_move
from shared.processing import errors
from shared.processing.errors import DISPOSITIONS, ProcessingFailure

S = ConversationStatus


def _reachable() -> set[ConversationStatus]:
    # A record is created ``processing``, or ``scheduled`` when its first message waits (issue 12).
    seen, frontier = {S.PROCESSING, S.SCHEDULED}, [S.PROCESSING, S.SCHEDULED]
    while frontier:
        for target in TRANSITIONS.get(frontier.pop(), ()):
            if target not in seen:
                seen.add(target)
                frontier.append(target)
    return seen


def test_every_status_is_reachable_from_a_new_record():
    assert _reachable() == set(ConversationStatus)


def test_final_statuses_have_no_way_out_except_a_late_confirmation_of_an_unconfirmed_send():
    for status in ConversationStatus:
        if status.is_final and not status.is_open:
            assert TRANSITIONS.get(status, frozenset()) <= {S.INITIAL_MESSAGE_SENT}
    assert TRANSITIONS[S.SEND_UNCONFIRMED] == {S.INITIAL_MESSAGE_SENT}


def test_a_thread_opens_only_once_the_first_message_went_out_and_a_hand_over_is_the_end():
    opened = {target for source in ConversationStatus if not source.is_open for target in TRANSITIONS.get(source, ())}
    assert {status for status in opened if status.is_open} == {S.INITIAL_MESSAGE_SENT}
    # A hand-over is the end, except that the person may still opt out (issue 12).
    assert TRANSITIONS.get(S.NEEDS_HUMAN, frozenset()) == {S.SUPPRESSED}
    assert _sources_of(S.REPLY_SENT) == {S.REPLY_SENDING, S.REPLY_UNCONFIRMED}
    assert _sources_of(S.REPLY_SENDING) == {S.REPLY_GENERATED, S.REPLY_SENDING}


def _sources_of(target: ConversationStatus) -> set[ConversationStatus]:
    return {source for source in ConversationStatus if may_move(source, target)}


def test_only_a_sending_record_can_be_marked_sent_or_unconfirmed():
    assert _sources_of(S.INITIAL_MESSAGE_SENT) == {S.SENDING, S.SEND_UNCONFIRMED}
    assert _sources_of(S.SEND_UNCONFIRMED) == {S.SENDING}
    assert _sources_of(S.SENDING) == {S.AI_GENERATED, S.SENDING}
    assert _sources_of(S.FAILED_CONTENT_CHECK) == {S.AI_GENERATED}  # checked at the send step


def test_every_named_failure_has_a_disposition_and_every_failure_status_is_some_failures_outcome():
    named = {cls for cls in vars(errors).values() if isinstance(cls, type) and issubclass(cls, ProcessingFailure)}
    named.discard(ProcessingFailure)
    assert named == set(DISPOSITIONS)
    # failed_unknown is the outcome of an exception nobody named (settlement.record_unexpected).
    statuses = {d.status for d in DISPOSITIONS.values()} | {S.FAILED_UNKNOWN}
    assert {s for s in ConversationStatus if s.value.startswith(("failed", "send_"))} <= statuses


def test_permanent_failures_record_a_status_and_transient_ones_never_do():
    for failure, disposition in DISPOSITIONS.items():
        if disposition.retry:
            assert disposition.status is None, failure


def test_a_failure_reason_masks_the_addresses_it_mentions():
    failure = errors.ProviderRejected("Invalid 'To' Phone Number: +447700900123 for alex.morgan@example.com")

    assert "+447700900123" not in failure.reason and "alex.morgan@example.com" not in failure.reason


def test_suppressed_is_final_and_closes_every_open_state_and_every_step_before_a_send():
    assert TRANSITIONS.get(S.SUPPRESSED, frozenset()) == frozenset()
    assert S.SUPPRESSED.is_final and not S.SUPPRESSED.is_open
    closable = {source for source, targets in TRANSITIONS.items() if S.SUPPRESSED in targets}
    expected = {S.SCHEDULED, S.PROCESSING, S.AI_GENERATED, S.SENDING}
    assert closable == expected | {status for status in ConversationStatus if status.is_open}


def test_a_scheduled_record_is_not_final_and_only_wakes_up_or_closes():
    assert not S.SCHEDULED.is_final and not S.SCHEDULED.is_open
    assert TRANSITIONS[S.SCHEDULED] == {S.PROCESSING, S.SUPPRESSED}
