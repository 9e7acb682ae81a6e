"""Which reply a turn owes the person's consent keywords (issue 12): the help text for a claimed
HELP when the project has one; never an answer to a claimed STOP (unless a later START)."""

from __future__ import annotations

import pytest

from shared.channels import Channel
from shared.models.conversation import ConversationRecord, MessageEntry
from shared.processing.replies.consent_keywords import claimed_messages, help_text_due, opt_out_pending
from tests.unit.processing_messages import context_message

HELP = "Cucumber Recruitment: reply STOP to opt out."


def _record(*keywords: str | None, answered: int = 0, through: int | None = None) -> ConversationRecord:
    messages = [MessageEntry(message_id="SM0", timestamp="t", role="assistant", content="Hello")]
    messages += [
        MessageEntry(message_id=f"SM{seq}", timestamp="t", role="user", content="…", inbound_seq=seq, consent_keyword=k)
        for seq, k in enumerate(keywords, start=1)
    ]
    return ConversationRecord(
        primary_channel="+447700900123", conversation_id="c#p#r#n", company_id="c", project_id="p",
        request_id="r", channel_method="sms", conversation_status="reply_processing", created_at="t",
        updated_at="t", answered_through=answered, inbound_count=len(keywords),
        reply_through=len(keywords) if through is None else through, messages=messages,
    )  # fmt: skip


def _project(help_text: str | None):
    project = context_message(Channel.SMS).project
    return project.model_copy(update={"consent": project.consent.model_copy(update={"help_text": help_text})})


def test_a_turn_claims_the_persons_messages_after_answered_through_up_to_reply_through():
    record = _record(None, "help", None, answered=1, through=2)
    assert [m.inbound_seq for m in claimed_messages(record)] == [2]


@pytest.mark.parametrize(
    ("record", "help_text", "due"),
    [
        (_record("help"), HELP, HELP),
        (_record(None, "help"), HELP, HELP),  # HELP with another message: the help text answers both
        (_record("help"), None, None),  # no help text: an ordinary message
        (_record(None), HELP, None),
        (_record("help", None, answered=1), HELP, None),  # the HELP was answered by an earlier turn
    ],
)
def test_the_help_text_is_the_reply_when_a_claimed_message_is_help(record, help_text, due):
    assert help_text_due(record, _project(help_text)) == due


@pytest.mark.parametrize(
    ("keywords", "pending"),
    [
        (("opt_out",), True),
        ((None, "opt_out", None), True),
        (("opt_out", "opt_in"), False),  # a later START
        (("opt_in", "opt_out"), True),
        (("help", None), False),
    ],
)
def test_a_claimed_stop_is_never_answered_unless_a_start_came_after_it(keywords, pending):
    assert opt_out_pending(_record(*keywords)) is pending
