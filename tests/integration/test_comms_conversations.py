"""``comms conversations show|list`` against the emulator (the ``--env local`` path): what the table
holds, as an operator reads it — statuses, why it failed, the thread in the order recorded — with the
person's address masked everywhere, through the indexes the read API uses."""

from __future__ import annotations

import uuid
from urllib.parse import quote

import pytest

from shared.channels import Channel
from shared.models.conversation import ConversationRecord, MessageEntry
from tests.fixtures.conversation_output import shown_fields, thread_heads
from tests.fixtures.reader import SENDERS, conversation, minute_apart, put_conversations
from tests.integration.reply_setup import (
    answer,
    company_record_example,  # noqa: F401 - the fixture override: the project answers replies
    first_message_sent,
)

COMPANY, PROJECT = "ci-demo-001", "pi-demo-001"
# The people's addresses as they could leak: never printed whole.
UNMASKED = ("7700900123", "7700900124", "ada@example.com", "alex.morgan")


def _assert_masked(*outputs: str) -> None:
    for output in outputs:
        assert not [address for address in UNMASKED if address in output], output


def _records(count: int, project: str = PROJECT) -> list[ConversationRecord]:
    return minute_apart(COMPANY, project, count)


def _rows(done) -> list[list[str]]:
    """The table's rows (after its header), split into cells."""
    return [line.split() for line in done.stdout.splitlines()[1:]]


# -- show ----------------------------------------------------------------------------------------------


def test_show_prints_a_sent_whatsapp_conversation_and_the_reply_to_the_person_in_order(
    aws, comms, processor_for, context_message, sandbox
):
    processor = processor_for(Channel.WHATSAPP)
    message = context_message(Channel.WHATSAPP)
    first_message_sent(processor, message)
    seq = processor.record_inbound(message, "Is the role full time? Call me on +447700900123")
    sandbox.openai.script(answer("Yes, it is full time."))
    processor.deliver_job(processor.reply_job(message, seq))
    record = processor.record(message)
    assert record["conversation_status"] == "reply_sent"

    text = comms("conversations", "show", message.conversation_id)
    as_json = comms("conversations", "show", message.conversation_id, "--json", "--full")

    assert text.code == as_json.code == 0, text.stderr
    fields = shown_fields(text)
    assert fields["conversation"] == message.conversation_id
    assert (fields["channel"], fields["status"], fields["recipient"]) == ("whatsapp", "reply_sent", "+44********23")
    assert fields["sender"] == "+447700900001" and fields["created"] == record["created_at"]
    ids = [entry["message_id"] for entry in record["messages"]]
    # The record follows the delivery of its latest message only; the first one was sent.
    assert thread_heads(text) == [
        ("outbound", "sent", ids[0]),
        ("inbound", "received", ids[1]),
        ("outbound", record["delivery_status"], ids[2]),
    ]
    assert "      Yes, it is full time." in text.stdout
    assert "Call me on +44********23" in text.stdout  # the number the person wrote is masked too
    view = as_json.json()
    assert (view["conversation_status"], view["recipient"], view["answered_through"]) == (
        "reply_sent",
        "+44********23",
        1,
    )
    assert [m["direction"] for m in view["messages"]] == ["outbound", "inbound", "outbound"]
    assert [m["provider_message_id"] for m in view["messages"]] == [m["message_id"] for m in record["messages"]]
    assert view["messages"][2]["answers_through"] == 1 and view["messages"][2]["total_tokens"] > 0
    _assert_masked(text.stdout, as_json.stdout)


def test_show_finds_the_id_as_typed_or_url_encoded_and_reads_the_record_consistently(aws, comms):
    record = conversation(COMPANY, PROJECT, str(uuid.uuid4()), channel=Channel.EMAIL, delivery_status="delivered")
    put_conversations(aws, record)

    typed = comms("conversations", "show", record.conversation_id, "--json")
    encoded = comms("conversations", "show", quote(record.conversation_id, safe=""), "--json")

    assert typed.code == encoded.code == 0, typed.stderr
    assert typed.json() == encoded.json()
    assert typed.json()["recipient"] == "a***@e***.com" and typed.json()["delivery_status"] == "delivered"
    _assert_masked(typed.stdout)


