"""A channel processor answers the person's pending messages with one reply (issue 11): the right
addresses, the thread's history in order, the email threading headers, once per message."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime, timedelta

import pytest

from local.sandboxes import Outcome
from shared import tables
from shared.channels import Channel
from shared.models.conversation import ConversationRecord
from shared.processing.ai_writer import DATA_START
from shared.processing.replies.turns import ReplyTurns
from shared.replies.reply_address import token_in_addresses
from shared.replies.reply_job import ReplyJob
from tests.fixtures.emf import emitted_metrics
from tests.fixtures.processors import CALLBACK_BASE_URL
from tests.integration.reply_setup import (
    COMPANY_ADDRESS,
    PERSON_ADDRESS,
    REPLY_DOMAIN,
    REPLY_SENDER,
    answer,
    company_record_example,  # noqa: F401 - the fixture override
    drain,
    first_message_sent,
)


def _threading(headers: dict[str, str]) -> dict[str, str]:
    """The mail's threading headers (every email also carries List-Unsubscribe: issue 12)."""
    return {name: value for name, value in headers.items() if not name.startswith("List-Unsubscribe")}


@pytest.mark.parametrize("channel", list(Channel))
def test_a_pending_message_is_answered_from_the_company_to_the_person_with_the_history(
    channel, processor_for, context_message, sandbox, capsys
):
    processor = processor_for(channel)
    message = context_message(channel)
    first = first_message_sent(processor, message)
    seq = processor.record_inbound(message, "Is the role full time?", subject="Re: About your application")
    sandbox.openai.script(answer("Yes, it is full time, 37.5 hours a week."))

    result = processor.deliver_job(processor.reply_job(message, seq))

    assert result.deleted == result.received
    record = processor.record(message)
    reply = processor.provider_outbox[-1]
    assert len(processor.provider_outbox) == 2
    if channel is Channel.EMAIL:
        assert (reply["from"], reply["to"], reply["text"]) == (
            COMPANY_ADDRESS[channel], [PERSON_ADDRESS[channel]], "Yes, it is full time, 37.5 hours a week."
        )  # fmt: skip
        assert reply["subject"] == "Re: About your application"
        provider_id = reply["message_id"]
    else:
        assert (reply["from"], reply["to"], reply["body"]) == (
            COMPANY_ADDRESS[channel], PERSON_ADDRESS[channel], "Yes, it is full time, 37.5 hours a week."
        )  # fmt: skip
        provider_id = reply["sid"]
    assert record["conversation_status"] == "reply_sent"
    assert record["answered_through"] == 1 == record["inbound_count"] and record["reply_through"] == 1
    assert record["provider_message_id"] == provider_id and record["ai_turns"] == 1
    assert record["task_complete"] == 0 and record["reply_prompt_version"] == REPLY_SENDER["prompt_version"]
    assert record["reply_content"] == {
        "reply": "Yes, it is full time, 37.5 hours a week.", "task_complete": False, "needs_human": False
    }  # fmt: skip
    assert [m["role"] for m in record["messages"]] == ["assistant", "user", "assistant"]
    entry = record["messages"][-1]
    usage = record["reply_usage"]
    assert entry["message_id"] == provider_id and entry["answers_through"] == 1
    assert usage["total_tokens"] > 0 and {k: entry[k] for k in usage} == usage
    # The reply's item lets its delivery events find the conversation.
    items = [i for i in processor.table_items(tables.PROVIDER_MESSAGES) if i["provider_message_id"] == provider_id]
    assert [i["conversation_id"] for i in items] == [message.conversation_id]
    # The model saw the data block, then the history in order, with the reply instructions.
    request = sandbox.openai.requests[-1].body
    assert request["store"] is False
    assert request["instructions"].startswith(REPLY_SENDER["instructions"])
    assert request["text"]["format"]["name"] == f"{channel.value}_reply"
    assert request["text"]["format"]["strict"] is True
    items = request["input"]
    assert DATA_START in items[0]["content"] and items[0]["role"] == "user"
    assert [(i["role"], i["content"]) for i in items[1:]] == [
        ("assistant", first["messages"][0]["content"]), ("user", "Is the role full time?")
    ]  # fmt: skip
    assert "RepliesSent" in emitted_metrics(capsys.readouterr().out)
    # Delivery events of the reply come back as for the first message.
    if channel is Channel.EMAIL:
        sent = sandbox.sendgrid.requests[-1].body
        assert sent["custom_args"]["company_id"] == message.company_data.company_id
        assert message.conversation_id in sent["custom_args"].values()
    else:
        form = sandbox.twilio.requests[-1].body
        assert form["StatusCallback"].startswith(CALLBACK_BASE_URL) and "ContentSid" not in form


