"""The pipeline driven through random fault schedules (hypothesis): a person gets a message at most
once, and every accepted conversation ends in one final status, whatever SQS and the services do.

What runs for real: ``Pipeline``, ``ConversationRepository``, ``SecretReader`` and ``EventApplier``
on boto3 against moto in-process; the world they run in (the turnstile, the faults, the providers'
fake SDK clients, the SQS model) is ``fault_harness.py``.

Invariants (checked once no message is left on the queue):
- nobody gets a message twice: each conversation has at most one message accepted by the provider;
- a conversation recorded ``initial_message_sent`` names the provider message its own send created;
- ``failed_to_process_ai`` / ``failed_to_send_message`` / ``failed_content_check`` mean nothing was
  sent, and no text the content check refuses (the AI obeying an injection) ever reaches the person;
- every conversation whose messages were all deleted has a record in a final status; one whose
  message is in the DLQ has either a final record or a durable non-final one that a redrive (one
  more fault-free delivery) takes to a final status, still with at most one message sent;
- no transient fault loses a conversation: with no permanent fault injected, it ends
  ``initial_message_sent`` or ``send_unconfirmed`` (a send that may have gone out and cannot be
  attributed);
- permanent faults are not retried: a delivery that recorded one asks SQS for no retry.

Status events: the provider reports each message it accepted with a drawn list of statuses
(duplicates included), queued on the events queue the moment it accepts the send, so the events
processor (the real ``EventApplier`` on the same gated DynamoDB) may see them before the send's
item or record exists, in any order, again after a crash between its item and record writes, and
late. Checked:
- a delivery status never moves backwards, on the message's item or on the record (every write
  that touches one is watched);
- the message ends at the highest-ranked status reported (an event the engine could not match
  before its last receive is kept as unmatched, and may or may not count);
- the record shows its message's status, and only statuses of its own message's events: no event
  touches another conversation (two conversations to one person in the dense schedules).
"""

from __future__ import annotations

import itertools
from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from shared.channels import Channel
from shared.events.delivery_state import DeliveryState
from shared.events.delivery_status import rank_of
from shared.events.envelope import Provider as ProviderName
from shared.events.provider_messages import message_key
from shared.models.conversation import ConversationStatus, may_move
from shared.processing.conversation_repository import ConversationKey, ConversationRepository
from tests.property.fault_harness import (
    CRASH,
    CRASH_AFTER,
    FAULTS,
    LOST,
    OK,
    OPT_OUTS,
    PERMANENT_FAULTS,
    RACING_SENDS,
    TRANSIENT,
    Delivery,
    Schedule,
    assert_a_check_that_saw_the_opt_out_ended_the_record,
    assert_nothing_reached_the_person_unchecked,
    first_opt_out,
    key_text,
    opt_out_point,
    where_the_opt_out_fell,
)

_S = ConversationStatus


def _assert_permanent_faults_are_not_retried(delivery: Delivery) -> None:
    """A permanent failure this delivery recorded is final: its message is not delivered again.

    (If the record had moved on when the failure was to be written, another delivery holds the
    conversation, and this copy may come back, only to see that work finished.)
    """
    faults = [fault for _, fault in delivery.faults]
    if PERMANENT_FAULTS & set(faults) and not delivery.crashed and delivery.outcome.status is not None:
        assert delivery.outcome.status.is_final
        assert not delivery.outcome.retry, f"delivery {delivery.number} retried a permanent failure: {faults}"


