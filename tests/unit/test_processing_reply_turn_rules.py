"""When a reply job has nothing left to do (issue 11): a repeated job never runs a turn twice."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.channels import Channel
from shared.models.conversation import ConversationRecord, ConversationStatus
from shared.processing.replies.turn_settlement import job_done
from shared.replies.reply_job import ReplyJob, ReplyJobMetadata
from tests.unit.processing_messages import context_message

S = ConversationStatus


def _job(seq: int) -> ReplyJob:
    message = context_message(Channel.SMS)
    return ReplyJob(
        channel=Channel.SMS, company_id="c", project_id="p", primary_channel="+447700900123",
        conversation_id="c#p#r#n", inbound_message_id=f"SM{seq}", inbound_seq=seq, auto_reply=True,
        policy={"max_ai_turns": 10}, project=message.project,
        metadata=ReplyJobMetadata(events_processor_version="e", queued_at=datetime(2026, 11, 26, tzinfo=UTC)),
    )  # fmt: skip


def _record(status: S, *, answered: int, count: int, through: int | None = None) -> ConversationRecord:
    return ConversationRecord(
        primary_channel="+447700900123", conversation_id="c#p#r#n", company_id="c", project_id="p",
        request_id="r", channel_method="sms", conversation_status=status, created_at="t", updated_at="t",
        answered_through=answered, inbound_count=count, reply_through=through,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("record", "seq", "done"),
    [
        (_record(S.REPLY_SENT, answered=2, count=2), 2, True),  # answered
        (_record(S.REPLY_SENT, answered=1, count=2), 2, False),  # pending
        (_record(S.REPLY_PROCESSING, answered=2, count=3, through=3), 1, False),  # a turn to resume
        (_record(S.NEEDS_HUMAN, answered=0, count=3), 3, True),  # a person has it
        (_record(S.REPLY_NOT_SENT, answered=0, count=1, through=1), 1, True),  # its turn ended without a reply
        (_record(S.REPLY_NOT_SENT, answered=0, count=2, through=1), 2, False),  # a newer message: a new turn
        (_record(S.REPLY_UNCONFIRMED, answered=1, count=1, through=1), 1, True),  # counted as answered
        (_record(S.SUPPRESSED, answered=0, count=2, through=2), 2, True),  # the person opted out: final
    ],
)
def test_a_job_is_done_only_when_its_message_needs_nothing_more(record, seq, done):
    assert job_done(record, _job(seq)) is done