def test_an_email_reply_threads_with_reply_to_in_reply_to_and_references(processor_for, context_message, sandbox):
    processor = processor_for(Channel.EMAIL)
    message = context_message(Channel.EMAIL)
    first_message_sent(processor, message)
    record = processor.record(message)
    token = record["gsi_reply_token"]
    first_mail = sandbox.sendgrid.requests[-1].body
    ours_0 = f"<reply-{token}.0@{REPLY_DOMAIN}>"
    assert first_mail["reply_to"] == {"email": f"reply+{token}@{REPLY_DOMAIN}"}
    assert _threading(first_mail["headers"]) == {"Message-ID": ours_0}
    assert record["email_references"] == [ours_0]
    theirs = "<CAF=abc123@mail.example.com>"
    seq = processor.record_inbound(
        message, "Thanks, when can we talk?", subject="RE: Re: The role", email_message_id=theirs
    )
    sandbox.openai.script(answer("Tomorrow at 10 works for us."))

    processor.deliver_job(processor.reply_job(message, seq))

    mail = sandbox.sendgrid.requests[-1].body
    ours_1 = f"<reply-{token}.1@{REPLY_DOMAIN}>"
    assert mail["subject"] == "Re: The role"
    assert token_in_addresses(mail["reply_to"]["email"]) == token
    assert _threading(mail["headers"]) == {
        "Message-ID": ours_1,
        "In-Reply-To": theirs,
        "References": f"{ours_0} {theirs}",
    }
    assert mail["from"] == {"email": COMPANY_ADDRESS[Channel.EMAIL], "name": message.project.company_name}
    record = processor.record(message)
    assert record["email_references"] == [ours_0, theirs, ours_1]
    assert record["messages"][-1]["email_message_id"] == ours_1


def test_a_reply_after_a_message_that_came_during_the_previous_turn_is_in_reply_to_the_persons_email(
    faulty_dynamodb, processor_for, context_message, sandbox
):
    # Found by the fault schedules: the person's second email is recorded before the engine's reply
    # to the first, so the newest entry with a Message-ID is our own reply; In-Reply-To named it.
    processor = processor_for(Channel.EMAIL)
    message = context_message(Channel.EMAIL)
    first_message_sent(processor, message)
    token = processor.record(message)["gsi_reply_token"]
    ours_0, ours_1, ours_2 = (f"<reply-{token}.{n}@{REPLY_DOMAIN}>" for n in range(3))
    theirs_1, theirs_2 = "<CAF=one@mail.example.com>", "<CAF=two@mail.example.com>"
    one = processor.record_inbound(message, "Can I start in May?", subject="Re: The role", email_message_id=theirs_1)
    sandbox.openai.script(answer("May works well."), answer("Yes, free parking."))
    faulty_dynamodb.failing = ("UpdateItem", '"reply_sending"')  # the first turn stops before its send
    processor.deliver_job(processor.reply_job(message, one))
    faulty_dynamodb.failing = None
    assert processor.record(message)["conversation_status"] == "reply_generated"
    two = processor.record_inbound(message, "Is there parking?", subject="Re: The role", email_message_id=theirs_2)

    drain(processor)  # the first turn resumes and sends; the second answers the second email

    record = processor.record(message)
    assert record["answered_through"] == two and record["messages"][-1]["answers_through"] == two
    assert [m.get("email_message_id") for m in record["messages"]] == [None, theirs_1, theirs_2, ours_1, ours_2]
    mail = sandbox.sendgrid.requests[-1].body
    assert mail["headers"]["Message-ID"] == ours_2
    assert mail["headers"]["In-Reply-To"] == theirs_2  # the person's latest email, not our reply
    assert mail["headers"]["References"] == f"{ours_0} {theirs_1} {theirs_2} {ours_1}"


