"""The events processor's real handler against moto: provider events land on the message they name
and on its conversation record, only forward, once, and only for the tenant whose URL they came
through. The sends that feed it run through the real channel processors and the provider sandboxes."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest

from shared.channels import Channel
from tests.fixtures.emf import metric_total
from tests.fixtures.processors import (
    CALLBACK_BASE_URL,
    EventsHarness,
    sendgrid_event,
    twilio_status,
)

COMPANY, PROJECT = "ci-demo-001", "pi-demo-001"  # the example record's tenant


@pytest.fixture
def send(processor_for, context_message):
    """``send(channel)``: one message through that channel's processor; returns (harness, message, provider id)."""

    def run(channel: Channel) -> tuple[Any, Any, str]:
        processor = processor_for(channel)
        message = context_message(channel)
        result = processor.deliver(message)
        assert result.deleted == result.received
        record = processor.record(message)
        assert record["conversation_status"] == "initial_message_sent"
        return processor, message, record["provider_message_id"]

    return run


# -- the sends -------------------------------------------------------------------------------------
@pytest.mark.parametrize("channel", [Channel.WHATSAPP, Channel.SMS])
def test_twilio_send_records_its_message_and_asks_for_status_callbacks(send, events_processor, channel):
    processor, message, sid = send(channel)
    events = events_processor()

    [sent] = processor.provider_outbox
    assert sent["status_callback"] == f"{CALLBACK_BASE_URL}/webhooks/twilio/{COMPANY}/{PROJECT}/status"
    item = events.item(f"twilio#{sid}")
    assert item == {
        "provider_message_key": f"twilio#{sid}",
        "item_type": "message",
        "provider": "twilio",
        "provider_message_id": sid,
        "channel": channel.value,
        "company_id": COMPANY,
        "project_id": PROJECT,
        "primary_channel": message.recipient_address,
        "conversation_id": message.conversation_id,
        "sent_at": item["sent_at"],
        "delivery_status": "queued",  # Twilio's answer to the send
        "delivery_rank": 1,
        "delivery_updated_at": item["sent_at"],
        "expires_at": processor.record(message)["expires_at"],  # goes with its record (retention)
    }
    record = processor.record(message)
    assert (record["delivery_status"], record["delivery_rank"]) == ("queued", 1)


def test_email_send_records_its_message_and_names_the_conversation_in_custom_args(send, events_processor, sandbox):
    processor, message, message_id = send(Channel.EMAIL)
    events = events_processor()

    [request] = [r for r in sandbox.sendgrid.requests if r.path == "/v3/mail/send"]
    assert request.body["custom_args"] == {
        "conversation_id": message.conversation_id,
        "company_id": COMPANY,
        "project_id": PROJECT,
    }
    item = events.item(f"sendgrid#{message_id}")
    assert item["conversation_id"] == message.conversation_id
    # SendGrid's 202 says nothing of delivery: no status until its first event.
    assert "delivery_status" not in item
    assert "delivery_status" not in processor.record(message)


def test_a_message_without_a_callback_base_url_is_sent_without_a_status_callback(processor_for, context_message):
    processor = processor_for(Channel.SMS)
    message = context_message(Channel.SMS, **{"metadata.callback_base_url": None})

    processor.deliver(message)

    [sent] = processor.provider_outbox
    assert sent["status_callback"] is None
    assert processor.record(message)["conversation_status"] == "initial_message_sent"
    assert any("no way to report" in line["message"] for line in processor.logs())


# -- events in order, out of order, repeated --------------------------------------------------------
def test_statuses_in_order_end_read_on_the_message_and_the_record(send, events_processor):
    processor, message, sid = send(Channel.WHATSAPP)
    events = events_processor()

    for status in ("sent", "delivered", "read"):
        events.deliver(twilio_status(COMPANY, PROJECT, sid, status))

    item = events.item(f"twilio#{sid}")
    assert (item["delivery_status"], item["delivery_rank"]) == ("read", 6)
    assert item["seen_event_ids"] == {"sent#", "delivered#", "read#"}
    record = processor.record(message)
    assert (record["delivery_status"], record["delivery_rank"]) == ("read", 6)
    assert record["conversation_status"] == "initial_message_sent"


def test_a_status_arriving_after_a_later_one_moves_nothing_back(send, events_processor, capsys):
    processor, message, sid = send(Channel.SMS)
    events = events_processor()
    capsys.readouterr()

    events.deliver(twilio_status(COMPANY, PROJECT, sid, "delivered"))
    events.deliver(twilio_status(COMPANY, PROJECT, sid, "sent"))

    assert events.item(f"twilio#{sid}")["delivery_status"] == "delivered"
    record = processor.record(message)
    assert (record["delivery_status"], record["delivery_rank"]) == ("delivered", 5)
    out = capsys.readouterr().out
    assert (metric_total(out, "ProviderEventsApplied"), metric_total(out, "ProviderEventsIgnored")) == (1, 1)


