"""``comms people erase`` (issue 12): a person's conversations across channels and companies, their
replies, the provider-messages items, the unmatched inbound messages and a pending wake-up are
built with the engine's own handlers, the command runs against the emulator (``--env local``), and
then no table holds the address in any spelling, while the suppression entry stays and still
suppresses, and another person's data is untouched."""

from __future__ import annotations

import json
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer

from shared import tables
from shared.channels import Channel
from shared.consent.address_hash import load_hasher
from shared.consent.suppressions import SuppressionList, SuppressionReason
from shared.consent.wakeup_names import schedule_group_name, schedule_name
from shared.events.provider_messages import ProviderMessages, SentMessage
from shared.models.conversation import ConversationRecord
from shared.tenant_events.derivation import derive_events
from shared.tenant_events.event_log import WebhookEventLog
from tests.fixtures.inbound import PERSON_EMAIL, PERSON_TEL, conversation_record, sendgrid_inbound, twilio_inbound
from tests.fixtures.processors import twilio_status
from tests.integration.reply_setup import answer, first_message_sent, replying_project

OTHER_COMPANY, OTHER_PROJECT, OTHER_NUMBER = "ci-other-002", "pi-other-002", "+447700900077"
SOMEONE_ELSE = {"tel": "+447700900456", "email": "sam.taylor@example.com"}
# Every spelling the person's number and email may take in a stored item.
PHONE_FORMS = (PERSON_TEL, PERSON_TEL.removeprefix("+"), f"whatsapp:{PERSON_TEL}", "%2B" + PERSON_TEL[1:])


@pytest.fixture
def company_record_example(company_record_example: dict[str, Any]) -> dict[str, Any]:
    return replying_project(company_record_example) | {"auto_queue_reply_message": True}


def _everything(aws) -> dict[str, list[dict[str, Any]]]:
    """Every item of every table of the engine, as plain values."""
    client = aws.client("dynamodb")
    found: dict[str, list[dict[str, Any]]] = {}
    for spec in tables.ALL_TABLES:
        items, request = [], {"TableName": aws.table_name(spec.logical_name), "ConsistentRead": True}
        while True:
            page = client.scan(**request)
            items += [{k: TypeDeserializer().deserialize(v) for k, v in item.items()} for item in page["Items"]]
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        found[spec.logical_name] = items
    return found


def _text(items: dict[str, list[dict[str, Any]]]) -> str:
    return json.dumps(items, default=str, sort_keys=True)


def _erase(comms, *args: str, as_json: bool = True):
    return comms("people", "erase", *args, *(["--json"] if as_json else []))


