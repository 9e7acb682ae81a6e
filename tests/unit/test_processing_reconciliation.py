"""Which provider message a ``sending`` record's redelivery may take for its own (issue 9 B)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.models.conversation import ConversationRecord, ConversationStatus, MessageEntry
from shared.processing.errors import SendOutcomeUnknown, SendUnconfirmed
from shared.processing.reconciliation import find_our_send
from shared.processing.senders import Outgoing, SendReceipt
from shared.processing.senders.twilio_messages import same_content

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
S = ConversationStatus


def _record(conversation_id: str, status: S, *, body: str, provider_id: str | None = None) -> ConversationRecord:
    return ConversationRecord(
        primary_channel="+447700900123", conversation_id=conversation_id, company_id="c", project_id="p",
        request_id="r", channel_method="sms", conversation_status=status, created_at="t", updated_at="t",
        ai_content={"body": body}, send_started_at="2026-11-25T11:59:00.000Z", provider_message_id=provider_id,
    )  # fmt: skip


def _find(ours: ConversationRecord, listed: list[SendReceipt], others: list[ConversationRecord], *, age: float = 60):
    return find_our_send(
        record=ours, provider="twilio", can_reconcile=True, now=NOW, started=NOW - timedelta(seconds=age),
        settle_seconds=20, list_sent=lambda: listed, other_conversations=lambda: others,
    )  # fmt: skip


def _listed(sid: str, body: str) -> SendReceipt:
    return SendReceipt(provider_message_id=sid, accepted_at=NOW, content=body)


def test_a_message_only_this_conversation_could_have_sent_is_ours():
    a = _record("A", S.SENDING, body="About the Porter role")
    b = _record("B", S.SENDING, body="About the Nurse role")

    assert _find(a, [_listed("SM1", "About the Porter role")], [b]).provider_message_id == "SM1"


def test_a_message_another_unresolved_conversation_could_own_is_not_taken():
    a = _record("A", S.SENDING, body="About the Porter role")
    b = _record("B", S.SENDING, body="About the Porter role")  # taken by Twilio, its answer lost

    with pytest.raises(SendUnconfirmed, match="Another conversation to the same person"):
        _find(a, [_listed("SM-B", "About the Porter role")], [b])


def test_an_unconfirmed_conversation_still_counts_as_a_possible_owner():
    a = _record("A", S.SENDING, body="About the Porter role")
    b = _record("B", S.SEND_UNCONFIRMED, body="About the Porter role")

    with pytest.raises(SendUnconfirmed):
        _find(a, [_listed("SM-B", "About the Porter role")], [b])


def test_a_message_another_conversation_recorded_is_not_ours_and_nothing_of_ours_means_send_again():
    a = _record("A", S.SENDING, body="About the Porter role")
    b = _record("B", S.INITIAL_MESSAGE_SENT, body="About the Porter role", provider_id="SM-B")

    assert _find(a, [_listed("SM-B", "About the Porter role")], [b]) is None


def test_nothing_listed_while_the_send_may_still_land_is_asked_again_later():
    a = _record("A", S.SENDING, body="About the Porter role")

    with pytest.raises(SendOutcomeUnknown) as unknown:
        _find(a, [], [], age=5)

    # Not before the settle window ends: an earlier retry only spends one of the message's receives.
    assert unknown.value.retry_after_seconds == 15


def test_a_template_send_matches_only_a_listed_text_holding_every_variable():
    outgoing = Outgoing(to="whatsapp:+1", sender="whatsapp:+2", text="{}", content_sid="HX1",
                        content_variables={"1": "Alex", "2": "Porter"})  # fmt: skip

    assert same_content(outgoing, "Hi Alex, about the Porter role")
    assert not same_content(outgoing, "Hi Alex, about the Nurse role")
    assert not same_content(outgoing, None)


def test_an_sms_matches_only_its_exact_body():
    outgoing = Outgoing(to="+1", sender="+2", text="About the Porter role")

    assert same_content(outgoing, "About the Porter role")
    assert not same_content(outgoing, "About the Porter role!")


# -- replies (issue 11) --------------------------------------------------------------------------------
def _replying(conversation_id: str, status: S, *, reply: str, sent: list[str] = ()) -> ConversationRecord:
    record = _record(conversation_id, status, body="About the Porter role", provider_id=sent[-1] if sent else None)
    return record.model_copy(
        update={
            "reply_content": {"reply": reply, "task_complete": False, "needs_human": False},
            "messages": [MessageEntry(message_id=sid, timestamp="t", role="assistant", content="x") for sid in sent],
        }
    )


def test_a_reply_never_takes_the_conversations_own_earlier_message():
    ours = _replying("A", S.REPLY_SENDING, reply="Yes", sent=["SM-first"])

    found = _find(ours, [_listed("SM-reply", "Yes"), _listed("SM-first", "Yes")], [])

    assert found.provider_message_id == "SM-reply"


def test_another_conversations_reply_in_flight_counts_as_a_rival():
    ours = _replying("A", S.REPLY_SENDING, reply="Yes", sent=["SM-a"])
    rival = _replying("B", S.REPLY_UNCONFIRMED, reply="Yes", sent=["SM-b"])

    with pytest.raises(SendUnconfirmed, match="Another conversation to the same person"):
        _find(ours, [_listed("SM-x", "Yes")], [rival])


def test_a_finished_reply_elsewhere_is_no_rival_and_its_messages_are_taken():
    ours = _replying("A", S.REPLY_SENDING, reply="Yes", sent=["SM-a"])
    done = _replying("B", S.REPLY_SENT, reply="Yes", sent=["SM-b", "SM-b2"])

    assert _find(ours, [_listed("SM-x", "Yes"), _listed("SM-b2", "Yes")], [done]).provider_message_id == "SM-x"
