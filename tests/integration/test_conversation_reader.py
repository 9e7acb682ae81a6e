"""GET /conversations/{conversation_id} through the real handler, against the emulator (moto)."""

from __future__ import annotations

import json

import pytest

from shared.channels import Channel
from shared.models.conversation import MessageEntry, TokenUsage
from shared.tables import COMPANY_DATA, CONVERSATIONS
from tests.fixtures.reader import ReaderHarness, conversation, encoded, load_reader_handler, reader_settings
from tests.fixtures.tenants import record_for_tenant
from tests.integration.conftest import API_KEY_ID, OTHER_API_KEY_ID

COMPANY, PROJECT = "ci-demo-001", "pi-demo-001"
REQUEST_ID = "3f8b2c1e-4d5a-4b6c-9e7f-0a1b2c3d4e5f"
OTHER_REQUEST_ID = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": "Retry-After"}


@pytest.fixture
def reader(aws, monkeypatch, company_record_example) -> ReaderHarness:
    """The example project bound to ``API_KEY_ID``; project pi-other-001 of the same company bound
    to ``OTHER_API_KEY_ID``."""
    for name, value in reader_settings(aws).to_environment().items():
        monkeypatch.setenv(name, value)
    module = load_reader_handler()
    module.reader_for.cache_clear()
    harness = ReaderHarness(aws=aws, module=module)
    harness.put_company({**company_record_example, "api_key_ids": [API_KEY_ID]})
    other = record_for_tenant(company_record_example, COMPANY, "pi-other-001")
    harness.put_company({**other, "api_key_ids": [OTHER_API_KEY_ID]})
    return harness


def _error(reply, status: int, code: str) -> None:
    assert (reply.status, reply.body["error_code"], reply.body["status"]) == (status, code, "error"), reply.body
    assert set(reply.body) == {"status", "error_code", "message", "request_id"}
    assert {name: reply.headers.get(name) for name in CORS} == CORS


def _full_record(channel: Channel = Channel.WHATSAPP):
    """A record with every internal field set to a value that must never leave the engine."""
    return conversation(
        COMPANY,
        PROJECT,
        REQUEST_ID,
        channel=channel,
        status="reply_sent",
        task_complete=1,
        version=7,
        written_by="delivery-SECRET-WRITER",
        recipient_first_name="Ada",
        recipient_last_name="Lovelace",
        project_data={"job": "INTERNAL-PROJECT-DATA"},
        company_sender="+447700900001",
        ai_response_id="resp_SECRET_AI_RESPONSE",
        reply_response_id="resp_SECRET_REPLY_RESPONSE",
        ai_content={"text": "SECRET-AI-CONTENT"},
        reply_content={"text": "SECRET-REPLY-CONTENT"},
        ai_usage=TokenUsage(prompt_tokens=11, completion_tokens=12, total_tokens=23),
        last_error="Twilio said SECRET-INTERNAL-ERROR",
        failure_reason="SECRET-FAILURE-REASON",
        gsi_company_whatsapp_number="+447700900001",
        gsi_recipient_tel="+447700900123",
        gsi_reply_token="SECRET-REPLY-TOKEN",
        provider_message_id="SM-first",
        sent_at="2026-11-24T09:30:20.000Z",
        delivery_status="read",
        delivery_rank=4,
        delivery_updated_at="2026-11-24T09:31:00.000Z",
        delivery_error_reason="SECRET-DELIVERY-ERROR",
        last_inbound_at="2026-11-24T10:00:00.000Z",
        last_reply_at="2026-11-24T10:00:05.000Z",
        inbound_message_ids=["SM-in-1"],
        inbound_count=1,
        answered_through=1,
        email_references=["<SECRET-REFERENCE@example>"],
        processor_version="SECRET-PROCESSOR-VERSION",
        messages=[
            MessageEntry(
                message_id="SM-first", timestamp="2026-11-24T09:30:20.000Z", role="assistant", content="Hi Ada"
            ),
            MessageEntry(
                message_id="SM-in-1",
                timestamp="2026-11-24T10:00:00.000Z",
                role="user",
                content="Tell me more",
                inbound_seq=1,
                media_count=1,
                media_types=["image/SECRET-MEDIA-TYPE"],
            ),
            MessageEntry(
                message_id="SM-reply-1",
                timestamp="2026-11-24T10:00:05.000Z",
                role="assistant",
                content="Here it is",
                answers_through=1,
                prompt_tokens=99,
            ),
        ],
    )