@pytest.fixture
def person(aws, processor_for, events_processor, context_message, sandbox, conversations) -> dict[str, Any]:
    """The person's data as the engine leaves it, and someone else's beside it."""
    company, project = "ci-demo-001", "pi-demo-001"
    messages = {channel: context_message(channel) for channel in Channel}
    processors = {channel: processor_for(channel) for channel in Channel}
    for channel, message in messages.items():
        first_message_sent(processors[channel], message)
    events = events_processor()
    # The person answers on WhatsApp and the AI replies; the first SMS is reported delivered.
    sandbox.openai.script(answer("Great, see you in March!"))
    events.deliver(twilio_inbound(company, project, channel=Channel.WHATSAPP, body="Yes, I can start in March."))
    processors[Channel.WHATSAPP].poll()
    assert processors[Channel.WHATSAPP].record(messages[Channel.WHATSAPP])["conversation_status"] == "reply_sent"
    sms_sid = processors[Channel.SMS].record(messages[Channel.SMS])["provider_message_id"]
    events.deliver(twilio_status(company, project, sms_sid, "delivered"))
    # Messages no conversation takes: a WhatsApp message to a number of no conversation, an email to nobody,
    # and a status event of a message the engine never sent (Twilio's "To" is the person).
    events.deliver(
        twilio_inbound(company, project, channel=Channel.WHATSAPP, to="+447700900099", body="Who is this?"),
        sendgrid_inbound(company, project, sender=f"Alex Morgan <{PERSON_EMAIL.upper()}>", to="nobody@example.com"),
        twilio_status(company, project, "SMunknown0000000000000000000000001", "delivered"),
    )
    events.drain()
    # The project has a webhook: the WhatsApp thread's tenant events (sent, reply_received, reply_sent)
    # are logged with their payloads, which hold the thread's text.
    event_log = WebhookEventLog(dynamodb := aws.client("dynamodb"), aws.table_name(tables.WEBHOOK_EVENTS.logical_name))
    thread = ConversationRecord.model_validate(processors[Channel.WHATSAPP].record(messages[Channel.WHATSAPP]))
    for event in derive_events(None, thread):
        event_log.add(event, expires_at=2_000_000_000, logged_at="2026-11-26T09:00:00.000Z")
    # Someone else's conversation and unmatched message, which must survive.
    other = context_message(
        Channel.SMS,
        **{
            "recipient_data.recipient_tel": SOMEONE_ELSE["tel"],
            "recipient_data.recipient_email": SOMEONE_ELSE["email"],
        },
    )
    first_message_sent(processors[Channel.SMS], other)
    for event in derive_events(None, ConversationRecord.model_validate(processors[Channel.SMS].record(other))):
        event_log.add(event, expires_at=2_000_000_000, logged_at="2026-11-26T09:00:00.000Z")
    events.deliver(
        twilio_inbound(company, project, channel=Channel.SMS, sender=SOMEONE_ELSE["tel"], to="+447700900099")
    )
    # Another company's conversation with the person, held until later by a wake-up schedule.
    held = conversation_record(
        Channel.SMS,
        company_id=OTHER_COMPANY,
        project_id=OTHER_PROJECT,
        company_address=OTHER_NUMBER,
        status="scheduled",
        provider_message_id=None,
        messages=[],
    )
    conversations.put(held)
    scheduler = aws.client("scheduler")
    scheduler.create_schedule_group(Name=schedule_group_name("dev"))
    scheduler.create_schedule(
        Name=schedule_name(held.conversation_id),
        GroupName=schedule_group_name("dev"),
        ScheduleExpression="at(2026-12-24T09:00:00)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={
            "Arn": "arn:aws:sqs:eu-north-1:123456789012:ai-multi-comms-sms-queue-dev",
            "RoleArn": "arn:aws:iam::123456789012:role/wakeups",
            "Input": json.dumps({"recipient_tel": PERSON_TEL}),
        },
    )
    # An older message item of the other company whose record is already gone (TTL, a failed run).
    ProviderMessages(dynamodb, aws.table_name(tables.PROVIDER_MESSAGES.logical_name)).record_send(
        SentMessage(
            provider="twilio",
            provider_message_id="SMorphan000000000000000000000000001",
            channel="sms",
            company_id=OTHER_COMPANY,
            project_id=OTHER_PROJECT,
            primary_channel=PERSON_TEL,
            conversation_id=f"{OTHER_COMPANY}#{OTHER_PROJECT}#gone#447700900077",
            sent_at="2026-11-01T09:00:00.000Z",
            delivery_status="queued",
            expires_at=None,
        )
    )
    # The person sent STOP by SMS to the first company: the entry must outlive the erasure.
    suppressions = SuppressionList(
        dynamodb,
        aws.table_name(tables.SUPPRESSIONS.logical_name),
        load_hasher(aws.client("secretsmanager"), aws.consent_key_secret_id),
    )
    suppressions.suppress(
        company, Channel.SMS, PERSON_TEL, reason=SuppressionReason.STOP_KEYWORD, source="twilio_inbound:SMstop1"
    )
    return {
        "suppressions": suppressions,
        "company": company,
        "held": held,
        "other": other,
        "thread_events": len(derive_events(None, thread)),
    }