def test_the_record_version_is_not_touched_by_delivery_writes(send, events_processor):
    processor, message, sid = send(Channel.SMS)
    before = processor.record(message)

    events_processor().deliver(twilio_status(COMPANY, PROJECT, sid, "delivered"))

    after = processor.record(message)
    assert (after["version"], after["written_by"], after["updated_at"]) == (
        before["version"],
        before["written_by"],
        before["updated_at"],
    )
    assert after["delivery_status"] == "delivered"


def test_twilio_repeating_a_status_is_applied_once(send, events_processor, capsys):
    _, _, sid = send(Channel.SMS)
    events = events_processor()
    capsys.readouterr()

    events.deliver(twilio_status(COMPANY, PROJECT, sid, "delivered"), twilio_status(COMPANY, PROJECT, sid, "delivered"))

    out = capsys.readouterr().out
    assert (metric_total(out, "ProviderEventsApplied"), metric_total(out, "ProviderEventsIgnored")) == (1, 1)
    assert events.item(f"twilio#{sid}")["delivery_status"] == "delivered"


def test_sendgrid_repeating_an_event_is_applied_once(send, events_processor, capsys):
    processor, message, message_id = send(Channel.EMAIL)
    events = events_processor()
    capsys.readouterr()
    args = {"conversation_id": message.conversation_id, "company_id": COMPANY, "project_id": PROJECT}

    events.deliver(
        sendgrid_event(COMPANY, PROJECT, message_id, "processed", event_id="ev-processed", **args),
        sendgrid_event(COMPANY, PROJECT, message_id, "open", event_id="ev-open-1", **args),
        sendgrid_event(COMPANY, PROJECT, message_id, "open", event_id="ev-open-1", **args),  # SendGrid repeats
        sendgrid_event(COMPANY, PROJECT, message_id, "delivered", event_id="ev-delivered", **args),
        sendgrid_event(COMPANY, PROJECT, message_id, "open", event_id="ev-open-2", **args),  # a second open
    )
    events.deliver(sendgrid_event(COMPANY, PROJECT, message_id, "delivered", event_id="ev-delivered", **args))

    item = events.item(f"sendgrid#{message_id}")
    assert (item["delivery_status"], item["open_count"]) == ("delivered", 2)
    assert item["first_opened_at"] == "2026-11-24T09:30:15Z"
    record = processor.record(message)
    assert (record["delivery_status"], record["first_opened_at"]) == ("delivered", "2026-11-24T09:30:15Z")
    out = capsys.readouterr().out
    assert (metric_total(out, "ProviderEventsApplied"), metric_total(out, "ProviderEventsIgnored")) == (4, 2)


# -- failures keep their reason ---------------------------------------------------------------------
def test_an_undelivered_message_keeps_twilios_error_code_and_reason(send, events_processor):
    processor, message, sid = send(Channel.WHATSAPP)
    events = events_processor()

    events.deliver(twilio_status(COMPANY, PROJECT, sid, "sent"))
    events.deliver(
        twilio_status(
            COMPANY, PROJECT, sid, "undelivered", error_code="30003", error_message="Unreachable destination handset"
        )
    )

    record = processor.record(message)
    assert (record["delivery_status"], record["delivery_error_code"], record["delivery_error_reason"]) == (
        "undelivered",
        "30003",
        "Unreachable destination handset",
    )
    item = events.item(f"twilio#{sid}")
    assert (item["delivery_status"], item["delivery_error_code"]) == ("undelivered", "30003")


def test_a_sendgrid_bounce_keeps_its_reason_status_and_type(send, events_processor):
    processor, message, message_id = send(Channel.EMAIL)

    events_processor().deliver(
        sendgrid_event(
            COMPANY,
            PROJECT,
            message_id,
            "bounce",
            reason="550 5.1.1 The email account that you tried to reach does not exist.",
            status="5.1.1",
            type="bounce",
            conversation_id=message.conversation_id,
        )
    )

    record = processor.record(message)
    assert (record["delivery_status"], record["delivery_error_code"]) == ("bounce", "5.1.1")
    assert record["delivery_error_reason"].startswith("550 5.1.1")


def test_an_unsubscribe_is_kept_on_the_message_and_is_no_delivery_status(send, events_processor):
    processor, message, message_id = send(Channel.EMAIL)
    events = events_processor()

    result = events.deliver(sendgrid_event(COMPANY, PROJECT, message_id, "unsubscribe"))

    assert result.deleted == result.received
    item = events.item(f"sendgrid#{message_id}")
    assert item["other_events"] == {"unsubscribe"}
    assert "delivery_status" not in item
    assert "delivery_status" not in processor.record(message)


