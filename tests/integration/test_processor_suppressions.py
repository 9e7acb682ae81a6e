"""The channel processors honour the suppression list (issue 12): checked before the AI call and
right before every provider call (first send, a resend after reconciliation, every reply); a hit
ends the conversation ``suppressed`` with nothing sent. Twilio refusals about the address suppress
it; HELP is answered with the project's help text."""

from __future__ import annotations

import pytest

from local.emulator import LocalResources
from local.sandboxes import Outcome
from shared.channels import Channel
from shared.consent.address_hash import load_hasher
from shared.consent.keywords import ConsentKeyword
from shared.consent.suppressions import SuppressionList, SuppressionReason
from shared.tables import SUPPRESSIONS
from tests.fixtures.emf import emitted_metrics
from tests.fixtures.processors import VISIBILITY_TIMEOUT_SECONDS
from tests.integration.reply_setup import (
    answer,
    company_record_example,  # noqa: F401 - the fixture override
    first_message_sent,
)

TWILIO_CHANNELS = [Channel.WHATSAPP, Channel.SMS]
HELP_TEXT = "Cucumber Recruitment: help at https://help.cucumber.example or call +441632960000. Reply STOP to opt out."


def suppression_list(aws: LocalResources) -> SuppressionList:
    return SuppressionList(
        aws.client("dynamodb"),
        aws.table_name(SUPPRESSIONS.logical_name),
        load_hasher(aws.client("secretsmanager"), aws.consent_key_secret_id),
    )


def opt_out(aws: LocalResources, message, *, channel: Channel | None = None, company_id: str | None = None) -> None:
    """What the events processor writes when the person texts STOP."""
    suppression_list(aws).suppress(
        company_id or message.company_data.company_id,
        channel or message.channel,
        message.recipient_address,
        reason=SuppressionReason.STOP_KEYWORD,
        source="twilio_inbound:SMtest",
    )


def assert_suppressed(record, reason: str = "stop_keyword") -> None:
    assert record["conversation_status"] == "suppressed"
    assert record["suppression_reason"] == reason
    assert "failure_reason" not in record


# -- the first message ------------------------------------------------------------------------------
@pytest.mark.parametrize("channel", list(Channel))
def test_an_opt_out_written_after_queueing_ends_the_message_suppressed_before_the_ai_call(
    channel, processor_for, context_message, sandbox, aws, capsys
):
    processor = processor_for(channel)
    message = context_message(channel)
    processor.enqueue(message)
    opt_out(aws, message)

    result = processor.poll()

    assert result.deleted == result.received  # done, not retried
    assert_suppressed(processor.record(message))
    assert sandbox.openai.requests == [] and processor.provider_outbox == []
    assert "SendsSuppressed" in emitted_metrics(capsys.readouterr().out)


@pytest.mark.parametrize("channel", list(Channel))
def test_another_channels_or_another_companys_entry_does_not_stop_the_message(
    channel, processor_for, context_message, aws
):
    processor = processor_for(channel)
    message = context_message(channel)
    for other in Channel:
        if other is not channel:
            opt_out(aws, message, channel=other)
    opt_out(aws, message, company_id="another-company")
    suppression_list(aws).lift(
        message.company_data.company_id,
        channel,
        message.recipient_address,
        reasons=None,
        lifted_reason="nothing to lift",
        lifted_by="test",
    )  # no entry on this channel: lifting does nothing

    processor.deliver(message)

    assert processor.record(message)["conversation_status"] == "initial_message_sent"
    assert len(processor.provider_outbox) == 1


@pytest.mark.parametrize("channel", list(Channel))
def test_a_lifted_entry_does_not_stop_the_message(channel, processor_for, context_message, aws):
    processor = processor_for(channel)
    message = context_message(channel)
    opt_out(aws, message)
    suppression_list(aws).lift(
        message.company_data.company_id,
        channel,
        message.recipient_address,
        reasons=None,
        lifted_reason="start_keyword",
        lifted_by="test",
    )

    processor.deliver(message)

    assert processor.record(message)["conversation_status"] == "initial_message_sent"


@pytest.mark.parametrize("channel", list(Channel))
def test_an_opt_out_written_after_the_ai_step_stops_the_send(
    channel, faulty_dynamodb, processor_for, context_message, sandbox, aws
):
    # The first delivery writes the message (ai_generated) and dies moving it to sending.
    faulty_dynamodb.failing = ("UpdateItem", '"sending"')
    processor = processor_for(channel)
    message = context_message(channel)
    first = processor.deliver(message)
    assert first.failed == first.received
    assert processor.record(message)["conversation_status"] == "ai_generated"
    faulty_dynamodb.failing = None
    opt_out(aws, message)

    again = processor.redeliver()

    assert again.deleted == again.received
    assert_suppressed(processor.record(message))
    assert len(sandbox.openai.requests) == 1 and processor.provider_outbox == []


