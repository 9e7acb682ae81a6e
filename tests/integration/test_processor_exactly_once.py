"""A person receives a message at most once, whatever SQS redelivers and wherever a delivery dies:
the record says what was done, and a send with no recorded outcome is settled with the provider
(Twilio) or marked ``send_unconfirmed`` and alarmed (SendGrid), never resent blindly."""

from __future__ import annotations

import threading
import time

import pytest

from local.sandboxes import Outcome
from shared.channels import Channel
from tests.fixtures.emf import emitted_metrics
from tests.fixtures.processors import VISIBILITY_TIMEOUT_SECONDS

TWILIO_CHANNELS = [Channel.WHATSAPP, Channel.SMS]


@pytest.mark.parametrize("channel", list(Channel))
def test_a_second_delivery_of_a_sent_message_sends_nothing(channel, processor_for, context_message, sandbox):
    processor = processor_for(channel)
    message = context_message(channel)
    processor.deliver(message)

    again = processor.deliver(message)

    assert again.deleted == again.received
    assert len(processor.provider_outbox) == 1 and len(sandbox.openai.requests) == 1
    assert len(processor.record(message)["messages"]) == 1


@pytest.mark.parametrize("channel", list(Channel))
def test_two_copies_of_one_message_in_one_batch_send_once(channel, processor_for, context_message):
    processor = processor_for(channel)
    message = context_message(channel)
    processor.enqueue(message)
    processor.enqueue(message)

    result = processor.poll()
    # A copy that lost the race comes back if the winner had not finished yet, and sends nothing.
    while processor.queue_depth():
        processor.redeliver()

    assert len(result.received) == 2
    assert len(processor.provider_outbox) == 1
    assert processor.record(message)["conversation_status"] == "initial_message_sent"


@pytest.mark.parametrize("channel", list(Channel))
def test_a_client_retry_half_a_second_later_with_slow_providers_sends_once(
    channel, processor_for, context_message, sandbox
):
    # What a client does when its first call is slow: the same request again 0.5 s later, each copy
    # taken by its own container while the first is still writing (AI ~0.8 s) or sending (~0.6 s).
    sandbox.openai.set_latency(0.8)
    sandbox.twilio.set_latency(0.6)
    sandbox.sendgrid.set_latency(0.6)
    first, second = processor_for(channel), processor_for(channel)
    message = context_message(channel)
    results = {}

    def deliver(name, processor):
        results[name] = processor.deliver(message)

    threads = [threading.Thread(target=deliver, args=("first", first))]
    threads[0].start()
    time.sleep(0.5)
    threads.append(threading.Thread(target=deliver, args=("second", second)))
    threads[1].start()
    for thread in threads:
        thread.join(30)

    assert [len(results[n].received) for n in ("first", "second")] == [1, 1]  # two concurrent deliveries
    record = first.record(message)
    outbox = first.provider_outbox
    assert len(outbox) == 1, f"the person got {len(outbox)} messages"
    [sent] = outbox
    assert record["conversation_status"] == "initial_message_sent"
    assert len(record["messages"]) == 1
    if channel is not Channel.EMAIL:
        assert record["provider_message_id"] == sent["sid"]
    # The loser's copy comes back once the winner may have finished, finds the record final and
    # sends nothing.
    while first.queue_depth():
        first.redeliver()
    assert len(first.provider_outbox) == 1


@pytest.mark.parametrize("channel", TWILIO_CHANNELS)
def test_twilio_accepting_but_answering_too_late_is_reconciled_on_redelivery_without_a_second_send(
    channel, processor_for, context_message
):
    processor = processor_for(channel)
    processor.provider.script(Outcome.accept_then_timeout(3))
    message = context_message(channel)

    first = processor.deliver(message)

    assert first.failed == first.received
    record = processor.record(message)
    assert record["conversation_status"] == "sending" and "provider_message_id" not in record
    [sent] = processor.provider_outbox

    processor.redeliver()

    record = processor.record(message)
    assert record["conversation_status"] == "initial_message_sent"
    assert record["provider_message_id"] == sent["sid"]
    assert len(processor.provider_outbox) == 1


def test_sendgrid_accepting_but_answering_too_late_is_marked_unconfirmed_and_alarmed(
    processor_for, context_message, capsys
):
    processor = processor_for(Channel.EMAIL)
    processor.provider.script(Outcome.accept_then_timeout(3))
    message = context_message(Channel.EMAIL)

    first = processor.deliver(message)

    assert first.deleted == first.received  # nothing to retry: SendGrid cannot be asked
    record = processor.record(message)
    assert record["conversation_status"] == "send_unconfirmed"
    assert "cannot be asked" in record["failure_reason"]
    assert "SendUnconfirmed" in emitted_metrics(capsys.readouterr().out)

    processor.deliver(message)  # a duplicate request later

    assert len(processor.provider_outbox) == 1


