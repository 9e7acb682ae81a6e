"""The person's messages through the events processor's real handler against moto: matched to the
open conversation of the URL's tenant (never a scan), recorded once in order without breaking a
turn's claim, and answered by a reply job on the conversation's channel queue."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from shared import tables
from shared.channels import Channel
from shared.models.company import CompanyRecord
from shared.models.conversation import ConversationRecord
from shared.processing.conversation_repository import ConversationRepository
from shared.replies.inbound import parse_inbound
from shared.replies.inbound_records import InboundRecords, Recording
from shared.replies.reply_address import message_id, new_reply_token, reply_address
from shared.replies.reply_job import ReplyJob
from tests.fixtures.emf import metric_total
from tests.fixtures.inbound import (
    COMPANY,
    COMPANY_EMAIL,
    PERSON_TEL,
    PROJECT,
    REPLY_DOMAIN,
    SMS_NUMBER,
    WHATSAPP_NUMBER,
    conversation_record,
    sendgrid_inbound,
    twilio_inbound,
)
from tests.fixtures.processors import RETENTION_DAYS

PHONES = [Channel.WHATSAPP, Channel.SMS]
NUMBER = {Channel.WHATSAPP: WHATSAPP_NUMBER, Channel.SMS: SMS_NUMBER}


@pytest.fixture
def project(aws, company_record_example):
    """``project(**changes)``: the example project (or another one of the company) in the company table."""

    def store(**changes: Any) -> CompanyRecord:
        record = CompanyRecord.model_validate({**company_record_example, **changes})
        aws.table(tables.COMPANY_DATA.logical_name).put_item(
            Item=json.loads(record.model_dump_json(exclude_none=True), parse_float=str)
        )
        return record

    return store


@pytest.fixture
def events(events_processor, project):
    project()
    return events_processor()


def _jobs(reply_jobs, channel: Channel) -> list[tuple[ReplyJob, dict[str, str]]]:
    return [
        (ReplyJob.from_body(m["Body"]), {k: v["StringValue"] for k, v in m["MessageAttributes"].items()})
        for m in reply_jobs(channel)
    ]


def _users(record: ConversationRecord) -> list[Any]:
    return [entry for entry in record.messages if entry.role == "user"]


# -- phones ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("channel", PHONES)
def test_a_phone_reply_is_recorded_marked_received_and_queued_as_a_reply_job(
    events, conversations, reply_jobs, channel, capsys
):
    before = conversations.put(conversation_record(channel))
    event = twilio_inbound(channel=channel, body="Yes, March works.", media=("image/jpeg",))

    result = events.deliver(event)

    assert result.deleted == result.received
    after = conversations.get(before)
    [entry] = _users(after)
    assert (entry.message_id, entry.role, entry.content, entry.inbound_seq) == (
        event.payload["MessageSid"],
        "user",
        "Yes, March works.",
        1,
    )
    assert (entry.media_count, entry.media_types) == (1, ["image/jpeg"])
    assert after.messages[0] == before.messages[0]  # the history before it is kept, in order
    assert (after.inbound_count, after.inbound_message_ids, after.answered_through) == (
        1,
        [event.payload["MessageSid"]],
        0,
    )
    assert after.last_inbound_at is not None and entry.timestamp == after.last_inbound_at
    # The idle thread moved to reply_received with a versioned write.
    assert (after.conversation_status, after.version) == ("reply_received", before.version + 1)

    [(job, attributes)] = _jobs(reply_jobs, channel)
    assert attributes == {"kind": "reply", "channel": channel.value}
    assert (job.channel, job.company_id, job.project_id) == (channel, COMPANY, PROJECT)
    assert (job.primary_channel, job.conversation_id) == (before.primary_channel, before.conversation_id)
    assert (job.inbound_message_id, job.inbound_seq) == (event.payload["MessageSid"], 1)
    assert job.auto_reply is True  # the example project answers replies on every address
    assert job.policy.max_ai_turns == 10
    assert job.project.channel_config.sender_address == NUMBER[channel]
    assert job.metadata.correlation_id == "test-inbound"
    assert reply_jobs(Channel.EMAIL) == []
    out = capsys.readouterr().out
    assert metric_total(out, "InboundMessagesRecorded") == 1
    logs = events.log_stream.getvalue()
    assert "March" not in logs and PERSON_TEL not in logs


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"auto_queue_reply_message": False}, False),
        ({"auto_queue_reply_message": True}, True),
        ({"auto_queue_reply_message": True, "auto_queue_reply_message_from_number": [SMS_NUMBER]}, True),
        ({"auto_queue_reply_message": True, "auto_queue_reply_message_from_number": ["+447700900999"]}, False),
    ],
)
def test_the_job_says_whether_the_ai_answers_the_number_the_reply_reached(
    events_processor, project, conversations, reply_jobs, changes, expected
):
    project(**changes)
    conversations.put(conversation_record(Channel.SMS))

    events_processor().deliver(twilio_inbound(channel=Channel.SMS))

    [(job, _)] = _jobs(reply_jobs, Channel.SMS)
    assert job.auto_reply is expected


def test_the_newest_open_conversation_of_the_project_takes_the_reply(events, conversations):
    older = conversations.put(conversation_record(Channel.SMS, created_at="2026-11-20T09:00:00.000Z"))
    newer = conversations.put(conversation_record(Channel.SMS, created_at="2026-11-25T09:00:00.000Z"))
    failed = conversations.put(
        conversation_record(Channel.SMS, created_at="2026-11-26T00:00:00.000Z", status="failed_to_send_message")
    )

    events.deliver(twilio_inbound(channel=Channel.SMS))

    assert conversations.get(newer).inbound_count == 1
    assert conversations.get(older).inbound_count == 0
    assert conversations.get(failed).inbound_count == 0


@pytest.mark.parametrize("status", ["failed_to_send_message", "send_unconfirmed", "processing", "sending"])
def test_a_conversation_whose_first_message_did_not_go_out_takes_no_reply(
    events, conversations, reply_jobs, status, capsys
):
    record = conversations.put(conversation_record(Channel.WHATSAPP, status=status))
    event = twilio_inbound()

    events.deliver(event)

    after = conversations.get(record)
    assert (after.inbound_count, after.messages, after.version) == (0, record.messages, record.version)
    [kept] = events.unmatched()
    assert kept["provider_message_key"] == f"unmatched#twilio#inbound#{event.payload['MessageSid']}"
    assert (kept["reason"], kept["status"], kept["company_id"], kept["project_id"]) == (
        "no_open_conversation",
        "inbound",
        COMPANY,
        PROJECT,
    )
    assert kept["expires_at"] > 0 and json.loads(kept["payload"]) == event.payload
    assert reply_jobs(Channel.WHATSAPP) == []
    assert metric_total(capsys.readouterr().out, "InboundMessagesUnmatched") == 1


def test_a_reply_from_an_unknown_number_is_kept_counted_and_never_answered(events, conversations, reply_jobs, capsys):
    conversations.put(conversation_record(Channel.WHATSAPP))

    events.deliver(twilio_inbound(sender="+447700900555"))

    [kept] = events.unmatched()
    assert kept["reason"] == "no_open_conversation"
    assert reply_jobs(Channel.WHATSAPP) == []
    out = capsys.readouterr().out
    assert (metric_total(out, "InboundMessagesUnmatched"), metric_total(out, "InboundMessagesRecorded")) == (1, 0)
    logs = events.log_stream.getvalue()
    assert "+447700900555" not in logs and "+44********55" in logs


def test_two_projects_each_with_their_own_number_each_get_their_own_replies(
    events_processor, project, conversations, reply_jobs, company_record_example
):
    project()
    sms = {**company_record_example["channel_config"]["sms"], "company_sms_number": "+447700900003"}
    project(project_id="pi-demo-002", channel_config={**company_record_example["channel_config"], "sms": sms})
    first = conversations.put(conversation_record(Channel.SMS))
    second = conversations.put(
        conversation_record(Channel.SMS, project_id="pi-demo-002", company_address="+447700900003")
    )
    events = events_processor()

    events.deliver(
        twilio_inbound(channel=Channel.SMS, body="to project one"),
        twilio_inbound(COMPANY, "pi-demo-002", channel=Channel.SMS, to="+447700900003", body="to two"),
    )

    assert [e.content for e in _users(conversations.get(first))] == ["to project one"]
    assert [e.content for e in _users(conversations.get(second))] == ["to two"]
    jobs = {job.project_id: job for job, _ in _jobs(reply_jobs, Channel.SMS)}
    assert jobs["pi-demo-002"].conversation_id == second.conversation_id
    assert jobs["pi-demo-002"].project.channel_config.sender_address == "+447700900003"
    assert jobs[PROJECT].conversation_id == first.conversation_id


def test_another_tenants_url_never_reaches_a_conversation(events, conversations, reply_jobs):
    record = conversations.put(conversation_record(Channel.WHATSAPP))

    # The same numbers, through another project's and another company's verified URL.
    events.deliver(twilio_inbound(COMPANY, "pi-other-009"), twilio_inbound("ci-other-009", PROJECT))

    assert conversations.get(record) == record
    assert {item["reason"] for item in events.unmatched()} == {"no_open_conversation"}
    assert len(events.unmatched()) == 2
    assert reply_jobs(Channel.WHATSAPP) == []


# -- email -------------------------------------------------------------------------------------------
def test_an_email_reply_is_matched_by_the_token_of_its_reply_to_address(events, conversations, reply_jobs):
    token = new_reply_token()
    record = conversations.put(conversation_record(Channel.EMAIL, reply_token=token))
    # A second open thread with the same person and company address: only the token tells them apart.
    other = conversations.put(conversation_record(Channel.EMAIL, created_at="2026-11-26T02:00:00.000Z"))
    event = sendgrid_inbound(
        to=f"Cucumber <{reply_address(token, REPLY_DOMAIN)}>",
        text="March is fine.\n\nOn Wed, 25 Nov 2026 at 09:00, Carol <talent@x.example> wrote:\n> Hello Alex\n",
        attachments={"cv.pdf": "application/pdf"},
    )

    events.deliver(event)

    after = conversations.get(record)
    [entry] = _users(after)
    assert (entry.content, entry.subject, entry.email_message_id) == (
        "March is fine.",
        "Re: Your application",
        "<CAF-reply-1@mail.example.com>",
    )
    assert (entry.message_id, entry.timestamp) == ("<CAF-reply-1@mail.example.com>", "2026-11-26T03:10:00.000Z")
    assert (entry.media_count, entry.media_types) == (1, ["application/pdf"])
    assert after.email_references == ["<CAF-reply-1@mail.example.com>"]
    assert conversations.get(other).inbound_count == 0
    [(job, _)] = _jobs(reply_jobs, Channel.EMAIL)
    assert job.conversation_id == record.conversation_id
    assert job.project.channel_config.sender_address == COMPANY_EMAIL


def test_an_email_whose_client_dropped_the_reply_to_is_matched_by_in_reply_to(events, conversations):
    token = new_reply_token()
    record = conversations.put(conversation_record(Channel.EMAIL, reply_token=token))

    events.deliver(
        sendgrid_inbound(
            to="someone-else@cucumber-recruitment.example",
            in_reply_to=message_id(token, 0, REPLY_DOMAIN),
            references=f"<older@mail.example.com> {message_id(token, 0, REPLY_DOMAIN)}",
        )
    )

    assert conversations.get(record).inbound_count == 1
    assert events.unmatched() == []


def test_an_email_to_a_record_without_a_token_is_matched_by_company_and_person_address(events, conversations):
    record = conversations.put(conversation_record(Channel.EMAIL))

    events.deliver(sendgrid_inbound(sender="Alex <Alex.Morgan@Example.com>", to=COMPANY_EMAIL.upper()))

    after = conversations.get(record)
    assert after.inbound_count == 1 and after.conversation_status == "reply_received"


def test_an_email_token_of_another_tenant_matches_nothing(events, conversations, reply_jobs):
    token = new_reply_token()
    record = conversations.put(conversation_record(Channel.EMAIL, company_id="ci-other-009", reply_token=token))

    events.deliver(sendgrid_inbound(to=reply_address(token, REPLY_DOMAIN)))

    assert conversations.get(record) == record
    assert [item["reason"] for item in events.unmatched()] == ["no_open_conversation"]
    assert reply_jobs(Channel.EMAIL) == []


# -- once, in order -----------------------------------------------------------------------------------
def test_a_repeated_webhook_is_recorded_once_and_queued_again_only_while_unanswered(
    events, conversations, reply_jobs, aws, capsys
):
    record = conversations.put(conversation_record(Channel.WHATSAPP))
    event = twilio_inbound()

    events.deliver(event, event, event)

    after = conversations.get(record)
    assert (len(_users(after)), after.inbound_count, after.version) == (1, 1, record.version + 1)
    jobs = _jobs(reply_jobs, Channel.WHATSAPP)
    assert [job.inbound_seq for job, _ in jobs] == [1, 1, 1]  # a turn answers each seq once however often named
    out = capsys.readouterr().out
    assert (metric_total(out, "InboundMessagesRecorded"), metric_total(out, "InboundMessagesDuplicate")) == (1, 2)

    # A turn answered it: a later repeat of the webhook queues nothing.
    aws.client("dynamodb").update_item(
        TableName=aws.table_name(tables.CONVERSATIONS.logical_name),
        Key={"primary_channel": {"S": record.primary_channel}, "conversation_id": {"S": record.conversation_id}},
        UpdateExpression="SET answered_through = :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
    )
    events.deliver(event)
    assert reply_jobs(Channel.WHATSAPP) == []
    assert len(_users(conversations.get(record))) == 1


def test_messages_racing_for_one_thread_each_get_their_own_place(aws, conversations):
    record = conversations.put(conversation_record(Channel.SMS))
    client = aws.client("dynamodb")
    table = aws.table_name(tables.CONVERSATIONS.logical_name)
    records = InboundRecords(client, table, ConversationRepository(client, table), retention_days=RETENTION_DAYS)
    messages = [parse_inbound(twilio_inbound(channel=Channel.SMS, body=f"message {n}")) for n in range(6)]

    # Every writer starts from the same stale read: all but one lose the optimistic count and retry.
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda m: records.record(record, m, at="2026-11-26T03:00:00.000Z"), messages))

    assert {r.outcome for r in results} == {Recording.RECORDED}
    assert sorted(r.seq for r in results) == [1, 2, 3, 4, 5, 6]
    after = conversations.get(record)
    users = _users(after)
    assert [e.inbound_seq for e in users] == [1, 2, 3, 4, 5, 6]
    by_id = {r.record.inbound_message_ids[r.seq - 1]: r.seq for r in results}
    assert {e.message_id: e.inbound_seq for e in users} == by_id
    assert after.inbound_count == 6 and after.version == record.version


def test_two_messages_in_one_batch_take_seqs_one_and_two(events, conversations, reply_jobs):
    record = conversations.put(conversation_record(Channel.WHATSAPP))

    events.deliver(twilio_inbound(body="first"), twilio_inbound(body="second"))

    after = conversations.get(record)
    assert [(e.content, e.inbound_seq) for e in _users(after)] == [("first", 1), ("second", 2)]
    assert sorted(job.inbound_seq for job, _ in _jobs(reply_jobs, Channel.WHATSAPP)) == [1, 2]


# -- the status and the turn's claim ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "moves"),
    [
        ("initial_message_sent", True),
        ("reply_sent", True),
        ("reply_not_sent", True),
        ("reply_received", False),
        ("reply_unconfirmed", False),
        ("needs_human", False),
        ("reply_processing", False),
        ("reply_generated", False),
        ("reply_sending", False),
    ],
)
def test_only_an_idle_thread_moves_to_reply_received(events, conversations, status, moves):
    record = conversations.put(conversation_record(Channel.SMS, status=status))

    events.deliver(twilio_inbound(channel=Channel.SMS))

    after = conversations.get(record)
    assert after.inbound_count == 1
    if moves:
        assert (after.conversation_status, after.version) == ("reply_received", record.version + 1)
        assert after.written_by.startswith("inbound:")
    else:
        assert (after.conversation_status, after.version, after.written_by, after.updated_at) == (
            status,
            record.version,
            record.written_by,
            record.updated_at,
        )


def test_a_turn_in_flight_keeps_its_claim_and_the_new_message_waits_for_the_next_turn(
    events, conversations, reply_jobs
):
    record = conversations.put(
        conversation_record(
            Channel.WHATSAPP,
            status="reply_sending",
            version=7,
            inbound_count=1,
            inbound_message_ids=["SMearlier"],
            reply_through=1,
        )
    )

    events.deliver(twilio_inbound(body="one more thing"))

    after = conversations.get(record)
    assert (after.conversation_status, after.version, after.written_by, after.reply_through) == (
        "reply_sending",
        7,
        record.written_by,
        1,
    )
    assert (after.inbound_count, _users(after)[-1].inbound_seq) == (2, 2)
    [(job, _)] = _jobs(reply_jobs, Channel.WHATSAPP)
    assert job.inbound_seq == 2


# -- failures -----------------------------------------------------------------------------------------
def test_a_crash_between_recording_and_queuing_is_healed_by_the_redelivery(
    events_processor, project, conversations, reply_jobs, aws, capsys
):
    project()
    record = conversations.put(conversation_record(Channel.SMS))
    missing = aws.queues[Channel.SMS].queue_url + "-gone"
    broken = events_processor(SMS_QUEUE_URL=missing)  # SQS refuses the job on the first receive
    event = twilio_inbound(channel=Channel.SMS)

    first = broken.deliver(event)

    assert first.failed == first.received  # the event comes back
    assert conversations.get(record).inbound_count == 1
    assert reply_jobs(Channel.SMS) == []

    healed = events_processor()
    [result] = healed.drain()
    assert result.deleted == result.received
    [(job, _)] = _jobs(reply_jobs, Channel.SMS)
    assert job.inbound_seq == 1
    assert len(_users(conversations.get(record))) == 1
    out = capsys.readouterr().out
    assert (metric_total(out, "InboundMessagesRecorded"), metric_total(out, "InboundMessagesDuplicate")) == (1, 1)


def test_a_project_that_is_gone_leaves_the_message_recorded_and_queues_nothing(
    events_processor, conversations, reply_jobs, capsys
):
    record = conversations.put(conversation_record(Channel.SMS))  # no company record stored

    result = events_processor().deliver(twilio_inbound(channel=Channel.SMS))

    assert result.deleted == result.received  # not retried forever
    assert conversations.get(record).inbound_count == 1
    assert reply_jobs(Channel.SMS) == []
    assert metric_total(capsys.readouterr().out, "ReplyJobsNotQueued") == 1


@pytest.mark.parametrize(
    "payload",
    [
        {"From": "+447700900123", "To": SMS_NUMBER, "Body": "no sid"},
        {"MessageSid": "SM1", "To": SMS_NUMBER, "Body": "no sender"},
        {"MessageSid": "SM1", "From": "not a number", "To": SMS_NUMBER},
    ],
)
def test_a_malformed_inbound_message_goes_to_the_dlq_at_once(events, conversations, payload):
    record = conversations.put(conversation_record(Channel.SMS))
    event = twilio_inbound(channel=Channel.SMS).model_copy(update={"payload": payload})

    result = events.deliver(event)

    assert result.deleted == result.received  # moved, not retried
    assert events.queue_depth(events.dlq_url) == 1
    assert conversations.get(record) == record


def test_a_record_written_before_replies_existed_takes_its_first_message(events, conversations, aws):
    record = conversations.put(conversation_record(Channel.SMS))
    aws.client("dynamodb").update_item(
        TableName=aws.table_name(tables.CONVERSATIONS.logical_name),
        Key={"primary_channel": {"S": record.primary_channel}, "conversation_id": {"S": record.conversation_id}},
        UpdateExpression="REMOVE inbound_message_ids, inbound_count, answered_through, email_references",
    )

    events.deliver(twilio_inbound(channel=Channel.SMS, sid="SMold"))

    after = conversations.get(record)
    assert (after.inbound_count, after.inbound_message_ids, _users(after)[0].inbound_seq) == (1, ["SMold"], 1)


@pytest.mark.parametrize(
    "failing",
    [
        ("UpdateItem", "inbound_message_ids"),  # recording the message
        ("GetItem", tables.COMPANY_DATA.logical_name),  # reading the project for the job
    ],
)
def test_dynamodb_down_retries_and_the_redelivery_records_once_and_queues_once(
    faulty_dynamodb, events_processor, project, conversations, reply_jobs, failing
):
    project()
    record = conversations.put(conversation_record(Channel.WHATSAPP))
    events = events_processor()
    faulty_dynamodb.failing = failing

    first = events.deliver(twilio_inbound())

    assert first.failed == first.received and faulty_dynamodb.failed >= 1
    assert reply_jobs(Channel.WHATSAPP) == []
    faulty_dynamodb.failing = None
    events.drain()
    after = conversations.get(record)
    assert (len(_users(after)), after.inbound_count, after.conversation_status) == (1, 1, "reply_received")
    assert [job.inbound_seq for job, _ in _jobs(reply_jobs, Channel.WHATSAPP)] == [1]


def test_matching_reads_by_index_and_key_only(faulty_dynamodb, events_processor, project, conversations):
    project()
    token = new_reply_token()
    conversations.put(conversation_record(Channel.WHATSAPP))
    conversations.put(conversation_record(Channel.EMAIL, reply_token=token))
    events = events_processor()

    events.deliver(
        twilio_inbound(),
        twilio_inbound(sender="+447700900555"),
        sendgrid_inbound(to=reply_address(token, REPLY_DOMAIN)),
        sendgrid_inbound(message_id="<two@mail.example.com>"),
    )

    calls = [(target.rpartition(".")[2], json.loads(body)) for target, body in faulty_dynamodb.requests]
    assert {name for name, _ in calls} <= {"Query", "GetItem", "UpdateItem", "PutItem"}
    queried = {body["IndexName"] for name, body in calls if name == "Query"}
    assert queried == {tables.WHATSAPP_REPLY_INDEX, tables.REPLY_TOKEN_INDEX, tables.EMAIL_REPLY_INDEX}
    assert all(body.get("ConsistentRead") for name, body in calls if name == "GetItem")


def test_a_crash_right_after_recording_leaves_the_thread_marked_on_redelivery(aws, events, conversations, reply_jobs):
    record = conversations.put(conversation_record(Channel.SMS))
    client = aws.client("dynamodb")
    table = aws.table_name(tables.CONVERSATIONS.logical_name)
    event = twilio_inbound(channel=Channel.SMS)
    # The first delivery recorded the message and died before anything else.
    InboundRecords(client, table, ConversationRepository(client, table), retention_days=RETENTION_DAYS).record(
        record, parse_inbound(event), at="2026-11-26T03:00:00.000Z"
    )
    assert conversations.get(record).conversation_status == "initial_message_sent"

    events.deliver(event)

    after = conversations.get(record)
    assert (after.conversation_status, after.inbound_count) == ("reply_received", 1)
    assert [job.inbound_seq for job, _ in _jobs(reply_jobs, Channel.SMS)] == [1]


def test_an_email_naming_no_recipient_is_kept_as_unmatched(events, conversations):
    conversations.put(conversation_record(Channel.EMAIL))
    event = sendgrid_inbound()
    payload = {k: v for k, v in event.payload.items() if k != "to"}
    payload |= {"envelope": "{}", "headers": "From: Alex <alex.morgan@example.com>\nSubject: Hi\n"}

    events.deliver(event.model_copy(update={"payload": payload}))

    assert [item["reason"] for item in events.unmatched()] == ["no_recipient"]