@pytest.mark.parametrize("channel", TWILIO_CHANNELS)
def test_a_resend_after_reconciliation_finds_the_opt_out_and_sends_nothing(
    channel, processor_for, context_message, aws
):
    processor = processor_for(channel)
    processor.provider.script(Outcome.timeout(VISIBILITY_TIMEOUT_SECONDS + 1))  # Twilio never took it
    message = context_message(channel)
    processor.deliver(message)
    assert processor.record(message)["conversation_status"] == "sending"
    opt_out(aws, message)

    while processor.record(message)["conversation_status"] == "sending":
        processor.redeliver()

    assert_suppressed(processor.record(message))
    assert processor.provider_outbox == []
    assert [r for r in processor.provider.requests if r.method == "GET"]  # Twilio was asked first
    assert len([r for r in processor.provider.requests if r.method == "POST"]) == 1


@pytest.mark.parametrize("channel", [Channel.SMS, Channel.EMAIL])
def test_a_list_that_cannot_be_read_retries_the_message_and_sends_nothing_unchecked(
    channel, faulty_dynamodb, processor_for, context_message, sandbox, aws
):
    faulty_dynamodb.failing = ("GetItem", aws.table_name(SUPPRESSIONS.logical_name))
    processor = processor_for(channel)
    message = context_message(channel)

    first = processor.deliver(message)

    assert first.failed == first.received and faulty_dynamodb.failed > 0
    assert processor.record(message)["conversation_status"] == "processing"
    assert sandbox.openai.requests == [] and processor.provider_outbox == []
    faulty_dynamodb.failing = None
    processor.redeliver()
    assert processor.record(message)["conversation_status"] == "initial_message_sent"


# -- provider refusals --------------------------------------------------------------------------------
@pytest.mark.parametrize("channel", TWILIO_CHANNELS)
@pytest.mark.parametrize(("code", "reason"), [(21610, "provider_opt_out"), (21211, "hard_bounce")])
def test_a_twilio_refusal_about_the_address_fails_the_send_and_suppresses_the_recipient(
    channel, code, reason, processor_for, context_message, aws
):
    processor = processor_for(channel)
    processor.provider.script(Outcome.provider_error(code))
    message = context_message(channel)

    processor.deliver(message)

    record = processor.record(message)
    assert record["conversation_status"] == "failed_to_send_message"
    entry = suppression_list(aws).entry(message.company_data.company_id, channel, message.recipient_address)
    assert entry is not None and entry.is_active
    assert (entry.reason.value, entry.source, entry.project_id) == (
        reason,
        f"twilio_error:{code}",
        message.company_data.project_id,
    )
    entries = suppression_list(aws).entries(message.company_data.company_id)
    assert [e.channel for e in entries] == [channel]  # only this channel

    later = context_message(channel)  # the next request to the same person
    processor.deliver(later)
    assert_suppressed(processor.record(later), reason)


def test_a_closed_whatsapp_window_suppresses_nobody(processor_for, context_message, aws):
    processor = processor_for(Channel.WHATSAPP)
    processor.provider.script(Outcome.provider_error(63016))
    message = context_message(Channel.WHATSAPP)

    processor.deliver(message)

    assert processor.record(message)["conversation_status"] == "failed_to_send_message"
    assert suppression_list(aws).entries(message.company_data.company_id) == []


# -- reply turns --------------------------------------------------------------------------------------
@pytest.mark.parametrize("channel", list(Channel))
def test_a_reply_turn_finds_the_opt_out_before_its_ai_call(channel, processor_for, context_message, sandbox, aws):
    processor = processor_for(channel)
    message = context_message(channel)
    first_message_sent(processor, message)
    seq = processor.record_inbound(message, "Is the role full time?")
    opt_out(aws, message)

    result = processor.deliver_job(processor.reply_job(message, seq))

    assert result.deleted == result.received
    assert_suppressed(processor.record(message))
    assert len(sandbox.openai.requests) == 1 and len(processor.provider_outbox) == 1  # the first message only
    again = processor.deliver_job(processor.reply_job(message, seq))  # a repeat of the job does nothing
    assert again.deleted == again.received and len(processor.provider_outbox) == 1


