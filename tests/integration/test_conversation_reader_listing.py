"""GET /conversations through the real handler, against the emulator (moto)."""

from __future__ import annotations

import base64
import json
import logging
import uuid
from datetime import timedelta

import pytest

from shared.models.conversation import ConversationRecord
from shared.processing.times import iso
from shared.tables import COMPANY_DATA
from tests.fixtures.reader import (
    MINUTE_APART_START,
    ReaderHarness,
    conversation,
    load_reader_handler,
    minute_apart,
    reader_settings,
)
from tests.fixtures.tenants import record_for_tenant
from tests.integration.conftest import API_KEY_ID, OTHER_API_KEY_ID

COMPANY, PROJECT, OTHER_PROJECT = "ci-demo-001", "pi-demo-001", "pi-other-001"
SECOND_KEY_ID = "s3c0ndk3y1"  # another key bound to the same project
START = MINUTE_APART_START


@pytest.fixture
def reader(aws, monkeypatch, company_record_example) -> ReaderHarness:
    for name, value in reader_settings(aws).to_environment().items():
        monkeypatch.setenv(name, value)
    module = load_reader_handler()
    module.reader_for.cache_clear()
    harness = ReaderHarness(aws=aws, module=module)
    harness.put_company({**company_record_example, "api_key_ids": [API_KEY_ID, SECOND_KEY_ID]})
    other = record_for_tenant(company_record_example, COMPANY, OTHER_PROJECT)
    harness.put_company({**other, "api_key_ids": [OTHER_API_KEY_ID]})
    return harness


def _records(count: int, project: str = PROJECT) -> list[ConversationRecord]:
    return minute_apart(COMPANY, project, count)


def _query(**values: str) -> dict[str, str]:
    return {"company_id": COMPANY, "project_id": PROJECT, **values}


def _error(reply, status: int, code: str) -> None:
    assert (reply.status, reply.body["error_code"]) == (status, code), reply.body
    assert set(reply.body) == {"status", "error_code", "message", "request_id"}
    assert reply.headers["Access-Control-Allow-Origin"] == "*"


def _pages(reader, query: dict[str, str], api_key_id: str = API_KEY_ID) -> list[dict]:
    pages, token = [], None
    while True:
        reply = reader.list(query | ({"next_token": token} if token else {}), api_key_id=api_key_id)
        assert reply.status == 200, reply.body
        pages.append(reply.body)
        token = reply.body.get("next_token")
        if token is None:
            return pages


def test_sixty_conversations_page_through_newest_first_exactly_once_with_limit_7(reader):
    records = _records(60)
    reader.put(*records, *_records(5, OTHER_PROJECT))

    pages = _pages(reader, _query(limit="7"))

    listed = [row["conversation_id"] for page in pages for row in page["conversations"]]
    newest_first = [record.conversation_id for record in sorted(records, key=lambda r: r.created_at, reverse=True)]
    assert listed == newest_first
    assert all(len(page["conversations"]) <= 7 for page in pages)
    assert len(pages) in (9, 10)  # 8 full pages and 4 rows; an empty last page may follow the 60th row


def test_two_hundred_and_fifty_conversations_page_through_exactly_once_at_the_largest_limit(reader):
    records = _records(250)
    reader.put(*records)
    pages = _pages(reader, _query(limit="100"))
    listed = [row["conversation_id"] for page in pages for row in page["conversations"]]
    assert len(listed) == len(set(listed)) == 250
    assert set(listed) == {record.conversation_id for record in records}
    assert [len(page["conversations"]) for page in pages][:3] == [100, 100, 50]


def test_a_row_shows_the_listing_fields_only(reader):
    record = conversation(
        COMPANY,
        PROJECT,
        str(uuid.UUID(int=1, version=4)),
        status="reply_sent",
        delivery_status="delivered",
        task_complete=1,
        scheduled_for="2026-11-24T10:00:00.000Z",
        last_error="SECRET internal error",
        ai_response_id="resp_SECRET",
    )
    reader.put(record)

    (page,) = _pages(reader, _query())

    assert page == {
        "conversations": [
            {
                "conversation_id": record.conversation_id,
                "company_id": COMPANY,
                "project_id": PROJECT,
                "request_id": record.request_id,
                "channel": "whatsapp",
                "conversation_status": "reply_sent",
                "delivery_status": "delivered",
                "task_complete": True,
                "created_at": record.created_at,
                "updated_at": record.updated_at,
                "scheduled_for": "2026-11-24T10:00:00.000Z",
            }
        ],
        "next_token": None,
    }