@pytest.mark.parametrize("channel", list(Channel))
def test_a_crash_between_provider_accept_and_record_update_sends_nothing_twice(
    channel, faulty_dynamodb, processor_for, context_message, capsys
):
    # The provider takes the message, then every write of the outcome fails: the delivery dies
    # with the record still saying ``sending`` and no provider id.
    faulty_dynamodb.failing = ("UpdateItem", "initial_message_sent")
    processor = processor_for(channel)
    message = context_message(channel)

    first = processor.deliver(message)

    assert first.failed == first.received and faulty_dynamodb.failed > 0
    assert processor.record(message)["conversation_status"] == "sending"
    [sent] = processor.provider_outbox
    faulty_dynamodb.failing = None

    processor.redeliver()
    if channel is Channel.EMAIL:  # the first redelivery may come while the send could still be landing
        while processor.record(message)["conversation_status"] == "sending":
            processor.redeliver()

    record = processor.record(message)
    assert len(processor.provider_outbox) == 1
    if channel is Channel.EMAIL:
        assert record["conversation_status"] == "send_unconfirmed"
        assert "SendUnconfirmed" in emitted_metrics(capsys.readouterr().out)
    else:
        assert record["conversation_status"] == "initial_message_sent"
        assert record["provider_message_id"] == sent["sid"]


@pytest.mark.parametrize("channel", TWILIO_CHANNELS)
def test_a_provider_secret_gone_while_the_send_had_no_outcome_leaves_it_unconfirmed_not_failed(
    channel, faulty_dynamodb, processor_for, context_message, company_record, aws, capsys
):
    # The provider took the message and the outcome's write died; before the redelivery could ask
    # the provider, the tenant's secret went away. The person may have the message: unconfirmed
    # and alarmed, never "failed" (which would say nothing reached them).
    faulty_dynamodb.failing = ("UpdateItem", "initial_message_sent")
    processor = processor_for(channel)
    message = context_message(channel)
    processor.deliver(message)
    faulty_dynamodb.failing = None
    assert processor.record(message)["conversation_status"] == "sending"
    name = company_record.channel_config.for_channel(channel).credentials_secret_id
    aws.client("secretsmanager").delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)

    cold = processor_for(channel)  # a new container: the secret is read, and is gone
    cold.redeliver()

    record = cold.record(message)
    assert record["conversation_status"] == "send_unconfirmed"
    assert "could not be asked" in record["failure_reason"]
    assert len(cold.provider_outbox) == 1
    assert "SendUnconfirmed" in emitted_metrics(capsys.readouterr().out)


@pytest.mark.parametrize("channel", TWILIO_CHANNELS)
def test_a_send_twilio_never_received_is_sent_again_once_twilio_lists_no_such_message(
    channel, processor_for, context_message
):
    processor = processor_for(channel)
    processor.provider.script(Outcome.timeout(VISIBILITY_TIMEOUT_SECONDS + 1))
    message = context_message(channel)

    processor.deliver(message)
    assert processor.record(message)["conversation_status"] == "sending"
    assert processor.provider_outbox == []

    while processor.record(message)["conversation_status"] == "sending":
        processor.redeliver()

    record = processor.record(message)
    assert record["conversation_status"] == "initial_message_sent"
    [sent] = processor.provider_outbox
    assert record["provider_message_id"] == sent["sid"]
    # Twilio was asked before the second send.
    lookups = [r for r in processor.provider.requests if r.method == "GET"]
    assert lookups and all(r.query["To"].endswith("+447700900123") for r in lookups)


@pytest.mark.parametrize("channel", TWILIO_CHANNELS)
@pytest.mark.parametrize("status", [500, 502, 504])
def test_a_twilio_5xx_on_send_is_checked_with_twilio_before_anything_is_sent_again(
    channel, status, processor_for, context_message
):
    processor = processor_for(channel)
    processor.provider.script(Outcome.status(status))
    message = context_message(channel)

    processor.deliver(message)
    assert processor.record(message)["conversation_status"] == "sending"  # it may have gone out

    while processor.record(message)["conversation_status"] == "sending":
        processor.redeliver()

    assert processor.record(message)["conversation_status"] == "initial_message_sent"
    assert len(processor.provider_outbox) == 1
    sends = [r for r in processor.provider.requests if r.method == "POST"]
    lookups = [r for r in processor.provider.requests if r.method == "GET"]
    assert len(sends) == 2 and lookups  # resent only after Twilio listed no such message


@pytest.mark.parametrize("status", [500, 502, 504])
def test_a_sendgrid_5xx_that_may_have_sent_is_unconfirmed_and_never_resent(status, processor_for, context_message):
    processor = processor_for(Channel.EMAIL)
    processor.provider.script(Outcome.status(status))
    message = context_message(Channel.EMAIL)

    result = processor.deliver(message)
    processor.deliver(message)  # a duplicate delivery finds the record settled

    assert result.failed == []
    assert processor.record(message)["conversation_status"] == "send_unconfirmed"
    assert len([r for r in processor.provider.requests if r.method == "POST"]) == 1


