"""Consent in the events processor (issue 12), through its real handler against moto: the person's
STOP / START / HELP and the providers' signals about an address write the suppression list of the
URL's company, and an opt-out closes the thread it was recorded on, never answered."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

import pytest

from shared import tables
from shared.channels import Channel
from shared.consent.suppressions import SuppressionEntry, SuppressionList, SuppressionReason
from shared.models.conversation import ConversationRecord, ConversationStatus
from shared.processing.conversation_repository import ConversationRepository
from shared.replies.inbound import parse_inbound
from shared.replies.inbound_consent import InboundConsent
from tests.fixtures.emf import metric_total
from tests.fixtures.inbound import (
    COMPANY,
    PERSON_EMAIL,
    PERSON_TEL,
    PROJECT,
    conversation_record,
    sendgrid_inbound,
    twilio_inbound,
)
from tests.fixtures.processors import sendgrid_event, twilio_status
from tests.integration.suppression_setup import stored_items, suppression_list

PERSON = {Channel.WHATSAPP: PERSON_TEL, Channel.SMS: PERSON_TEL, Channel.EMAIL: PERSON_EMAIL}
OTHER_COMPANY = "ci-other-001"


@pytest.fixture
def project(aws, company_record_example):
    aws.table(tables.COMPANY_DATA.logical_name).put_item(Item=json.loads(json.dumps(company_record_example)))


@pytest.fixture
def events(events_processor, project):
    return events_processor()


@pytest.fixture
def suppressions(aws) -> SuppressionList:
    """The list as the engine reads it, under the emulator's consent key."""
    return suppression_list(aws)


def inbound(channel: Channel, text: str, **options: Any):
    if channel is Channel.EMAIL:
        return sendgrid_inbound(text=text, **options)
    return twilio_inbound(channel=channel, body=text, **options)


def only_entry(suppressions: SuppressionList, company_id: str = COMPANY) -> SuppressionEntry:
    [entry] = suppressions.entries(company_id)
    return entry


def users(record: ConversationRecord) -> list[Any]:
    return [entry for entry in record.messages if entry.role == "user"]


# -- STOP ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("channel", [Channel.SMS, Channel.WHATSAPP, Channel.EMAIL])
def test_stop_suppresses_the_person_closes_the_thread_and_is_never_answered(
    events, conversations, reply_jobs, suppressions, aws, channel, capsys
):
    before = conversations.put(conversation_record(channel))
    text = "Unsubscribe\n\nAlex\nSent from my iPhone" if channel is Channel.EMAIL else "Stop."
    event = inbound(channel, text)

    result = events.deliver(event)

    assert result.deleted == result.received
    entry = suppressions.entry(COMPANY, channel, PERSON[channel])
    assert entry is not None and entry.is_active
    assert (entry.reason, entry.project_id, entry.channel) == (SuppressionReason.STOP_KEYWORD, PROJECT, channel)
    if channel is Channel.EMAIL:  # a Message-ID may hold the sender's address: only its digest
        digest = hashlib.sha256(b"<CAF-reply-1@mail.example.com>").hexdigest()[:16]
        assert entry.source == f"sendgrid_inbound:{digest}"
    else:
        assert entry.source == f"twilio_inbound:{event.payload['MessageSid']}"
    # The other channels of the same person are not touched; the list holds no readable address.
    assert [e.channel for e in suppressions.entries(COMPANY)] == [channel]
    assert PERSON[channel] not in json.dumps(stored_items(aws))

    after = conversations.get(before)
    assert (after.conversation_status, after.suppression_reason) == ("suppressed", "stop_keyword")
    assert after.version == before.version + 1
    [recorded] = users(after)
    assert (recorded.consent_keyword, recorded.inbound_seq) == ("opt_out", 1)
    assert reply_jobs(channel) == []
    out = capsys.readouterr().out
    assert (metric_total(out, "OptOutsRecorded"), metric_total(out, "InboundMessagesRecorded")) == (1, 1)
    logs = events.log_stream.getvalue()
    assert PERSON[channel] not in logs and "Stop." not in logs


def test_a_redelivered_stop_writes_one_entry_and_one_message(events, conversations, suppressions, capsys):
    before = conversations.put(conversation_record(Channel.SMS))
    event = twilio_inbound(channel=Channel.SMS, body="STOP")

    events.deliver(event)
    first = only_entry(suppressions)
    events.deliver(event)  # the same webhook again: its thread is closed by now

    assert only_entry(suppressions) == first
    after = conversations.get(before)
    assert len(users(after)) == 1 and after.inbound_message_ids == [event.payload["MessageSid"]]
    assert (after.conversation_status, after.version) == ("suppressed", before.version + 1)
    assert events.unmatched() == []  # found where it was recorded, not kept as unmatched
    out = capsys.readouterr().out
    assert (metric_total(out, "OptOutsRecorded"), metric_total(out, "InboundMessagesDuplicate")) == (1, 1)