def test_a_conversation_is_answered_with_its_status_history_and_recipient_and_nothing_internal(reader):
    record = _full_record()
    reader.put(record)

    reply = reader.get_conversation(encoded(record.conversation_id), api_key_id=API_KEY_ID)

    assert reply.status == 200, reply.body
    assert {name: reply.headers.get(name) for name in CORS} == CORS
    assert reply.body == {
        "conversation_id": f"{COMPANY}#{PROJECT}#{REQUEST_ID}#447700900001",
        "company_id": COMPANY,
        "project_id": PROJECT,
        "request_id": REQUEST_ID,
        "channel": "whatsapp",
        "conversation_status": "reply_sent",
        "delivery_status": "read",
        "task_complete": True,
        "created_at": "2026-11-24T09:30:15.000Z",
        "updated_at": "2026-11-24T09:30:15.000Z",
        "scheduled_for": None,
        "recipient": {"first_name": "Ada", "last_name": "Lovelace", "tel": "+447700900123", "email": None},
        "sent_at": "2026-11-24T09:30:20.000Z",
        "delivery_updated_at": "2026-11-24T09:31:00.000Z",
        "last_inbound_at": "2026-11-24T10:00:00.000Z",
        "last_reply_at": "2026-11-24T10:00:05.000Z",
        "suppression_reason": None,
        "handoff_reason": None,
        "messages": [
            _message("outbound", "SM-first", "2026-11-24T09:30:20.000Z", "Hi Ada"),
            _message("inbound", "SM-in-1", "2026-11-24T10:00:00.000Z", "Tell me more", inbound_seq=1, media_count=1),
            _message("outbound", "SM-reply-1", "2026-11-24T10:00:05.000Z", "Here it is", answers_through=1),
        ],
    }
    assert "SECRET" not in json.dumps(reply.body)


def _message(direction: str, message_id: str, timestamp: str, content: str, **fields) -> dict:
    return {
        "direction": direction,
        "message_id": message_id,
        "timestamp": timestamp,
        "content": content,
        "subject": None,
        "inbound_seq": None,
        "answers_through": None,
        "media_count": None,
        "consent_keyword": None,
        **fields,
    }


@pytest.mark.parametrize(
    ("channel", "path_value"),
    [
        (Channel.WHATSAPP, f"{COMPANY}%23{PROJECT}%23{REQUEST_ID}%23447700900001"),
        (Channel.SMS, f"{COMPANY}%23{PROJECT}%23{REQUEST_ID}%23447700900002"),
        (Channel.EMAIL, f"{COMPANY}%23{PROJECT}%23{REQUEST_ID}%23talent%40cucumber-recruitment.example"),
        # '@' needs no encoding in a path; lower-case escapes and an upper-case request id are the same id.
        (Channel.EMAIL, f"{COMPANY}%23{PROJECT}%23{REQUEST_ID.upper()}%23talent@cucumber-recruitment.example"),
    ],
)
def test_each_channels_id_is_found_from_its_url_encoded_form(reader, channel, path_value):
    record = conversation(COMPANY, PROJECT, REQUEST_ID, channel=channel)
    reader.put(record, conversation(COMPANY, PROJECT, OTHER_REQUEST_ID, channel=channel))

    reply = reader.get_conversation(path_value, api_key_id=API_KEY_ID)

    assert reply.status == 200, reply.body
    assert (reply.body["conversation_id"], reply.body["channel"]) == (record.conversation_id, channel.value)


@pytest.mark.parametrize(
    "path_value",
    [
        f"{COMPANY}#{PROJECT}",  # too few parts
        f"{COMPANY}%23{PROJECT}%23{REQUEST_ID}",
        f"{COMPANY}%23{PROJECT}%23{REQUEST_ID}%23447700900001%23extra",
        f"{COMPANY}%23{PROJECT}%23not-a-uuid%23447700900001",
        f"{COMPANY}%23{PROJECT}%23{REQUEST_ID}%23%2B447700900001",  # the sender never carries '+'
        f"{COMPANY}%23{PROJECT}%23{REQUEST_ID}%23not-a-sender",
        f"co%20mpany%23{PROJECT}%23{REQUEST_ID}%23447700900001",
        f"{COMPANY}%2523{PROJECT}%2523{REQUEST_ID}%2523447700900001",  # encoded twice: decoded once only
        f"{COMPANY}%23{PROJECT}%23{REQUEST_ID}%23447700900001%",  # a broken escape
        f"{COMPANY}%23{PROJECT}%23{REQUEST_ID}%23%FF%FE",  # not UTF-8
        "x" * 600,
    ],
)
def test_a_malformed_id_is_refused_before_anything_is_read(reader, path_value):
    reader.watch_calls()
    reply = reader.get_conversation(path_value, api_key_id=API_KEY_ID)
    _error(reply, 400, "INVALID_CONVERSATION_ID")
    assert reader.calls == []


