"""The events processor's counts per channel (dimensions {service: events-processor, channel}), as
its real handler prints them (EMF) against moto: delivery outcomes when the status was applied,
the person's messages when recorded, opt-outs when the entry was made; never for a repeat."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared import tables
from shared.channels import Channel
from tests.fixtures.emf import data_points
from tests.fixtures.inbound import COMPANY, PROJECT, conversation_record, sendgrid_inbound, twilio_inbound
from tests.fixtures.processors import sendgrid_event, twilio_status

COUNTS = ("MessagesDelivered", "MessagesRead", "MessagesUndelivered", "RepliesReceived", "OptOuts")


def _counts(out: str) -> dict[tuple[str, str], float]:
    """(metric, channel) -> total, for the per-channel counts; each point's dimensions checked."""
    totals: dict[tuple[str, str], float] = {}
    for point in data_points(out):
        if point.name in COUNTS:
            assert point.namespace == "AiMultiComms" and point.unit == "Count"
            assert set(point.dimensions) == {"service", "channel"}
            assert point.dimensions["service"] == "events-processor"
            key = (point.name, point.dimensions["channel"])
            totals[key] = totals.get(key, 0) + point.value
    return totals


@pytest.fixture
def send(processor_for, context_message):
    """``send(channel)``: one first message through the channel's processor; its provider id."""

    def run(channel: Channel) -> str:
        processor = processor_for(channel)
        message = context_message(channel)
        processor.deliver(message)
        return processor.record(message)["provider_message_id"]

    return run


@pytest.fixture
def events(events_processor, aws, company_record_example) -> Any:
    aws.table(tables.COMPANY_DATA.logical_name).put_item(Item=json.loads(json.dumps(company_record_example)))
    return events_processor()


def test_whatsapp_delivered_and_read_count_once_each_and_steps_on_the_way_not_at_all(send, events, capsys):
    sid = send(Channel.WHATSAPP)
    capsys.readouterr()

    for status in ("sent", "delivered", "delivered", "read", "read"):
        events.deliver(twilio_status(COMPANY, PROJECT, sid, status))

    assert _counts(capsys.readouterr().out) == {("MessagesDelivered", "whatsapp"): 1, ("MessagesRead", "whatsapp"): 1}


def test_an_undelivered_sms_counts_once_and_a_late_delivered_counts_too(send, events, capsys):
    sid = send(Channel.SMS)
    capsys.readouterr()

    events.deliver(twilio_status(COMPANY, PROJECT, sid, "undelivered", error_code="30003"))
    events.deliver(twilio_status(COMPANY, PROJECT, sid, "undelivered", error_code="30003"))
    # Carriers do report a delivery after a failure; the status moves forward and counts.
    events.deliver(twilio_status(COMPANY, PROJECT, sid, "delivered"))

    assert _counts(capsys.readouterr().out) == {("MessagesUndelivered", "sms"): 1, ("MessagesDelivered", "sms"): 1}


def test_email_delivered_counts_and_opens_are_not_reads(send, events, capsys):
    message_id = send(Channel.EMAIL)
    capsys.readouterr()

    events.deliver(
        sendgrid_event(COMPANY, PROJECT, message_id, "processed"),
        sendgrid_event(COMPANY, PROJECT, message_id, "delivered", event_id="sg-delivered-1"),
        sendgrid_event(COMPANY, PROJECT, message_id, "delivered", event_id="sg-delivered-1"),
        sendgrid_event(COMPANY, PROJECT, message_id, "open"),
    )

    assert _counts(capsys.readouterr().out) == {("MessagesDelivered", "email"): 1}


def test_a_bounce_counts_undelivered_and_is_not_an_opt_out(send, events, capsys):
    message_id = send(Channel.EMAIL)
    capsys.readouterr()

    events.deliver(sendgrid_event(COMPANY, PROJECT, message_id, "bounce", type="bounce", status="5.1.1"))

    assert _counts(capsys.readouterr().out) == {("MessagesUndelivered", "email"): 1}


@pytest.mark.parametrize("channel", list(Channel))
def test_a_reply_counts_once_per_channel_however_often_it_is_delivered(events, conversations, channel, capsys):
    conversations.put(conversation_record(channel))
    if channel is Channel.EMAIL:
        reply = sendgrid_inbound(text="Is the role full time?")
    else:
        reply = twilio_inbound(channel=channel, body="Is the role full time?")
    capsys.readouterr()

    events.deliver(reply)
    events.deliver(reply)

    assert _counts(capsys.readouterr().out) == {("RepliesReceived", channel.value): 1}


@pytest.mark.parametrize("channel", [Channel.SMS, Channel.WHATSAPP])
def test_stop_counts_one_opt_out_and_one_reply(events, conversations, channel, capsys):
    conversations.put(conversation_record(channel))
    stop = twilio_inbound(channel=channel, body="STOP")
    capsys.readouterr()

    events.deliver(stop)
    events.deliver(stop)

    assert _counts(capsys.readouterr().out) == {("OptOuts", channel.value): 1, ("RepliesReceived", channel.value): 1}


def test_a_sendgrid_unsubscribe_counts_an_opt_out_once(events, capsys):
    unsubscribe = sendgrid_event(COMPANY, PROJECT, "unknown-message-id", "unsubscribe", event_id="sg-unsub-1")
    capsys.readouterr()

    events.deliver(unsubscribe)
    events.deliver(unsubscribe)

    assert _counts(capsys.readouterr().out) == {("OptOuts", "email"): 1}