@pytest.mark.parametrize("status", ["reply_processing", "reply_generated", "reply_sending"])
def test_a_stop_while_a_turn_is_in_flight_leaves_the_turn_alone_and_closes_the_thread_after_it(
    events, conversations, reply_jobs, suppressions, aws, status
):
    before = conversations.put(conversation_record(Channel.WHATSAPP, status=status, reply_through=0))

    result = events.deliver(twilio_inbound(body="STOP"))

    assert only_entry(suppressions).is_active  # written at once: the turn's check before its send sees it
    during = conversations.get(before)
    assert (during.conversation_status, during.version, during.written_by) == (
        status,
        before.version,
        "processor-delivery",
    )
    assert users(during)[0].consent_keyword == "opt_out"
    assert len(result.failed) == 1  # back later, to close the thread once the turn has ended
    assert reply_jobs(Channel.WHATSAPP) == []

    # The turn's check passed before the STOP was written: its reply went out and it ended idle.
    aws.client("dynamodb").update_item(
        TableName=aws.table_name(tables.CONVERSATIONS.logical_name),
        Key={"primary_channel": {"S": before.primary_channel}, "conversation_id": {"S": before.conversation_id}},
        UpdateExpression="SET conversation_status = :sent, version = :next",
        ExpressionAttributeValues={":sent": {"S": "reply_sent"}, ":next": {"N": str(before.version + 1)}},
    )
    events.drain()

    after = conversations.get(before)
    assert (after.conversation_status, after.suppression_reason) == ("suppressed", "stop_keyword")
    assert len(users(after)) == 1
    assert reply_jobs(Channel.WHATSAPP) == []


def test_a_stop_still_held_by_a_turn_on_its_last_receive_is_left_to_the_turn(events, conversations, suppressions):
    before = conversations.put(conversation_record(Channel.SMS, status="reply_sending", reply_through=0))
    events.post(twilio_inbound(channel=Channel.SMS, body="STOP"))

    results = events.drain()

    assert [len(r.failed) for r in results] == [1, 1, 0]
    assert conversations.get(before).conversation_status == "reply_sending"
    assert only_entry(suppressions).is_active
    assert events.queue_depth(events.dlq_url) == 0


def test_twilio_opt_out_type_on_a_text_that_is_no_keyword_is_the_providers_opt_out(
    events, conversations, suppressions, reply_jobs
):
    before = conversations.put(conversation_record(Channel.SMS))

    events.deliver(twilio_inbound(channel=Channel.SMS, body="Remove me please", OptOutType="STOP"))

    assert only_entry(suppressions).reason is SuppressionReason.PROVIDER_OPT_OUT
    after = conversations.get(before)
    assert (after.conversation_status, after.suppression_reason) == ("suppressed", "provider_opt_out")
    assert reply_jobs(Channel.SMS) == []


def test_a_stop_matching_no_open_conversation_suppresses_anyway(events, conversations, suppressions, capsys):
    closed = conversations.put(conversation_record(Channel.SMS, status="failed_to_send_message"))

    events.deliver(twilio_inbound(channel=Channel.SMS, body="stop"))

    entry = only_entry(suppressions)
    assert (entry.reason, entry.is_active) == (SuppressionReason.STOP_KEYWORD, True)
    [kept] = events.unmatched()
    assert kept["reason"] == "no_open_conversation"
    assert conversations.get(closed).conversation_status == "failed_to_send_message"
    out = capsys.readouterr().out
    assert (metric_total(out, "OptOutsRecorded"), metric_total(out, "InboundMessagesUnmatched")) == (1, 1)


def test_a_stop_suppresses_for_the_urls_company_only(events, conversations, suppressions):
    suppressions.suppress(
        OTHER_COMPANY, Channel.SMS, PERSON_TEL, reason=SuppressionReason.OPERATOR, source="operator:test"
    )
    theirs = only_entry(suppressions, OTHER_COMPANY)

    events.deliver(twilio_inbound(channel=Channel.SMS, body="STOP"))
    events.deliver(twilio_inbound(channel=Channel.SMS, body="START"))

    assert only_entry(suppressions, OTHER_COMPANY) == theirs  # still active, untouched
    assert suppressions.entry(COMPANY, Channel.SMS, PERSON_TEL).state == "lifted"


