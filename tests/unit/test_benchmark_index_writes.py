"""The benchmark's count of index writes per conversation-record change (the cost notes of
docs/benchmarks.md rest on it): DynamoDB writes a global secondary index when an item enters or
leaves it or when an attribute the index holds changes, and not otherwise."""

from __future__ import annotations

from local.benchmark_tenant_api import index_writes
from shared.tables import CONVERSATION_ID_INDEX, PROJECT_CREATED_AT_INDEX

LISTED = {
    "primary_channel": {"S": "+447700900200"},
    "conversation_id": {"S": "ci-demo-001#pi-demo-001#0b9f5d3e-8c1a-4e9b-9a2e-1f7c2d3e4a5b#447700900001"},
    "company_id": {"S": "ci-demo-001"},
    "project_id": {"S": "pi-demo-001"},
    "gsi_project_key": {"S": "ci-demo-001#pi-demo-001"},
    "created_at": {"S": "2026-11-26T10:00:00.000Z"},
    "updated_at": {"S": "2026-11-26T10:00:00.000Z"},
    "conversation_status": {"S": "processing"},
    "messages": {"L": []},
}


def test_a_new_record_enters_both_read_indexes():
    written = index_writes(None, LISTED)

    assert CONVERSATION_ID_INDEX in written
    assert PROJECT_CREATED_AT_INDEX in written
    assert "reply-token-index" not in written  # sparse: the record has no gsi_reply_token


def test_a_status_change_rewrites_the_listing_but_not_the_keys_only_index():
    sent = LISTED | {"conversation_status": {"S": "initial_message_sent"}}

    written = index_writes(LISTED, sent)

    assert PROJECT_CREATED_AT_INDEX in written
    assert CONVERSATION_ID_INDEX not in written


def test_a_change_of_an_attribute_no_index_holds_writes_no_index():
    answered = LISTED | {"messages": {"L": [{"M": {"direction": {"S": "outbound"}}}]}}

    assert index_writes(LISTED, answered) == []


def test_a_record_from_before_the_listing_key_stays_out_of_the_listing():
    old = {name: value for name, value in LISTED.items() if name != "gsi_project_key"}
    changed = old | {"conversation_status": {"S": "initial_message_sent"}}

    written = index_writes(old, changed)

    assert PROJECT_CREATED_AT_INDEX not in written
    assert "company-id-project-id-index" in written  # the older INCLUDE index holds the status too


def test_a_deleted_record_leaves_every_index_it_was_in():
    written = index_writes(LISTED, None)

    assert {CONVERSATION_ID_INDEX, PROJECT_CREATED_AT_INDEX} <= set(written)
    assert "reply-token-index" not in written