def test_show_says_why_it_failed_with_the_providers_error_and_no_address(aws, comms):
    record = conversation(
        COMPANY, PROJECT, str(uuid.uuid4()), channel=Channel.SMS, status="failed_to_send_message",
        failure_reason="Twilio refused the number +447700900124: error 21211", last_error="Twilio refused (21211)",
        delivery_status="undelivered", delivery_error_code="30003", delivery_error_reason="Unreachable handset",
    )  # fmt: skip
    put_conversations(aws, record)

    done = comms("conversations", "show", record.conversation_id)

    assert done.code == 0, done.stderr
    fields = shown_fields(done)
    assert fields["status"] == "failed_to_send_message" and fields["delivery"] == "undelivered"
    assert fields["failure"] == "Twilio refused the number +44********24: error 21211"
    assert fields["last error"] == "Twilio refused (21211)"
    assert fields["delivery error"] == "30003 Unreachable handset"
    assert "Thread (0 messages, as recorded):" in done.stdout
    _assert_masked(done.stdout)


def test_the_thread_is_in_the_order_recorded_with_tokens_media_and_what_each_reply_answers(aws, comms):
    # The person's second message carries an earlier time than the first (a provider's clock may
    # run behind): the recorded order wins.
    messages = [
        MessageEntry(message_id="SMfirst", timestamp="2026-11-26T09:00:00Z", role="assistant", content='{"1": "Alex"}',
                     prompt_tokens=120, completion_tokens=30, total_tokens=150),
        MessageEntry(message_id="SMperson1", timestamp="2026-11-26T09:03:00Z", role="user", content="Yes, I drive.",
                     inbound_seq=1),
        MessageEntry(message_id="SMperson2", timestamp="2026-11-26T09:02:59Z", role="user",
                     content="Here is my licence", inbound_seq=2, media_count=1, media_types=["image/jpeg"]),
        MessageEntry(message_id="SMreply", timestamp="2026-11-26T09:05:00Z", role="assistant",
                     content="Thanks Alex, noted.\nAnything else?", prompt_tokens=200, completion_tokens=12,
                     total_tokens=212, answers_through=2),
        MessageEntry(message_id="SMstop", timestamp="2026-11-26T09:06:00Z", role="user", content="STOP",
                     inbound_seq=3, consent_keyword="opt_out"),
    ]  # fmt: skip
    record = conversation(
        COMPANY, PROJECT, str(uuid.uuid4()), status="suppressed", messages=messages, inbound_count=3,
        answered_through=2, ai_turns=1, provider_message_id="SMreply", delivery_status="read",
        suppression_reason="stop_keyword",
    )  # fmt: skip
    put_conversations(aws, record)

    done = comms("conversations", "show", record.conversation_id, "--full")
    as_json = comms("conversations", "show", record.conversation_id, "--json")

    assert done.code == as_json.code == 0, done.stderr
    view = as_json.json()
    assert view["messages"][2]["media_types"] == ["image/jpeg"] and view["inbound_count"] == 3
    lines = done.stdout.splitlines()
    heads = [line for line in lines if line.startswith("  2026-11-26")]
    assert thread_heads(done) == [
        ("outbound", "sent", "SMfirst"),
        ("inbound", "received", "SMperson1"),
        ("inbound", "received", "SMperson2"),
        ("outbound", "read", "SMreply"),  # the latest message the engine sent: its delivery status
        ("inbound", "received", "SMstop"),
    ]
    assert "tokens 150 (120 in, 30 out)" in heads[0]
    assert "inbound #1" in heads[1] and "inbound #2" in heads[2] and "media 1 image/jpeg" in heads[2]
    assert "answers through #2" in heads[3] and "tokens 212 (200 in, 12 out)" in heads[3]
    assert "keyword opt_out" in heads[4]
    reply_at = lines.index(heads[3])
    assert lines[reply_at + 1 : reply_at + 3] == ["      Thanks Alex, noted.", "      Anything else?"]
    assert (shown_fields(done)["suppressed"], shown_fields(done)["AI turns"]) == ("stop_keyword", "1")