def test_an_unknown_id_and_an_unknown_project_get_404s(reader):
    reader.put(conversation(COMPANY, PROJECT, REQUEST_ID))

    _error(
        reader.get_conversation(encoded(f"{COMPANY}#{PROJECT}#{OTHER_REQUEST_ID}#447700900001"), api_key_id=API_KEY_ID),
        404,
        "CONVERSATION_NOT_FOUND",
    )
    _error(
        reader.get_conversation(encoded(f"{COMPANY}#pi-nobody-001#{REQUEST_ID}#447700900001"), api_key_id=API_KEY_ID),
        404,
        "COMPANY_NOT_FOUND",
    )


def test_another_projects_key_gets_403_and_the_conversation_is_never_read(reader):
    record = _full_record()
    reader.put(record)
    reader.watch_calls()

    reply = reader.get_conversation(encoded(record.conversation_id), api_key_id=OTHER_API_KEY_ID)

    _error(reply, 403, "API_KEY_NOT_AUTHORIZED")
    conversations = reader.aws.table_name(CONVERSATIONS.logical_name)
    assert reader.calls == [("GetItem", reader.aws.table_name(COMPANY_DATA.logical_name))]
    assert all(table != conversations for _, table in reader.calls)
    _error(reader.get_conversation(encoded(record.conversation_id), api_key_id=None), 403, "API_KEY_NOT_AUTHORIZED")


def test_an_id_naming_a_project_the_key_may_read_never_reaches_another_projects_record(reader):
    """The id's company/project decide the access check; the record found must be theirs too."""
    theirs = conversation(COMPANY, "pi-other-001", REQUEST_ID)
    reader.put(theirs)
    # The same request id and sender under the caller's own project: no such conversation.
    ours = encoded(f"{COMPANY}#{PROJECT}#{REQUEST_ID}#447700900001")
    _error(reader.get_conversation(ours, api_key_id=API_KEY_ID), 404, "CONVERSATION_NOT_FOUND")


def test_a_record_whose_own_project_differs_from_its_id_is_not_shown(reader):
    """Defence in depth: the index finds records by id alone; the record's fields must agree."""
    forged = conversation(COMPANY, "pi-other-001", REQUEST_ID).model_copy(
        update={"conversation_id": f"{COMPANY}#{PROJECT}#{REQUEST_ID}#447700900001"}
    )
    reader.put(forged)
    reply = reader.get_conversation(encoded(forged.conversation_id), api_key_id=API_KEY_ID)
    _error(reply, 404, "CONVERSATION_NOT_FOUND")


def test_an_inactive_project_may_still_read_its_conversations(reader, company_record_example):
    reader.put_company({**company_record_example, "project_status": "inactive", "api_key_ids": [API_KEY_ID]})
    record = conversation(COMPANY, PROJECT, REQUEST_ID)
    reader.put(record)
    assert reader.get_conversation(encoded(record.conversation_id), api_key_id=API_KEY_ID).status == 200


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_other_methods_get_405_with_allow(reader, method):
    reply = reader.get_conversation(
        encoded(f"{COMPANY}#{PROJECT}#{REQUEST_ID}#447700900001"), api_key_id=API_KEY_ID, method=method
    )
    _error(reply, 405, "METHOD_NOT_ALLOWED")
    assert reply.headers["Allow"] == "GET, OPTIONS"


def test_a_database_failure_is_a_500_database_error_without_detail(reader, monkeypatch):
    record = conversation(COMPANY, PROJECT, REQUEST_ID)
    reader.put(record)
    reader.aws.client("dynamodb").delete_table(TableName=reader.aws.table_name(CONVERSATIONS.logical_name))

    reply = reader.get_conversation(encoded(record.conversation_id), api_key_id=API_KEY_ID)

    _error(reply, 500, "DATABASE_ERROR")
    assert "ResourceNotFound" not in reply.body["message"]
