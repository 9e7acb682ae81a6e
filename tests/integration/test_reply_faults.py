"""A reply reaches the person at most once, wherever a turn dies (issue 11): a send with no recorded
outcome is settled with Twilio or marked ``reply_unconfirmed`` (SendGrid), never resent; an OpenAI
outage retries and ends in the DLQ with the person's message kept on the record."""

from __future__ import annotations

import time

import pytest

from local.sandboxes import Outcome
from shared.channels import Channel
from tests.fixtures.emf import emitted_metrics
from tests.fixtures.processors import ENVIRONMENT
from tests.integration.reply_setup import (
    answer,
    company_record_example,  # noqa: F401 - the fixture override
    drain,
    first_message_sent,
)

TWILIO_CHANNELS = [Channel.WHATSAPP, Channel.SMS]


@pytest.mark.parametrize("channel", TWILIO_CHANNELS)
def test_a_crash_after_twilio_took_the_reply_is_reconciled_without_a_second_send(
    channel, faulty_dynamodb, processor_for, context_message, sandbox
):
    processor = processor_for(channel)
    message = context_message(channel)
    first_message_sent(processor, message)
    seq = processor.record_inbound(message, "What is the salary?")
    sandbox.openai.script(answer("It is 32,000 a year."))
    faulty_dynamodb.failing = ("UpdateItem", '"reply_sent"')  # the record update after the accept dies

    first = processor.deliver_job(processor.reply_job(message, seq))

    assert first.failed == first.received and faulty_dynamodb.failed
    record = processor.record(message)
    assert record["conversation_status"] == "reply_sending" and record["answered_through"] == 0
    [_, sent] = processor.provider_outbox
    faulty_dynamodb.failing = None

    drain(processor)

    record = processor.record(message)
    assert record["conversation_status"] == "reply_sent" and record["answered_through"] == 1
    assert record["provider_message_id"] == sent["sid"] == record["messages"][-1]["message_id"]
    assert len(processor.provider_outbox) == 2 and len(sandbox.openai.requests) == 2
    assert "provider had the reply; recording it" in [line["message"] for line in processor.logs()]


@pytest.mark.parametrize("channel", TWILIO_CHANNELS)
def test_twilio_taking_the_reply_but_answering_too_late_is_reconciled(channel, processor_for, context_message, sandbox):
    processor = processor_for(channel)
    message = context_message(channel)
    first_message_sent(processor, message)
    seq = processor.record_inbound(message, "Is there a dress code?")
    sandbox.openai.script(answer("Smart casual."))
    processor.provider.script(Outcome.accept_then_timeout(3))

    processor.deliver_job(processor.reply_job(message, seq))
    drain(processor)

    record = processor.record(message)
    [_, sent] = processor.provider_outbox
    assert record["conversation_status"] == "reply_sent" and record["provider_message_id"] == sent["sid"]


def test_a_reconciliation_never_takes_the_conversations_earlier_message_for_the_reply(
    faulty_dynamodb, processor_for, context_message, sandbox
):
    processor = processor_for(Channel.SMS)
    message = context_message(Channel.SMS)
    first = first_message_sent(processor, message)
    seq = processor.record_inbound(message, "Say that again?")
    # The model repeats the first message word for word: the same text twice to the same person.
    sandbox.openai.script(answer(first["messages"][0]["content"]))
    faulty_dynamodb.failing = ("UpdateItem", '"reply_sent"')
    processor.deliver_job(processor.reply_job(message, seq))
    faulty_dynamodb.failing = None

    drain(processor)

    record = processor.record(message)
    [earlier, reply] = processor.provider_outbox
    assert record["provider_message_id"] == reply["sid"] != earlier["sid"]
    assert [m["message_id"] for m in record["messages"] if m["role"] == "assistant"] == [earlier["sid"], reply["sid"]]