def test_the_reply_token_is_drawn_once_and_kept_by_a_redelivery(processor_for, context_message):
    processor = processor_for(Channel.EMAIL)
    message = context_message(Channel.EMAIL)
    first_message_sent(processor, message)
    token = processor.record(message)["gsi_reply_token"]

    processor.deliver(message)

    assert processor.record(message)["gsi_reply_token"] == token and len(processor.provider_outbox) == 1


def read_together(monkeypatch: pytest.MonkeyPatch, copies: int) -> None:
    """The first ``copies`` deliveries of a turn each read the record, then wait until all have read.

    Without it the copies' overlap is the scheduler's: a copy that reads the record only after the
    other claimed it (``reply_processing``) resumes that step and asks the AI too, which the design
    accepts (decisions.md, "Why no lease": no lease, so concurrent copies may both call OpenAI; only
    one writes and sends). Read together, both hold the idle record and one loses the claim itself.
    """
    barrier, lock, reads = threading.Barrier(copies), threading.Lock(), itertools.count()
    read = ReplyTurns._read

    def together(self: ReplyTurns, job: ReplyJob) -> ConversationRecord:
        record = read(self, job)
        with lock:
            waits = next(reads) < copies
        if waits:
            barrier.wait(timeout=30)
        return record

    monkeypatch.setattr(ReplyTurns, "_read", together)