def test_time_range_and_status_filter_select_exactly_their_conversations_across_pages(reader):
    records = _records(30)
    reader.put(*records)
    after, before = START + timedelta(minutes=5), START + timedelta(minutes=20)

    pages = _pages(
        reader,
        _query(
            status="reply_sent,failed_to_send_message",
            # +01:00 with an unencoded '+' arrives as a space; the same instant either way.
            created_after=(after + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S") + " 01:00",
            created_before=iso(before),
            limit="4",
        ),
    )

    listed = [row["conversation_id"] for page in pages for row in page["conversations"]]
    expected = [
        record.conversation_id
        for record in sorted(records, key=lambda r: r.created_at, reverse=True)
        if record.conversation_status in ("reply_sent", "failed_to_send_message")
        and iso(after) <= record.created_at < iso(before)
    ]
    assert listed == expected
    assert len(expected) == 10  # minutes 5..19, two statuses of three


def test_created_before_is_exclusive_and_created_after_inclusive_to_the_millisecond(reader):
    records = _records(3)
    reader.put(*records)
    only_middle = _query(created_after=records[1].created_at, created_before=records[2].created_at)
    (page,) = _pages(reader, only_middle)
    assert [row["conversation_id"] for row in page["conversations"]] == [records[1].conversation_id]


def test_without_records_of_the_project_the_page_is_empty(reader):
    reader.put(*_records(3, OTHER_PROJECT))
    assert _pages(reader, _query()) == [{"conversations": [], "next_token": None}]


def test_a_key_of_another_project_gets_403_on_every_page(reader):
    reader.put(*_records(10))
    first = reader.list(_query(limit="3"), api_key_id=API_KEY_ID)
    token = first.body["next_token"]
    reader.watch_calls()

    _error(reader.list(_query(limit="3"), api_key_id=OTHER_API_KEY_ID), 403, "API_KEY_NOT_AUTHORIZED")
    _error(reader.list(_query(limit="3", next_token=token), api_key_id=OTHER_API_KEY_ID), 403, "API_KEY_NOT_AUTHORIZED")
    _error(reader.list(_query(next_token=token), api_key_id=None), 403, "API_KEY_NOT_AUTHORIZED")
    company_table = reader.aws.table_name(COMPANY_DATA.logical_name)
    assert reader.calls == [("GetItem", company_table)] * 3


def _token(reader, **query: str) -> str:
    reader.put(*_records(10))
    reply = reader.list(_query(limit="3", **query), api_key_id=API_KEY_ID)
    assert reply.status == 200 and reply.body["next_token"], reply.body
    return reply.body["next_token"]


def test_a_token_is_refused_when_altered(reader):
    token = _token(reader)
    _, signature = token.split(".")
    # A key of the caller's own choosing (skipping ahead) with the genuine signature: refused.
    key = {"gsi_project_key": "c1#p1", "created_at": iso(START + timedelta(days=1)), "primary_channel": "+1"}
    forged = base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=") + "." + signature
    for bad in (forged, token[:-2] + ("AA" if token[-2:] != "AA" else "BB"), "garbage", token + ".x", "é.é"):
        _error(reader.list(_query(limit="3", next_token=bad), api_key_id=API_KEY_ID), 400, "INVALID_NEXT_TOKEN")


@pytest.mark.parametrize(
    "other_query",
    [
        {"status": "reply_sent"},
        {"created_after": "2026-11-24T08:00:00Z"},
        {"created_before": "2026-11-25T08:00:00Z"},
    ],
)
def test_a_token_is_refused_with_another_query(reader, other_query):
    token = _token(reader)
    reply = reader.list(_query(limit="3", next_token=token, **other_query), api_key_id=API_KEY_ID)
    _error(reply, 400, "INVALID_NEXT_TOKEN")


def test_a_token_is_refused_for_another_project_the_same_key_may_read(reader, company_record_example):
    token = _token(reader)
    third = record_for_tenant(company_record_example, COMPANY, "pi-third-001")
    reader.put_company({**third, "api_key_ids": [API_KEY_ID]})
    query = {"company_id": COMPANY, "project_id": "pi-third-001", "limit": "3", "next_token": token}
    _error(reader.list(query, api_key_id=API_KEY_ID), 400, "INVALID_NEXT_TOKEN")


def test_a_token_is_refused_for_another_key_of_the_same_project(reader):
    token = _token(reader)
    _error(reader.list(_query(limit="3", next_token=token), api_key_id=SECOND_KEY_ID), 400, "INVALID_NEXT_TOKEN")


def test_a_token_stays_valid_with_another_page_size(reader):
    token = _token(reader)
    reply = reader.list(_query(limit="5", next_token=token), api_key_id=API_KEY_ID)
    assert reply.status == 200 and len(reply.body["conversations"]) == 5


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ({"company_id": COMPANY, "project_id": PROJECT, "sort": "asc"}, "UNKNOWN_QUERY_PARAMETER"),
        ({"project_id": PROJECT}, "MISSING_IDENTIFIERS"),
        ({"company_id": COMPANY}, "MISSING_IDENTIFIERS"),
        ({"company_id": "bad#id", "project_id": PROJECT}, "INVALID_COMPANY_ID_FORMAT"),
        ({"company_id": COMPANY, "project_id": "-bad"}, "INVALID_PROJECT_ID_FORMAT"),
        (_query(limit="0"), "INVALID_LIMIT"),
        (_query(limit="101"), "INVALID_LIMIT"),
        (_query(limit="ten"), "INVALID_LIMIT"),
        (_query(limit="-1"), "INVALID_LIMIT"),
        (_query(status="sent"), "INVALID_STATUS_FILTER"),
        (_query(status="reply_sent,"), "INVALID_STATUS_FILTER"),
        (_query(created_after="yesterday"), "INVALID_TIME_RANGE"),
        (_query(created_after="2026-11-24T08:00:00"), "INVALID_TIME_RANGE"),  # no zone
        (_query(created_after="2026-11-24T09:00:00Z", created_before="2026-11-24T09:00:00Z"), "INVALID_TIME_RANGE"),
        (_query(created_after="2026-11-24T10:00:00Z", created_before="2026-11-24T09:00:00Z"), "INVALID_TIME_RANGE"),
        ([*_query().items(), ("status", "reply_sent"), ("status", "needs_human")], "INVALID_QUERY"),
    ],
)
def test_a_bad_query_is_refused_with_its_code_before_anything_is_read(reader, query, code):
    reader.watch_calls()
    _error(reader.list(query, api_key_id=API_KEY_ID), 400, code)
    assert reader.calls == []