def test_without_full_each_message_is_its_first_characters_on_one_line(aws, comms):
    long_text = "Hello Alex,\n" + "the role is in Leeds. " * 20
    record = conversation(
        COMPANY, PROJECT, str(uuid.uuid4()),
        messages=[MessageEntry(message_id="SM1", timestamp="2026-11-26T09:00Z", role="assistant", content=long_text)],
    )  # fmt: skip
    put_conversations(aws, record)

    short = comms("conversations", "show", record.conversation_id)
    short_json = comms("conversations", "show", record.conversation_id, "--json")
    full_json = comms("conversations", "show", record.conversation_id, "--json", "--full")

    [content_line] = [line for line in short.stdout.splitlines() if line.startswith("      Hello")]
    assert content_line.startswith("      Hello Alex, the role is in Leeds.") and content_line.endswith("…")
    assert len(content_line.strip()) == 80
    assert len(short_json.json()["messages"][0]["content"]) == 80
    assert full_json.json()["messages"][0]["content"] == long_text


def test_an_unknown_conversation_is_not_found(aws, comms):
    put_conversations(aws, *_records(2))
    unknown = f"{COMPANY}#{PROJECT}#{uuid.uuid4()}#{SENDERS[Channel.WHATSAPP]}"
    # An existing conversation named under another project is not found either.
    existing = _records(1)[0].conversation_id.replace(f"#{PROJECT}#", "#pi-other-001#")

    for conversation_id in (unknown, existing):
        done = comms("conversations", "show", conversation_id)
        assert done.code == 1, done.stderr
        assert done.stderr.startswith("error: no conversation ") and done.stdout == ""


@pytest.mark.parametrize(
    ("conversation_id", "message"),
    [
        ("not-an-id", "The conversation id must be"),
        (f"{COMPANY}#{PROJECT}#not-a-uuid#447700900001", "request_id must be a UUID v4"),
        (f"{COMPANY}#{PROJECT}#{uuid.UUID(int=1, version=4)}#+447700900001", "sender must be"),
        (f"ci%demo#{PROJECT}#{uuid.UUID(int=1, version=4)}#447700900001", "The conversation id must be"),
    ],
)
def test_a_malformed_id_is_refused_before_any_read(aws, comms, conversation_id, message):
    done = comms("conversations", "show", conversation_id)

    assert done.code == 2
    assert message in done.stderr and "Traceback" not in done.stderr


# -- list ----------------------------------------------------------------------------------------------


def test_list_shows_a_projects_conversations_newest_first_with_masked_recipients(aws, comms):
    records = _records(5)
    put_conversations(aws, *records, *_records(3, project="pi-other-001"))

    done = comms("conversations", "list", "--company-id", COMPANY, "--project-id", PROJECT)
    as_json = comms("conversations", "list", "--company-id", COMPANY, "--project-id", PROJECT, "--json")

    assert done.code == as_json.code == 0, done.stderr
    header = done.stdout.splitlines()[0].split()
    assert header == ["CREATED_AT", "CONVERSATION_ID", "CHANNEL", "CONVERSATION_STATUS", "DELIVERY_STATUS", "RECIPIENT"]
    newest_first = records[::-1]
    assert [row[1] for row in _rows(done)] == [record.conversation_id for record in newest_first]
    assert _rows(done)[0] == [
        newest_first[0].created_at, newest_first[0].conversation_id, "sms", "reply_sent", "-", "+44********24"
    ]  # fmt: skip
    assert {row[-1] for row in _rows(done)} == {"+44********23", "+44********24", "a***@e***.com"}
    assert [row["conversation_id"] for row in as_json.json()] == [record.conversation_id for record in newest_first]
    assert as_json.json()[2]["recipient"] == "a***@e***.com"
    assert done.stderr == ""  # nothing more to say: the project has no more
    _assert_masked(done.stdout, as_json.stdout)