@pytest.mark.parametrize("channel", [Channel.WHATSAPP])
def test_a_template_message_of_another_conversation_is_not_taken_for_ours(channel, processor_for, context_message):
    processor = processor_for(channel)
    earlier = context_message(channel)
    processor.deliver(earlier)  # another conversation with the same person, sent and recorded
    processor.provider.script(Outcome.timeout(VISIBILITY_TIMEOUT_SECONDS + 1))
    message = context_message(channel)

    processor.deliver(message)
    while processor.record(message)["conversation_status"] == "sending":
        processor.redeliver()

    record = processor.record(message)
    assert record["conversation_status"] == "initial_message_sent"
    assert record["provider_message_id"] != processor.record(earlier)["provider_message_id"]
    assert len(processor.provider_outbox) == 2


@pytest.mark.parametrize("channel", TWILIO_CHANNELS)
def test_a_lookup_twilio_refuses_leaves_the_send_unconfirmed_rather_than_failed(
    channel, processor_for, context_message
):
    processor = processor_for(channel)
    processor.provider.script(Outcome.accept_then_timeout(3))
    message = context_message(channel)
    processor.deliver(message)
    processor.provider.credentials = {"ACsomeoneelse": "rotated-token"}  # ours are refused from now on
    try:
        processor.redeliver()
    finally:
        processor.provider.credentials = None

    record = processor.record(message)
    assert record["conversation_status"] == "send_unconfirmed"
    assert "could not be asked" in record["failure_reason"]


def _two_unresolved_sends_to_one_person(processor, context_message, channel, *, same_content):
    """A's send times out untaken; B's is taken by Twilio but its answer is lost. Both stay ``sending``."""
    changes = {} if same_content else {"project_data.jobRole": "Night Porter"}
    a, b = context_message(channel, **changes), context_message(channel)
    processor.provider.script(Outcome.timeout(VISIBILITY_TIMEOUT_SECONDS + 1), Outcome.accept_then_timeout(3))
    processor.deliver(a)
    processor.deliver(b)
    assert processor.record(a)["conversation_status"] == processor.record(b)["conversation_status"] == "sending"
    [b_sent] = processor.provider_outbox
    # The test, not SQS's clock, decides which redelivery reconciles first: the copies are put back
    # one at a time once both sends are past the settle window.
    processor.sqs.purge_queue(QueueUrl=processor.queue_url)
    time.sleep(2 * 1 + 0.2)  # send_settle_seconds: twice PROVIDER_TIMEOUT_SECONDS (1 s)
    return a, b, b_sent


@pytest.mark.parametrize("channel", TWILIO_CHANNELS)
@pytest.mark.parametrize("a_first", [True, False], ids=["A reconciles first", "B reconciles first"])
def test_reconciliation_never_takes_another_conversations_message_to_the_same_person(
    channel, a_first, processor_for, context_message
):
    processor = processor_for(channel)
    a, b, b_sent = _two_unresolved_sends_to_one_person(processor, context_message, channel, same_content=False)

    for message in (a, b) if a_first else (b, a):
        processor.deliver(message)

    record_a, record_b = processor.record(a), processor.record(b)
    assert record_b["conversation_status"] == "initial_message_sent"
    assert record_b["provider_message_id"] == b_sent["sid"]
    assert record_a["conversation_status"] == "initial_message_sent"
    assert record_a["provider_message_id"] != b_sent["sid"]
    # A's own message went out once (sent again: Twilio listed nothing with A's content); B's once.
    [a_sent] = [m for m in processor.provider_outbox if m["sid"] == record_a["provider_message_id"]]
    assert len(processor.provider_outbox) == 2
    assert all(value in a_sent["body"] for value in record_a["ai_content"].values())


@pytest.mark.parametrize("channel", TWILIO_CHANNELS)
@pytest.mark.parametrize("a_first", [True, False], ids=["A reconciles first", "B reconciles first"])
def test_when_two_unresolved_sends_to_one_person_look_alike_neither_guesses(
    channel, a_first, processor_for, context_message
):
    # Same wording for both (the same job): the message Twilio lists could be either's, so neither
    # conversation may claim it, and neither may send again.
    processor = processor_for(channel)
    a, b, b_sent = _two_unresolved_sends_to_one_person(processor, context_message, channel, same_content=True)

    for message in (a, b) if a_first else (b, a):
        processor.deliver(message)

    record_a, record_b = processor.record(a), processor.record(b)
    assert record_a.get("provider_message_id") != b_sent["sid"], "A was recorded sent with B's message"
    assert (record_a["conversation_status"], record_b["conversation_status"]) == ("send_unconfirmed",) * 2
    assert "Another conversation to the same person" in record_a["failure_reason"] + record_b["failure_reason"]
    assert processor.provider_outbox == [b_sent]