@pytest.mark.parametrize("channel", [Channel.SMS, Channel.EMAIL])
def test_the_same_job_three_times_and_concurrently_sends_one_reply(
    channel, processor_for, context_message, sandbox, monkeypatch
):
    processor, other = processor_for(channel), processor_for(channel)
    message = context_message(channel)
    first_message_sent(processor, message)
    seq = processor.record_inbound(message, "Can I bring a friend?")
    sandbox.openai.script(answer("Of course, you are welcome to."))
    sandbox.openai.set_latency(0.5)  # the copies overlap while the reply is written
    read_together(monkeypatch, copies=2)  # both copies read the record before either claims it
    job = processor.reply_job(message, seq)
    processor.enqueue_job(job)
    processor.enqueue_job(job)
    threads = [threading.Thread(target=p.poll) for p in (processor, other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    drain(processor)

    processor.deliver_job(job)  # a third copy, after the turn ended

    record = processor.record(message)
    assert len(processor.provider_outbox) == 2, "the person got more than one reply"
    assert len(sandbox.openai.requests) == 2  # the first message and one reply
    assert record["conversation_status"] == "reply_sent" and record["answered_through"] == 1
    assert [m["role"] for m in record["messages"]] == ["assistant", "user", "assistant"]


def test_two_pending_messages_get_one_reply_covering_both(processor_for, context_message, sandbox):
    processor = processor_for(Channel.SMS)
    message = context_message(Channel.SMS)
    first_message_sent(processor, message)
    one = processor.record_inbound(message, "Hello!")
    two = processor.record_inbound(message, "Also, is parking free?")
    sandbox.openai.script(answer("Hi Alex, yes, parking is free."))

    # One after the other: the first job's turn claims both messages, the second finds them answered.
    # (Two copies racing on one turn are test_the_same_job_three_times_and_concurrently_sends_one_reply's
    # subject; here, a copy that read the record after the claim would resume the turn and use up the
    # one scripted answer, which made this test depend on timing.)
    processor.deliver_job(processor.reply_job(message, one))
    processor.deliver_job(processor.reply_job(message, two))

    record = processor.record(message)
    assert len(processor.provider_outbox) == 2 and len(sandbox.openai.requests) == 2
    assert record["answered_through"] == 2 == record["inbound_count"]
    assert record["messages"][-1]["answers_through"] == 2
    history = sandbox.openai.requests[-1].body["input"][1:]
    assert [i["content"] for i in history][-2:] == ["Hello!", "Also, is parking free?"]


def test_a_message_that_arrives_during_a_turn_is_answered_by_the_next_turn(processor_for, context_message, sandbox):
    processor = processor_for(Channel.SMS)
    message = context_message(Channel.SMS)
    first_message_sent(processor, message)
    one = processor.record_inbound(message, "First question?")
    sandbox.openai.script(answer("First answer."), answer("Second answer."))
    sandbox.openai.set_latency(0.6)
    job = processor.reply_job(message, one)
    processor.enqueue_job(job)
    poll = threading.Thread(target=processor.poll)
    poll.start()
    while processor.record(message)["conversation_status"] != "reply_processing":
        pass
    two = processor.record_inbound(message, "Second question?")  # the turn claimed only the first
    poll.join(30)
    drain(processor)

    record = processor.record(message)
    assert [m.get("answers_through") for m in record["messages"] if m["role"] == "assistant"][1:] == [one, two]
    assert [o["body"] for o in processor.provider_outbox[1:]] == ["First answer.", "Second answer."]
    assert record["conversation_status"] == "reply_sent" and record["answered_through"] == 2


def test_replies_off_record_the_message_and_send_nothing(processor_for, context_message, sandbox):
    processor = processor_for(Channel.WHATSAPP)
    message = context_message(Channel.WHATSAPP)
    first_message_sent(processor, message)
    seq = processor.record_inbound(message, "Hi there")

    result = processor.deliver_job(processor.reply_job(message, seq, auto_reply=False))

    assert result.deleted == result.received
    record = processor.record(message)
    assert record["conversation_status"] == "reply_received" and record["answered_through"] == 0
    assert len(processor.provider_outbox) == 1 and len(sandbox.openai.requests) == 1


def test_no_reply_sender_ends_the_turn_not_sent_with_the_reason(processor_for, context_message, sandbox, capsys):
    processor = processor_for(Channel.SMS)
    message = context_message(Channel.SMS)
    first_message_sent(processor, message)
    seq = processor.record_inbound(message, "Hi there")

    processor.deliver_job(processor.reply_job(message, seq, ai_config__reply_sender=None))

    record = processor.record(message)
    assert record["conversation_status"] == "reply_not_sent"
    assert record["failure_reason"] == "no reply_sender configured for sms"
    assert record["answered_through"] == 0 and len(sandbox.openai.requests) == 1
    assert processor.queue_depth() == 0 and processor.queue_depth(processor.dlq_url) == 0
    assert "RepliesNotSent" in emitted_metrics(capsys.readouterr().out)


@pytest.mark.parametrize("channel", [Channel.WHATSAPP, Channel.EMAIL])
def test_the_ai_asking_for_a_person_sends_the_hand_over_and_stops_answering(
    channel, processor_for, context_message, sandbox, capsys
):
    processor = processor_for(channel)
    message = context_message(channel)
    first_message_sent(processor, message)
    seq = processor.record_inbound(message, "I want to speak to a manager")
    sandbox.openai.script(answer("A colleague will call you today.", needs_human=True))

    processor.deliver_job(processor.reply_job(message, seq))
    later = processor.record_inbound(message, "Hello?")
    processor.deliver_job(processor.reply_job(message, later))

    record = processor.record(message)
    assert record["conversation_status"] == "needs_human" and record["handoff_reason"] == "ai_requested"
    assert record["answered_through"] == 1 and record["inbound_count"] == 2
    assert len(processor.provider_outbox) == 2 and len(sandbox.openai.requests) == 2
    assert record["messages"][-1]["content"] == "Hello?"
    assert emitted_metrics(capsys.readouterr().out).count("ReplyHandoffs") == 1


def test_an_empty_hand_over_sends_nothing(processor_for, context_message, sandbox):
    processor = processor_for(Channel.SMS)
    message = context_message(Channel.SMS)
    first_message_sent(processor, message)
    seq = processor.record_inbound(message, "Stop writing to me, I'll call a lawyer")
    sandbox.openai.script(answer("", needs_human=True))

    processor.deliver_job(processor.reply_job(message, seq))

    record = processor.record(message)
    assert record["conversation_status"] == "needs_human" and record["handoff_reason"] == "ai_requested"
    assert len(processor.provider_outbox) == 1


def test_the_ai_turn_limit_hands_over_without_an_ai_call(processor_for, context_message, sandbox):
    processor = processor_for(Channel.SMS)
    message = context_message(Channel.SMS)
    first_message_sent(processor, message)
    one = processor.record_inbound(message, "Question one")
    sandbox.openai.script(answer("Answer one."))
    processor.deliver_job(processor.reply_job(message, one, max_ai_turns=1))
    two = processor.record_inbound(message, "Question two")

    processor.deliver_job(processor.reply_job(message, two, max_ai_turns=1))

    record = processor.record(message)
    assert record["conversation_status"] == "needs_human" and record["handoff_reason"] == "ai_turn_limit"
    assert record["ai_turns"] == 1 and len(sandbox.openai.requests) == 2
    assert len(processor.provider_outbox) == 2


def test_whatsapp_outside_the_24_hour_window_sends_nothing_and_gives_the_message_up(
    processor_for, context_message, sandbox
):
    processor = processor_for(Channel.WHATSAPP)
    message = context_message(Channel.WHATSAPP)
    first_message_sent(processor, message)
    seq = processor.record_inbound(message, "Sorry for the late answer", at=datetime.now(UTC) - timedelta(hours=25))

    result = processor.deliver_job(processor.reply_job(message, seq))

    assert result.deleted == result.received
    record = processor.record(message)
    assert record["conversation_status"] == "reply_not_sent"
    assert record["failure_reason"] == "outside WhatsApp's 24-hour window (Twilio 63016)"
    assert record["answered_through"] == 1  # given up: no reply can reach it
    assert len(processor.provider_outbox) == 1 and len(sandbox.openai.requests) == 1


def test_twilio_refusing_with_63016_ends_the_turn_as_the_closed_window(processor_for, context_message, sandbox):
    processor = processor_for(Channel.WHATSAPP)
    message = context_message(Channel.WHATSAPP)
    first_message_sent(processor, message)
    seq = processor.record_inbound(message, "Hi")
    sandbox.openai.script(answer("Hello Alex."))
    sandbox.twilio.script(Outcome.provider_error(63016))

    processor.deliver_job(processor.reply_job(message, seq))

    record = processor.record(message)
    assert record["conversation_status"] == "reply_not_sent" and record["answered_through"] == 1
    assert "63016" in record["failure_reason"]


def test_a_reply_naming_a_contact_the_project_did_not_supply_is_not_sent(processor_for, context_message, sandbox):
    processor = processor_for(Channel.SMS)
    message = context_message(Channel.SMS)
    first_message_sent(processor, message)
    seq = processor.record_inbound(message, "Where can I read more?")
    sandbox.openai.script(answer("See https://evil.example/jobs for more."))

    processor.deliver_job(processor.reply_job(message, seq))

    record = processor.record(message)
    assert record["conversation_status"] == "reply_not_sent" and "evil.example" in record["failure_reason"]
    assert record["answered_through"] == 0 and len(processor.provider_outbox) == 1


def test_a_malformed_reply_job_goes_to_the_dlq_at_once(processor_for, context_message):
    processor = processor_for(Channel.SMS)
    processor.sqs.send_message(
        QueueUrl=processor.queue_url,
        MessageBody='{"kind": "reply", "channel": "sms"}',
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "reply"}},
    )

    result = processor.poll()

    assert len(result.received) == 1
    assert processor.queue_depth() == 0 and processor.queue_depth(processor.dlq_url) == 1