def test_erasing_a_person_leaves_no_trace_of_their_address_in_any_table(aws, comms, person):
    before = _everything(aws)
    assert all(form in _text(before) for form in PHONE_FORMS[:3])  # the setup really holds them
    assert sum(1 for r in before["conversations"] if r["primary_channel"] == PERSON_TEL) == 3

    by_phone = _erase(comms, "--address", f"whatsapp:{PERSON_TEL}", "--yes")

    assert by_phone.code == 0, by_phone.stderr
    summary = by_phone.json()
    assert summary["erased"] is True and summary["schedules_cancelled"] == 1
    # SMS and WhatsApp with the first company, the email conversation (it holds the number too),
    # and the other company's held SMS.
    assert sorted((c["company_id"], c["channel"]) for c in summary["conversations"]) == sorted(
        [
            (OTHER_COMPANY, "sms"),
            (person["company"], "email"),
            (person["company"], "sms"),
            (person["company"], "whatsapp"),
        ]
    )
    assert summary["unmatched_items"] == 2  # the stray WhatsApp message and the status event naming the number
    assert summary["webhook_events"] == person["thread_events"] >= 2  # at least reply_received, reply_sent
    remaining = _everything(aws)["webhook-events"]
    assert {item["conversation_id"] for item in remaining} == {person["other"].conversation_id}
    assert "Yes, I can start in March." not in _text({"webhook-events": remaining})
    assert PERSON_TEL not in by_phone.stdout and PERSON_TEL[1:] not in by_phone.stdout
    after = _text(_everything(aws))
    for form in PHONE_FORMS:
        assert form not in after
    with pytest.raises(aws.client("scheduler").exceptions.ResourceNotFoundException):
        aws.client("scheduler").get_schedule(
            Name=schedule_name(person["held"].conversation_id), GroupName=schedule_group_name("dev")
        )

    by_email = _erase(comms, "--address", PERSON_EMAIL.title(), "--yes")

    assert by_email.code == 0, by_email.stderr
    assert by_email.json()["unmatched_items"] == 1  # the email to nobody, sent in upper case
    assert PERSON_EMAIL not in _text(_everything(aws)).lower()
    # The consent history stays, and still stops the next message.
    suppressions: SuppressionList = person["suppressions"]
    assert suppressions.is_suppressed(person["company"], Channel.SMS, PERSON_TEL)
    assert len(_everything(aws)["suppressions"]) == 1


def test_someone_elses_data_is_untouched(aws, comms, person):
    def theirs(items: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
        return [
            item
            for name in ("conversations", "provider-messages")
            for item in items[name]
            if SOMEONE_ELSE["tel"][1:] in json.dumps(item, default=str)
        ]

    mine = theirs(_everything(aws))
    assert len(mine) == 3  # their record, their first message's item, their unmatched SMS

    assert _erase(comms, "--address", PERSON_TEL, "--yes").code == 0

    assert theirs(_everything(aws)) == mine


def test_a_dry_run_lists_masked_and_changes_nothing(aws, comms, person):
    before = _everything(aws)

    dry = _erase(comms, "--address", PERSON_TEL)

    assert dry.code == 0, dry.stderr
    summary = dry.json()
    assert summary["erased"] is False and len(summary["conversations"]) == 4
    assert summary["address"] == "+44********23" and PERSON_TEL[1:] not in dry.stdout
    listed = _erase(comms, "--address", PERSON_TEL, "--company-id", OTHER_COMPANY, as_json=False)
    assert listed.code == 0, listed.stderr
    assert "would erase (dry run: add --yes to erase)" in listed.stdout
    assert f"{OTHER_COMPANY}/{OTHER_PROJECT} sms scheduled" in listed.stdout and "ci-demo-001" not in listed.stdout
    assert "provider-messages items of those conversations: 1" in listed.stdout  # the orphan only
    assert PERSON_TEL[1:] not in listed.stdout
    assert _everything(aws) == before
    assert aws.client("scheduler").get_schedule(
        Name=schedule_name(person["held"].conversation_id), GroupName=schedule_group_name("dev")
    )


def test_an_address_that_is_neither_a_number_nor_an_email_is_refused(aws, comms):
    refused = _erase(comms, "--address", "07700 900123", "--yes")

    assert refused.code == 2
    assert "E.164" in refused.stderr