def test_list_reads_page_after_page_up_to_the_limit(aws, comms):
    records = _records(130)
    put_conversations(aws, *records)
    newest_first = [record.conversation_id for record in records[::-1]]

    first = comms("conversations", "list", "--company-id", COMPANY, "--project-id", PROJECT, "--limit", "120")
    every = comms("conversations", "list", "--company-id", COMPANY, "--project-id", PROJECT, "--limit", "1000")

    assert first.code == every.code == 0, first.stderr
    assert [row[1] for row in _rows(first)] == newest_first[:120]  # more than one page of the index
    assert f"more may match: raise --limit, or pass --until {records[10].created_at}" in first.stderr
    assert [row[1] for row in _rows(every)] == newest_first
    assert every.stderr == ""
    # The hint's --until starts exactly where the first screen ended.
    rest = comms(
        "conversations", "list", "--company-id", COMPANY, "--project-id", PROJECT, "--until", records[10].created_at
    )
    assert [row[1] for row in _rows(rest)] == newest_first[120:]


def test_list_filters_by_status_across_pages_and_by_time(aws, comms):
    records = _records(30)
    put_conversations(aws, *records)
    failed = [r.conversation_id for r in records[::-1] if r.conversation_status == "failed_to_send_message"]
    list_ = ("conversations", "list", "--company-id", COMPANY, "--project-id", PROJECT)

    # Two of ten match: DynamoDB filters after its page limit, so this takes several pages.
    two_failed = comms(*list_, "--status", "failed_to_send_message", "--limit", "2")
    sent_or_failed = comms(*list_, "--status", "failed_to_send_message,initial_message_sent", "--json")
    window = comms(*list_, "--since", records[3].created_at, "--until", records[6].created_at, "--json")

    assert two_failed.code == sent_or_failed.code == window.code == 0, two_failed.stderr
    assert [row[1] for row in _rows(two_failed)] == failed[:2]
    assert {row["conversation_status"] for row in sent_or_failed.json()} == {
        "failed_to_send_message",
        "initial_message_sent",
    }
    assert len(sent_or_failed.json()) == 20
    # --since is inclusive, --until exclusive.
    assert [row["conversation_id"] for row in window.json()] == [r.conversation_id for r in records[5:2:-1]]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--status", "sent"], "Unknown status 'sent'; --status is a comma-separated list of"),
        (["--since", "yesterday"], "--since must be an ISO 8601 time with a zone"),
        (["--until", "2026-11-24T08:00:00"], "--until must be an ISO 8601 time with a zone"),
        (
            ["--since", "2026-11-24T10:00:00Z", "--until", "2026-11-24T09:00:00Z"],
            "--since must be earlier than --until",
        ),
        (["--limit", "0"], "--limit must be from 1 to 1000"),
        (["--limit", "many"], "invalid int value"),
        (["--company-id", "ci#demo"], "argument --company-id: 'ci#demo' is not an id"),
    ],
)
def test_list_refuses_bad_input_with_the_flag_named(aws, comms, arguments, message):
    put_conversations(aws, *_records(2))
    defaults = {"--company-id": COMPANY, "--project-id": PROJECT}
    given = dict(zip(arguments[::2], arguments[1::2], strict=True))
    flags = [part for name, value in ({**defaults, **given}).items() for part in (name, value)]

    done = comms("conversations", "list", *flags)

    assert done.code == 2
    assert message in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""


def test_a_project_without_conversations_lists_none(aws, comms):
    done = comms("conversations", "list", "--company-id", COMPANY, "--project-id", PROJECT)

    assert done.code == 0
    assert done.stdout.splitlines()[1:] == ["(none)"]