@pytest.mark.parametrize("channel", list(Channel))
def test_a_reply_turn_finds_the_opt_out_right_before_its_send(
    channel, faulty_dynamodb, processor_for, context_message, sandbox, aws
):
    processor = processor_for(channel)
    message = context_message(channel)
    first_message_sent(processor, message)
    seq = processor.record_inbound(message, "Is the role full time?")
    sandbox.openai.script(answer("Yes, it is full time."))
    faulty_dynamodb.failing = ("UpdateItem", '"reply_sending"')  # the turn dies after writing its reply

    first = processor.deliver_job(processor.reply_job(message, seq))
    assert first.failed == first.received
    assert processor.record(message)["conversation_status"] == "reply_generated"
    faulty_dynamodb.failing = None
    opt_out(aws, message)
    processor.redeliver()

    assert_suppressed(processor.record(message))
    assert len(sandbox.openai.requests) == 2 and len(processor.provider_outbox) == 1


def test_a_reply_twilio_refuses_with_21610_suppresses_the_recipient(processor_for, context_message, sandbox, aws):
    processor = processor_for(Channel.SMS)
    message = context_message(Channel.SMS)
    first_message_sent(processor, message)
    seq = processor.record_inbound(message, "Is the role full time?")
    sandbox.openai.script(answer("Yes, it is full time."))
    processor.provider.script(Outcome.provider_error(21610))

    processor.deliver_job(processor.reply_job(message, seq))

    assert processor.record(message)["conversation_status"] == "reply_not_sent"
    entry = suppression_list(aws).entry(message.company_data.company_id, Channel.SMS, message.recipient_address)
    assert entry is not None and entry.reason is SuppressionReason.PROVIDER_OPT_OUT


@pytest.mark.parametrize("channel", list(Channel))
def test_a_pending_stop_is_never_answered(channel, processor_for, context_message, sandbox):
    # The events processor writes the entry and closes the thread; a turn that claimed the STOP
    # first still ends without an AI call or a reply.
    processor = processor_for(channel)
    message = context_message(channel)
    first_message_sent(processor, message)
    seq = processor.record_inbound(message, "STOP", consent_keyword=ConsentKeyword.OPT_OUT)

    processor.deliver_job(processor.reply_job(message, seq))

    assert_suppressed(processor.record(message))
    assert len(sandbox.openai.requests) == 1 and len(processor.provider_outbox) == 1


# -- HELP -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("channel", list(Channel))
def test_help_is_answered_once_with_the_help_text_without_an_ai_call(channel, processor_for, context_message, sandbox):
    processor = processor_for(channel)
    message = context_message(channel)
    first_message_sent(processor, message)
    seq = processor.record_inbound(message, "help", consent_keyword=ConsentKeyword.HELP)
    job = processor.reply_job(message, seq, consent__help_text=HELP_TEXT)

    processor.deliver_job(job)
    processor.deliver_job(job)  # a repeat sends nothing more

    record = processor.record(message)
    assert record["conversation_status"] == "reply_sent"
    assert len(processor.provider_outbox) == 2
    sent = processor.provider_outbox[-1]
    assert sent["text" if channel is Channel.EMAIL else "body"] == HELP_TEXT  # the content check is for the AI's
    assert len(sandbox.openai.requests) == 1  # the first message's
    assert record["ai_turns"] == 0 and record["answered_through"] == seq
    assert record["reply_content"]["source"] == "help_text"
    assert record["messages"][-1]["role"] == "assistant" and record["messages"][-1]["content"] == HELP_TEXT


def test_help_with_other_messages_pending_gets_the_help_text_for_all(processor_for, context_message, sandbox):
    processor = processor_for(Channel.SMS)
    message = context_message(Channel.SMS)
    first_message_sent(processor, message)
    processor.record_inbound(message, "Is the role full time?")
    seq = processor.record_inbound(message, "HELP", consent_keyword=ConsentKeyword.HELP)

    processor.deliver_job(processor.reply_job(message, seq, consent__help_text=HELP_TEXT))

    record = processor.record(message)
    assert processor.provider_outbox[-1]["body"] == HELP_TEXT and len(processor.provider_outbox) == 2
    assert record["answered_through"] == seq and len(sandbox.openai.requests) == 1


def test_help_without_a_help_text_is_answered_by_the_ai(processor_for, context_message, sandbox):
    processor = processor_for(Channel.SMS)
    message = context_message(Channel.SMS)
    first_message_sent(processor, message)
    seq = processor.record_inbound(message, "help", consent_keyword=ConsentKeyword.HELP)
    sandbox.openai.script(answer("Of course: what would you like to know about the role?"))

    processor.deliver_job(processor.reply_job(message, seq))

    record = processor.record(message)
    assert record["conversation_status"] == "reply_sent" and record["ai_turns"] == 1
    assert processor.provider_outbox[-1]["body"] == "Of course: what would you like to know about the role?"
    assert len(sandbox.openai.requests) == 2