def test_a_crash_after_sendgrid_took_the_reply_ends_unconfirmed_and_is_never_resent(
    faulty_dynamodb, processor_for, context_message, sandbox, capsys
):
    processor = processor_for(Channel.EMAIL)
    message = context_message(Channel.EMAIL)
    first_message_sent(processor, message)
    seq = processor.record_inbound(message, "Can I start in May?", subject="Re: Your application")
    sandbox.openai.script(answer("May works well."))
    faulty_dynamodb.failing = ("UpdateItem", '"reply_sent"')

    processor.deliver_job(processor.reply_job(message, seq))
    faulty_dynamodb.failing = None
    time.sleep(2)  # past the settle time: SendGrid cannot be asked, so the send is given up as unconfirmed
    drain(processor)

    record = processor.record(message)
    assert record["conversation_status"] == "reply_unconfirmed"
    assert record["answered_through"] == 1  # counted as answered: never resent
    assert "cannot be asked" in record["failure_reason"]
    assert len(processor.provider_outbox) == 2
    assert "ReplyUnconfirmed" in emitted_metrics(capsys.readouterr().out)

    # The thread goes on: the next message gets its own turn from reply_unconfirmed.
    later = processor.record_inbound(message, "Also, is there parking?")
    sandbox.openai.script(answer("Yes, free parking."))
    processor.deliver_job(processor.reply_job(message, later))
    record = processor.record(message)
    assert record["conversation_status"] == "reply_sent" and record["answered_through"] == 2
    assert len(processor.provider_outbox) == 3


@pytest.mark.parametrize("channel", [Channel.SMS, Channel.EMAIL])
def test_an_openai_outage_retries_then_lands_in_the_dlq_with_the_message_kept(
    channel, processor_for, context_message, sandbox
):
    processor = processor_for(channel)
    message = context_message(channel)
    first_message_sent(processor, message)
    seq = processor.record_inbound(message, "Are you there?")
    sandbox.openai.script(*[Outcome.status(500)] * 12)  # every call and every SDK retry fails
    processor.enqueue_job(processor.reply_job(message, seq))

    assert processor.receives_until_dead_lettered() == 3
    assert processor.queue_depth() == 0 and processor.queue_depth(processor.dlq_url) == 1
    record = processor.record(message)
    assert record["conversation_status"] == "reply_processing" and "HTTP 500" in record["last_error"]
    assert record["messages"][-1]["content"] == "Are you there?" and record["answered_through"] == 0
    assert len(processor.provider_outbox) == 1


def test_an_ai_that_breaks_its_contract_ends_the_turn_not_sent(processor_for, context_message, sandbox):
    processor = processor_for(Channel.SMS)
    message = context_message(Channel.SMS)
    first_message_sent(processor, message)
    seq = processor.record_inbound(message, "Hello")
    sandbox.openai.script(Outcome.status(200, body="<html>upstream proxy page</html>"))

    result = processor.deliver_job(processor.reply_job(message, seq))

    assert result.deleted == result.received
    record = processor.record(message)
    assert record["conversation_status"] == "reply_not_sent" and "AttributeError" in record["failure_reason"]
    assert len(processor.provider_outbox) == 1


@pytest.mark.parametrize("channel", TWILIO_CHANNELS)
def test_a_reply_twilio_did_not_take_is_kept_and_sent_by_the_redelivery(
    channel, processor_for, context_message, sandbox
):
    processor = processor_for(channel)
    message = context_message(channel)
    first_message_sent(processor, message)
    seq = processor.record_inbound(message, "Is lunch provided?")
    sandbox.openai.script(answer("Yes, lunch is provided."))
    processor.provider.script(Outcome.status(429))  # "not taken, try later"

    first = processor.deliver_job(processor.reply_job(message, seq))

    assert first.failed == first.received
    record = processor.record(message)
    assert record["conversation_status"] == "reply_generated" and "429" in record["last_error"]
    assert "reply_send_started_at" not in record and len(processor.provider_outbox) == 1

    drain(processor)

    record = processor.record(message)
    assert record["conversation_status"] == "reply_sent" and "last_error" not in record
    assert processor.provider_outbox[-1]["body"] == "Yes, lunch is provided."
    assert len(processor.provider_outbox) == 2 and len(sandbox.openai.requests) == 2  # the stored reply, reused