# -- START -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("channel", [Channel.SMS, Channel.WHATSAPP, Channel.EMAIL])
def test_start_after_stop_lifts_the_opt_out_although_the_thread_is_closed(
    events, conversations, suppressions, reply_jobs, channel, capsys
):
    record = conversations.put(conversation_record(channel))
    events.deliver(
        inbound(channel, "STOP", **({"message_id": "<stop@mail.example.com>"} if channel is Channel.EMAIL else {}))
    )

    events.deliver(
        inbound(channel, "Start", **({"message_id": "<start@mail.example.com>"} if channel is Channel.EMAIL else {}))
    )

    entry = only_entry(suppressions)
    assert (entry.state, entry.lifted_reason, entry.lifted_by) == ("lifted", "start_keyword", "person")
    assert entry.reason is SuppressionReason.STOP_KEYWORD  # the history stays on the entry
    assert conversations.get(record).conversation_status == "suppressed"  # nothing leaves suppressed
    assert reply_jobs(channel) == []
    assert metric_total(capsys.readouterr().out, "OptInsRecorded") == 1


@pytest.mark.parametrize(
    "reason", [SuppressionReason.HARD_BOUNCE, SuppressionReason.OPERATOR, SuppressionReason.SPAM_REPORT]
)
def test_start_never_lifts_an_entry_the_person_did_not_make_with_a_keyword(events, suppressions, reason, capsys):
    suppressions.suppress(COMPANY, Channel.SMS, PERSON_TEL, reason=reason, source="operator:test")

    events.deliver(twilio_inbound(channel=Channel.SMS, body="START"))

    entry = only_entry(suppressions)
    assert (entry.state, entry.reason) == ("active", reason)
    assert metric_total(capsys.readouterr().out, "OptInsRecorded") == 0


def test_start_on_an_open_thread_is_recorded_and_not_answered(events, conversations, suppressions, reply_jobs):
    before = conversations.put(conversation_record(Channel.WHATSAPP))

    events.deliver(twilio_inbound(body="UNSTOP"))

    after = conversations.get(before)
    [recorded] = users(after)
    assert recorded.consent_keyword == "opt_in"
    assert (after.conversation_status, after.version) == ("initial_message_sent", before.version)
    assert reply_jobs(Channel.WHATSAPP) == []
    assert suppressions.entries(COMPANY) == []  # nothing to lift, nothing written


# -- HELP ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("channel", [Channel.SMS, Channel.EMAIL])
def test_help_is_recorded_and_queued_for_the_turn_to_answer(
    events, conversations, suppressions, reply_jobs, channel, capsys
):
    before = conversations.put(conversation_record(channel))

    events.deliver(inbound(channel, "HELP"))

    after = conversations.get(before)
    [recorded] = users(after)
    assert recorded.consent_keyword == "help"
    assert after.conversation_status == "reply_received"
    [job] = reply_jobs(channel)
    assert json.loads(job["Body"])["inbound_seq"] == 1
    assert suppressions.entries(COMPANY) == []
    assert metric_total(capsys.readouterr().out, "HelpRequests") == 1


def test_an_ordinary_message_carries_no_consent_keyword(events, conversations, reply_jobs):
    before = conversations.put(conversation_record(Channel.SMS))

    events.deliver(twilio_inbound(channel=Channel.SMS, body="Don't stop, I'm interested"))

    [recorded] = users(conversations.get(before))
    assert recorded.consent_keyword is None
    assert len(reply_jobs(Channel.SMS)) == 1


# -- the providers' signals ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("event", "fields", "expected"),
    [
        ("bounce", {"type": "bounce", "status": "5.1.1", "reason": "550 no such user"}, SuppressionReason.HARD_BOUNCE),
        ("dropped", {"reason": "Bounced Address"}, SuppressionReason.HARD_BOUNCE),
        ("dropped", {"reason": "Unsubscribed Address"}, SuppressionReason.UNSUBSCRIBE_LINK),
        ("spamreport", {}, SuppressionReason.SPAM_REPORT),
        ("unsubscribe", {}, SuppressionReason.UNSUBSCRIBE_LINK),
        ("group_unsubscribe", {"asm_group_id": 42}, SuppressionReason.UNSUBSCRIBE_LINK),
    ],
)
def test_a_sendgrid_event_about_the_address_suppresses_it_even_unmatched(
    events, suppressions, event, fields, expected, capsys
):
    signal = sendgrid_event(COMPANY, PROJECT, "unknown-message-id", event, event_id="sg-event-1", **fields)

    events.post(signal)
    events.drain()  # no message has that id: retried, then kept unmatched

    entry = only_entry(suppressions)
    assert (entry.channel, entry.reason, entry.state) == (Channel.EMAIL, expected, "active")
    assert (entry.source, entry.project_id) == ("sendgrid_event:sg-event-1", PROJECT)
    assert suppressions.is_suppressed(COMPANY, Channel.EMAIL, "Alex.Morgan@Example.com")
    assert len(events.unmatched()) == 1
    out = capsys.readouterr().out
    assert metric_total(out, "ProviderSuppressionsRecorded") == 1  # once, over three receives
    assert "alex.morgan@example.com" not in events.log_stream.getvalue()