def test_limit_bounds_and_default(reader):
    reader.put(*_records(30))
    assert len(reader.list(_query(limit="1"), api_key_id=API_KEY_ID).body["conversations"]) == 1
    assert len(reader.list(_query(limit="100"), api_key_id=API_KEY_ID).body["conversations"]) == 30
    assert len(reader.list(_query(), api_key_id=API_KEY_ID).body["conversations"]) == 25


def test_records_without_the_listing_key_are_not_listed(reader):
    """Records written before issue 13 lack gsi_project_key until `comms maintenance backfill-project-key` runs."""
    old = _records(1)[0].model_copy(update={"gsi_project_key": None})
    reader.put(old)
    assert _pages(reader, _query()) == [{"conversations": [], "next_token": None}]


class _Collect(logging.Handler):
    def __init__(self, lines: list[str]):
        super().__init__()
        self.lines = lines

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def test_logs_name_the_refusal_and_never_the_token_the_key_or_the_recipient(reader):
    token = _token(reader)
    lines: list[str] = []
    collector = _Collect(lines)
    collector.setFormatter(reader.module.logger.registered_formatter)
    stdlib_logger = logging.getLogger(reader.module.logger.service)
    stdlib_logger.addHandler(collector)
    try:
        reader.list(_query(limit="3", next_token=token), api_key_id=API_KEY_ID)
        reader.list(_query(limit="3", next_token=token, status="reply_sent"), api_key_id=API_KEY_ID)
    finally:
        stdlib_logger.removeHandler(collector)

    logs = "\n".join(lines)
    assert '"error_code":"INVALID_NEXT_TOKEN"' in logs.replace(" ", "")
    for secret in (token, token.split(".")[0], "test-key-value", "+4477009001", "ada@example.com"):
        assert secret not in logs


def test_an_unexpected_failure_is_a_500_without_detail(reader, monkeypatch):
    monkeypatch.setenv("CONVERSATIONS_TABLE_NAME", "")  # a broken deployment: settings do not load
    reply = reader.list(_query(), api_key_id=API_KEY_ID)
    _error(reply, 500, "INTERNAL_ERROR")
    assert reply.body["message"] == "The request could not be processed"