# -- the property --------------------------------------------------------------------------------------
@settings(
    max_examples=750,
    deadline=None,
    derandomize=True,  # the same schedules on every run: CI is reproducible
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_random_fault_schedules_never_send_twice_nor_lose_a_conversation(aws_in_process, data):
    schedule = Schedule(aws_in_process, data.draw)
    schedule.run_sqs()

    _assert_the_promises_held(schedule, aws_in_process)


# Reconciliation's hardest case, searched densely: two conversations to one person on a channel
# whose provider can be asked (Twilio), each delivered once or twice, every send and lookup able to
# be refused for now, lose its answer after the provider took the message, or die before or after
# the call. Everything else succeeds, so the search spends itself on the sends. In the broad test
# above a schedule like that is one in thousands; here it is one in tens.
SENDS_ONLY = {point: (OK,) for point in FAULTS} | {
    "send": (OK, TRANSIENT, LOST, CRASH, CRASH_AFTER),
    "lookup": (OK, TRANSIENT, CRASH),
    # The events of the two messages interleave with the sends; a crash between an event's item and
    # record writes must heal, and never on the other conversation.
    "event write": (OK, CRASH, CRASH_AFTER),
}


@settings(
    max_examples=250,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_two_conversations_to_one_person_never_take_each_others_message(aws_in_process, data):
    schedule = Schedule(
        aws_in_process, data.draw, channels=(Channel.WHATSAPP, Channel.SMS), conversations=(2, 2), faults=SENDS_ONLY
    )
    schedule.run_sqs()

    _assert_the_promises_held(schedule, aws_in_process)


# The person opts out (issue 12) between any two calls of the schedule: before the AI, between the
# AI and the send, between the check right before the send and the provider call, after the send,
# during a crash's redelivery or the DLQ's redrive, or after everything. Written by the real
# SuppressionList, as STOP, the unsubscribe link, a bounce or an operator writes it.
@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_an_opt_out_between_any_two_calls_stops_every_send_after_it(aws_in_process, data):
    schedule = Schedule(aws_in_process, data.draw, faults=FAULTS | RACING_SENDS)
    reason = data.draw(st.sampled_from(OPT_OUTS), label="the person opts out by")
    schedule.opt_out_between_calls(opt_out_point(data.draw, calls=30), reason)
    schedule.run_sqs()
    schedule.opt_out_if_pending()  # not reached: after everything (a redrive below still checks)

    _assert_the_promises_held(schedule, aws_in_process)
    _assert_the_opt_out_held(schedule)


def _assert_the_opt_out_held(schedule: Schedule) -> None:
    """The opt-out was written, and what it raced is counted; ``_assert_the_promises_held`` checks
    the rest: no provider call after it but one its own check cleared before it, a delivery whose
    check saw it ends its record ``suppressed`` with nothing sent, listed for the entry's reason."""
    log = schedule.turnstile.log
    written = first_opt_out(log)
    assert written is not None, "the person's opt-out was never written"
    for case in where_the_opt_out_fell(log, written):
        event(case)


def _assert_the_promises_held(schedule: Schedule, aws_in_process: dict[str, Any]) -> None:
    repository = ConversationRepository(aws_in_process["dynamodb"], aws_in_process["table"])
    # A bounce, a spam report or Twilio refusing the number suppresses the person (issue 12): their
    # other conversation may then end suppressed instead of sent.
    entry = schedule.suppression_entry()
    for delivery in schedule.turnstile.deliveries_seen.values():
        _assert_permanent_faults_are_not_retried(delivery)
    for conversation, message in enumerate(schedule.messages):
        key = ConversationKey(message.recipient_address, message.conversation_id)
        record = repository.get(key)
        in_dlq = any(m.dead for m in schedule.queue if m.conversation == conversation)
        if in_dlq and (record is None or not record.conversation_status.is_final):
            schedule.redrive(conversation)
            record = repository.get(key)
        assert record is not None, f"conversation {conversation}: no record, and nothing left to deliver"
        status = record.conversation_status
        sent = schedule.provider.sent_to(conversation)
        assert len(sent) <= 1, f"conversation {conversation} ({status}) reached the person {len(sent)} times"
        assert status.is_final, f"conversation {conversation} is stuck in {status}"
        if status is _S.INITIAL_MESSAGE_SENT:
            assert [m.provider_message_id for m in sent] == [record.provider_message_id], (
                f"conversation {conversation} is recorded sent with a message it did not send"
            )
        if status in (_S.FAILED_TO_PROCESS_AI, _S.FAILED_TO_SEND_MESSAGE, _S.FAILED_CONTENT_CHECK, _S.SUPPRESSED):
            assert not sent, f"conversation {conversation} is {status} but its message went out"
        if status is _S.SUPPRESSED:
            assert entry is not None and entry.is_active, f"conversation {conversation} is suppressed; the list is not"
            assert record.suppression_reason == entry.reason, (
                f"conversation {conversation} suppressed for {record.suppression_reason}, listed for {entry.reason}"
            )
        if any("evil.example" in m.body for m in sent):
            raise AssertionError(f"conversation {conversation}: a link the project never supplied reached the person")
        if not PERMANENT_FAULTS & set(schedule.faults_of(conversation)):
            expected = {_S.INITIAL_MESSAGE_SENT, _S.SEND_UNCONFIRMED} | ({_S.SUPPRESSED} if entry else set())
            assert status in expected, f"conversation {conversation} met only transient faults and ended {status}"
        _assert_every_write_moved_along_the_state_machine(schedule, message.conversation_id)
    schedule.finish_events()
    _assert_delivery_only_moved_forward_on_its_own_conversation(schedule, aws_in_process)
    # Whoever wrote the list (the person, a bounce, Twilio refusing the number): nothing after it
    # reached them unchecked, and a check that saw it ended the record suppressed.
    assert_nothing_reached_the_person_unchecked(schedule.turnstile.log)
    assert_a_check_that_saw_the_opt_out_ended_the_record(schedule.turnstile.log)


def _assert_every_write_moved_along_the_state_machine(schedule: Schedule, conversation_id: str) -> None:
    states = [s for s in schedule.watch.states if s.get("conversation_id") == conversation_id]
    for before, after in itertools.pairwise(states):
        old, new = _S(before["conversation_status"]), _S(after["conversation_status"])
        assert old == new or may_move(old, new), f"the record moved {old} → {new}, outside TRANSITIONS"


def _assert_delivery_only_moved_forward_on_its_own_conversation(schedule: Schedule, aws: dict[str, Any]) -> None:
    for (table, key), seen in schedule.history.items():
        ranks = [rank for rank, _ in seen]
        assert ranks == sorted(ranks), f"a delivery status moved backwards on {table} {key}: {seen}"
    twilio = schedule.channel is not Channel.EMAIL
    provider = ProviderName.TWILIO if twilio else ProviderName.SENDGRID
    initial = ["queued"] if twilio else []  # Twilio's answer to the send; SendGrid's 202 has none
    items: dict[str, dict[str, Any] | None] = {}

    def item_of(message_id: str) -> dict[str, Any] | None:
        key = message_key(provider, message_id)
        if key not in items:
            items[key] = _plain_item(aws, aws["messages_table"], {"provider_message_key": {"S": key}})
        return items[key]

    for conversation, message in enumerate(schedule.messages):
        reported = [s for s in schedule.reports[conversation] if rank_of(s) is not None] + initial
        record_key = ConversationKey(message.recipient_address, message.conversation_id).item_key()
        for _, status in schedule.history.get((aws["table"], key_text(record_key)), []):
            assert status is None or status in reported, (
                f"conversation {conversation}'s record showed {status}, which its own message never reported"
            )
        for accepted in schedule.provider.sent_to(conversation):
            item = item_of(accepted.provider_message_id)
            highest = max((rank_of(s) or 0 for s in reported), default=0)
            final = int(item.get("delivery_rank", 0)) if item else 0
            assert item is None or item["conversation_id"] == message.conversation_id
            # Below the highest reported only when the higher events were kept unmatched: they came
            # before the send's item existed, until their last receive (a send_unconfirmed has none).
            missed = {s for s in reported if (rank_of(s) or 0) > final and s not in initial}
            key = message_key(provider, accepted.provider_message_id)
            unmatched = {s for s in missed if _plain_item(aws, aws["messages_table"], _unmatched_key(key, s))}
            assert final <= highest and missed == unmatched, (
                f"conversation {conversation}'s message ended {item and item.get('delivery_status')} of {reported}"
                f" (kept unmatched: {sorted(unmatched)})"
            )
        record = _plain_item(aws, aws["table"], record_key)
        if record is not None and record.get("provider_message_id"):
            item = item_of(record["provider_message_id"])
            assert item is not None
            shown, holds = DeliveryState.of(record), DeliveryState.of(item)
            assert shown == holds, f"conversation {conversation}'s record shows {shown}, its message {holds}"


def _unmatched_key(key: str, status: str) -> dict[str, Any]:
    provider, _, message_id = key.partition("#")
    code = "30003" if status in ("undelivered", "failed") else ""
    event_id = f"{message_id}-{status}" if provider == "sendgrid" else f"{status}#{code}"
    return {"provider_message_key": {"S": f"unmatched#{key}#{event_id}"}}


def _plain_item(aws: dict[str, Any], table: str, key: dict[str, Any]) -> dict[str, Any] | None:
    item = aws["dynamodb"].get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
    return None if item is None else {name: TypeDeserializer().deserialize(value) for name, value in item.items()}