# -- tenants and strangers ----------------------------------------------------------------------------
def test_an_event_through_another_tenants_url_is_kept_unmatched_and_changes_nothing(send, events_processor, capsys):
    processor, message, sid = send(Channel.SMS)
    events = events_processor()
    record_before, item_before = processor.record(message), events.item(f"twilio#{sid}")
    capsys.readouterr()

    result = events.deliver(twilio_status("other-company", PROJECT, sid, "delivered"))

    assert result.deleted == result.received
    assert processor.record(message) == record_before
    assert events.item(f"twilio#{sid}") == item_before
    [kept] = events.unmatched()
    assert (kept["reason"], kept["company_id"], kept["provider_message_id"]) == ("other_tenant", "other-company", sid)
    assert kept["expires_at"] > kept_received_epoch(kept) + 29 * 86400
    assert metric_total(capsys.readouterr().out, "ProviderEventsUnmatched") == 1
    line = next(line for line in events.logs() if line.get("reason") == "other_tenant")
    assert "+447700900123" not in json.dumps(line) and line["recipient"] == "+44********23"


def test_custom_args_naming_another_conversation_change_nothing(send, events_processor):
    processor, message, message_id = send(Channel.EMAIL)
    events = events_processor()

    events.deliver(sendgrid_event(COMPANY, PROJECT, message_id, "delivered", conversation_id="someone-else"))

    assert "delivery_status" not in processor.record(message)
    assert [kept["reason"] for kept in events.unmatched()] == ["other_conversation"]


def test_an_unknown_message_is_retried_then_kept_unmatched_on_the_last_receive(events_processor, capsys):
    events = events_processor()
    capsys.readouterr()

    events.post(twilio_status(COMPANY, PROJECT, "SM" + "0" * 32, "delivered"))
    results = events.drain()

    assert [len(r.failed) for r in results] == [1, 1, 0]  # two retries, then kept on the third receive
    [kept] = events.unmatched()
    assert (kept["reason"], kept["status"]) == ("unknown_message", "delivered")
    assert json.loads(kept["payload"])["MessageSid"] == "SM" + "0" * 32
    assert events.queue_depth(events.dlq_url) == 0
    assert metric_total(capsys.readouterr().out, "ProviderEventsUnmatched") == 1


def test_a_malformed_event_goes_to_the_dlq_at_once(events_processor):
    events = events_processor()

    result = events.deliver(twilio_status(COMPANY, PROJECT, "SMx", "").to_body(), "not json")

    assert len(result.deleted) == 2
    assert events.queue_depth(events.dlq_url) == 2
    assert events.unmatched() == []


def test_an_unexpected_failure_is_logged_counted_and_retried(events_processor, capsys):
    events = events_processor(PROVIDER_MESSAGES_TABLE_NAME="ai-multi-comms-no-such-table-dev")
    capsys.readouterr()

    result = events.deliver(twilio_status(COMPANY, PROJECT, "SM" + "1" * 32, "delivered"))

    assert result.failed == result.received  # SQS brings it back, and after its receives the DLQ keeps it
    assert metric_total(capsys.readouterr().out, "UnexpectedFailures") == 1
    [line] = [line for line in events.logs() if line["message"] == "unexpected failure while applying the event"]
    assert "ResourceNotFoundException" in line["cause"]


# -- crashes and races ----------------------------------------------------------------------------------
def test_a_failure_between_the_message_and_the_record_heals_on_redelivery(faulty_dynamodb, send, events_processor: Any):
    processor, message, sid = send(Channel.SMS)
    events: EventsHarness = events_processor()
    faulty_dynamodb.failing = ("UpdateItem", "conversations")  # the record's write fails; the item's succeeds

    first = events.deliver(twilio_status(COMPANY, PROJECT, sid, "delivered"))

    assert first.failed == first.received
    assert events.item(f"twilio#{sid}")["delivery_status"] == "delivered"
    assert processor.record(message)["delivery_status"] == "queued"
    faulty_dynamodb.failing = None
    events.drain()
    assert processor.record(message)["delivery_status"] == "delivered"


def test_a_status_arriving_while_the_record_is_still_sending_waits_and_then_lands(
    faulty_dynamodb, processor_for, context_message, events_processor
):
    processor = processor_for(Channel.SMS)
    message = context_message(Channel.SMS)
    events = events_processor()
    # The send goes out and its item is recorded, but the record's move to initial_message_sent fails.
    faulty_dynamodb.failing = ("UpdateItem", "initial_message_sent")
    processor.deliver(message)
    assert processor.record(message)["conversation_status"] == "sending"
    [sent] = processor.provider_outbox

    waiting = events.deliver(twilio_status(COMPANY, PROJECT, sent["sid"], "delivered"))

    assert waiting.failed == waiting.received  # the record does not name the message yet
    assert events.item(f"twilio#{sent['sid']}")["delivery_status"] == "delivered"
    faulty_dynamodb.failing = None
    for _ in range(5):  # once the send's settle window passed, the redelivery asks Twilio and records it
        processor.redeliver()
        record = processor.record(message)
        if record["conversation_status"] != "sending":
            break
    assert (record["conversation_status"], record["provider_message_id"]) == ("initial_message_sent", sent["sid"])
    assert record["delivery_status"] == "delivered"  # copied from the message's item
    events.drain()
    assert processor.record(message)["delivery_status"] == "delivered"
    assert len(processor.provider_outbox) == 1


def kept_received_epoch(item: dict[str, Any]) -> int:
    return int(datetime.fromisoformat(item["received_at"]).timestamp())