@pytest.mark.parametrize(
    ("event", "fields"),
    [
        ("bounce", {"type": "blocked", "status": "4.7.1", "reason": "try again later"}),
        ("dropped", {"reason": "Spam Content (if spam checker app enabled)"}),
        ("deferred", {"response": "450 mailbox busy"}),
        ("delivered", {}),
        ("open", {}),
    ],
)
def test_a_sendgrid_event_saying_nothing_about_the_address_suppresses_nothing(events, suppressions, aws, event, fields):
    events.post(sendgrid_event(COMPANY, PROJECT, "unknown-message-id", event, **fields))
    events.drain()

    assert stored_items(aws) == []


def test_a_bounce_of_a_sent_email_suppresses_and_still_lands_on_its_message(
    processor_for, context_message, events_processor, project, suppressions
):
    processor = processor_for(Channel.EMAIL)
    message = context_message(Channel.EMAIL)
    processor.deliver(message)
    message_id = processor.record(message)["provider_message_id"]
    events = events_processor()

    events.deliver(
        sendgrid_event(COMPANY, PROJECT, message_id, "bounce", email=message.recipient_address, type="bounce")
    )

    assert suppressions.entry(COMPANY, Channel.EMAIL, message.recipient_address).reason is SuppressionReason.HARD_BOUNCE
    assert processor.record(message)["delivery_status"] == "bounce"


@pytest.mark.parametrize(
    ("to", "code", "channel", "expected"),
    [
        ("+447700900123", "21610", Channel.SMS, SuppressionReason.PROVIDER_OPT_OUT),
        ("whatsapp:+447700900123", "63014", Channel.WHATSAPP, SuppressionReason.PROVIDER_OPT_OUT),
        ("+447700900123", "21211", Channel.SMS, SuppressionReason.HARD_BOUNCE),
        ("whatsapp:+447700900123", "63024", Channel.WHATSAPP, SuppressionReason.HARD_BOUNCE),
    ],
)
def test_a_twilio_error_about_the_number_suppresses_it_on_its_channel(
    events, suppressions, to, code, channel, expected
):
    callback = twilio_status(COMPANY, PROJECT, "SM" + "1" * 32, "failed", error_code=code)
    callback = callback.model_copy(update={"payload": {**callback.payload, "To": to}})

    events.post(callback)
    events.drain()

    entry = only_entry(suppressions)
    assert (entry.channel, entry.reason, entry.source, entry.project_id) == (
        channel,
        expected,
        f"twilio_error:{code}",
        PROJECT,
    )
    assert suppressions.is_suppressed(COMPANY, channel, PERSON_TEL)


@pytest.mark.parametrize("code", ["30007", "30003", "63016", "21408", ""])
def test_a_twilio_error_about_the_sender_or_the_carrier_suppresses_nothing(events, aws, code):
    events.post(twilio_status(COMPANY, PROJECT, "SM" + "2" * 32, "undelivered", error_code=code))
    events.drain()

    assert stored_items(aws) == []


def test_a_providers_signal_suppresses_for_the_urls_company_only(events, suppressions):
    events.post(twilio_status(OTHER_COMPANY, PROJECT, "SM" + "3" * 32, "failed", error_code="21610"))
    events.drain()

    assert suppressions.entries(COMPANY) == []
    assert only_entry(suppressions, OTHER_COMPANY).reason is SuppressionReason.PROVIDER_OPT_OUT


@pytest.mark.parametrize(
    ("now_status", "retry", "status", "version"),
    [
        ("reply_received", False, "suppressed", 5),  # another message marked it: closed from there
        ("reply_processing", True, "reply_processing", 4),  # a turn claimed it: left to the turn, retried
        ("suppressed", False, "suppressed", 4),  # the turn's own check closed it: nothing to do
    ],
)
def test_closing_a_thread_that_moved_since_it_was_read_goes_by_what_it_is_now(
    aws, conversations, now_status, retry, status, version
):
    repository = ConversationRepository(aws.client("dynamodb"), aws.table_name(tables.CONVERSATIONS.logical_name))
    current = conversations.put(conversation_record(Channel.SMS, status=now_status, version=4))
    stale = current.model_copy(update={"conversation_status": ConversationStatus.INITIAL_MESSAGE_SENT, "version": 3})
    consent = InboundConsent(suppressions=None, repository=repository, logger=logging.getLogger("test"), metrics=None)
    message = parse_inbound(twilio_inbound(channel=Channel.SMS, body="STOP"))

    outcome = consent.close(stale, message, now="2026-11-26T06:00:00.000Z", last_receive=False)

    after = conversations.get(current)
    assert (outcome.retry, after.conversation_status, after.version) == (retry, status, version)