def test_a_job_whose_message_came_during_an_unconfirmed_turn_starts_the_next_turn(
    faulty_dynamodb, processor_for, context_message, sandbox, capsys
):
    # Found by the fault schedules: the second message's job ended the first turn unconfirmed and
    # was deleted, so the second message was never answered (and no permanent fault explained it).
    processor = processor_for(Channel.EMAIL)
    message = context_message(Channel.EMAIL)
    first_message_sent(processor, message)
    one = processor.record_inbound(message, "Can I start in May?", email_message_id="<one@mail.example.com>")
    sandbox.openai.script(answer("May works well."), answer("Yes, free parking."))
    faulty_dynamodb.failing = ("UpdateItem", '"reply_sent"')  # SendGrid took the reply; the record update dies
    processor.deliver_job(processor.reply_job(message, one))
    faulty_dynamodb.failing = None
    assert processor.record(message)["conversation_status"] == "reply_sending"
    first_job = _hold_the_next_message(processor)  # another container has the first job meanwhile

    two = processor.record_inbound(message, "Also, is there parking?", email_message_id="<two@mail.example.com>")
    time.sleep(2)  # past the settle time: SendGrid cannot be asked, so the first turn ends unconfirmed
    second = processor.deliver_job(processor.reply_job(message, two))

    assert second.deleted == second.received
    record = processor.record(message)
    assert record["conversation_status"] == "reply_sent"
    assert record["answered_through"] == two == record["inbound_count"]
    assert record["messages"][-1]["answers_through"] == two
    assert [mail["text"] for mail in processor.provider_outbox[1:]] == ["May works well.", "Yes, free parking."]
    assert "ReplyUnconfirmed" in emitted_metrics(capsys.readouterr().out)

    processor.sqs.change_message_visibility(
        QueueUrl=processor.queue_url, ReceiptHandle=first_job["ReceiptHandle"], VisibilityTimeout=0
    )
    drain(processor)  # the first job comes back and finds its message answered

    assert processor.record(message)["answered_through"] == two and len(processor.provider_outbox) == 3


def test_a_provider_secret_gone_while_the_reply_was_sending_ends_unconfirmed_never_answered_again(
    faulty_dynamodb, aws, company_record, processor_for, context_message, sandbox, capsys
):
    # Found by the fault schedules: reconciliation met CredentialsMissing and the turn ended
    # reply_not_sent with its message pending, so the next turn answered it a second time.
    processor = processor_for(Channel.SMS)
    message = context_message(Channel.SMS)
    first_message_sent(processor, message)
    one = processor.record_inbound(message, "What is the salary?")
    sandbox.openai.script(answer("It is 32,000 a year."), answer("Yes, there is parking."))
    faulty_dynamodb.failing = ("PutItem", '"provider_message_key"')  # Twilio took the reply; its item's put dies
    processor.deliver_job(processor.reply_job(message, one))
    faulty_dynamodb.failing = None
    assert processor.record(message)["conversation_status"] == "reply_sending"
    assert len(processor.provider_outbox) == 2
    secrets = aws.client("secretsmanager")
    name = company_record.channel_config.for_channel(Channel.SMS).credentials_secret_name(
        company_record.company_id, company_record.project_id, ENVIRONMENT
    )
    value = secrets.get_secret_value(SecretId=name)["SecretString"]
    secrets.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)

    cold = processor_for(Channel.SMS)  # a new container: the secret is read, and is gone
    drain(cold)

    record = cold.record(message)
    assert record["conversation_status"] == "reply_unconfirmed"
    assert record["answered_through"] == one  # the reply may have reached the person: never answered again
    assert "could not be asked" in record["failure_reason"] and "CredentialsMissing" not in record["failure_reason"]
    assert "ReplyUnconfirmed" in emitted_metrics(capsys.readouterr().out)

    secrets.create_secret(Name=name, SecretString=value)
    two = cold.record_inbound(message, "Is there parking?")
    cold.deliver_job(cold.reply_job(message, two))

    record = cold.record(message)
    assert record["conversation_status"] == "reply_sent" and record["messages"][-1]["answers_through"] == two
    assert [sent["body"] for sent in cold.provider_outbox[1:]] == ["It is 32,000 a year.", "Yes, there is parking."]


def _hold_the_next_message(processor, *, seconds: int = 60) -> dict:
    """Receive the next visible message and keep it invisible, as another container would."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        received = processor.sqs.receive_message(
            QueueUrl=processor.queue_url, MaxNumberOfMessages=1, VisibilityTimeout=seconds
        ).get("Messages", [])
        if received:
            return received[0]
        time.sleep(0.2)
    raise AssertionError("no message came back to hold")
