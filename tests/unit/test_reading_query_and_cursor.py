"""The read API's pure parts: the path id, the listing's query string, next_token."""

from __future__ import annotations

import base64

import pytest

from shared.api_errors import InvalidConversationId, InvalidListQuery
from shared.consent.address_hash import AddressHasher
from shared.reading import cursor
from shared.reading.conversation_ids import ConversationRef, parse_conversation_id
from shared.reading.list_query import parse_list_query

REQUEST_ID = "3f8b2c1e-4d5a-4b6c-9e7f-0a1b2c3d4e5f"
HASHER = AddressHasher(b"k" * 32)
KEY = {
    "gsi_project_key": "c1#p1",
    "created_at": "2026-11-24T09:30:15.000Z",
    "primary_channel": "+447700900123",
    "conversation_id": f"c1#p1#{REQUEST_ID}#447700900001",
}


@pytest.mark.parametrize(
    ("encoded", "sender"),
    [
        (f"c1%23p1%23{REQUEST_ID}%23447700900001", "447700900001"),
        (f"c1%23p1%23{REQUEST_ID}%23Talent%40Example.COM", "talent@example.com"),
        (f"c1%23p1%23{REQUEST_ID.upper()}%23talent@example.com", "talent@example.com"),
        (f"c1#p1#{REQUEST_ID}#447700900001", "447700900001"),  # an unencoded '#' (a raw test event)
    ],
)
def test_an_id_is_decoded_once_and_split(encoded, sender):
    assert parse_conversation_id(encoded) == ConversationRef("c1", "p1", REQUEST_ID, sender)


@pytest.mark.parametrize(
    "encoded",
    [None, "", f"c1%2523p1%2523{REQUEST_ID}%2523447700900001", f"c1%23p1%23{REQUEST_ID}%23447700900001%2"],
)
def test_a_twice_encoded_or_broken_id_is_refused(encoded):
    with pytest.raises(InvalidConversationId):
        parse_conversation_id(encoded)


def test_time_bounds_become_the_records_own_millisecond_strings():
    query = parse_list_query(
        {
            "company_id": "c1",
            "project_id": "p1",
            "created_after": "2026-11-24T10:30:00.0001+01:00",
            "created_before": "2026-11-24T09:45:00Z",
            "status": "reply_sent, initial_message_sent,reply_sent",
        },
        None,
    )
    # after rounds up to the next millisecond (inclusive); before is exclusive.
    assert (query.created_from, query.created_through) == ("2026-11-24T09:30:00.001Z", "2026-11-24T09:44:59.999Z")
    assert [status.value for status in query.statuses] == ["initial_message_sent", "reply_sent"]
    assert query.limit == 25


@pytest.mark.parametrize(
    "bounds",
    [
        {"created_before": "0001-01-01T00:00:00Z"},  # minus a millisecond: before the calendar
        {"created_after": "9999-12-31T23:59:59.9999Z"},  # rounded up: after it
        {"created_after": "0001-01-01T00:30:00+01:00"},  # in UTC: before it
    ],
)
def test_a_bound_at_the_calendars_edge_is_a_time_range_error_not_a_crash(bounds):
    # Found by the schema-driven run (a 500 on GET /conversations).
    with pytest.raises(InvalidListQuery) as refused:
        _query(**bounds)
    assert refused.value.error_code == "INVALID_TIME_RANGE"


def _query(**values: str):
    return parse_list_query({"company_id": "c1", "project_id": "p1", **values}, None)


def test_a_token_round_trips_for_its_query_and_key_only():
    query = _query(status="reply_sent")
    token = cursor.issue(HASHER, query, "key-1", KEY)
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
    assert cursor.resume_key(HASHER, _query(status="reply_sent", limit="9"), "key-1", token) == KEY
    for other_query, key_id, hasher in (
        (_query(), "key-1", HASHER),
        (query, "key-2", HASHER),
        (query, "key-1", AddressHasher(b"j" * 32)),  # another environment's key
    ):
        with pytest.raises(InvalidListQuery) as refused:
            cursor.resume_key(hasher, other_query, key_id, token)
        assert refused.value.error_code == "INVALID_NEXT_TOKEN"


def test_a_token_never_carries_the_recipients_address_readably():
    """The table key in a token holds the recipient's number: tokens travel in URLs, so it is encrypted."""
    token = cursor.issue(HASHER, _query(), "key-1", KEY)
    sealed = base64.urlsafe_b64decode(token.split(".")[0] + "==")
    for readable in (KEY["primary_channel"].encode(), KEY["primary_channel"][1:].encode(), b"primary_channel"):
        assert readable not in sealed
    assert "NDQ3NzAw" not in token  # base64 of "447700", in any alignment the plain JSON would give
    # Two tokens for the same key differ (a fresh nonce each): a token says nothing by its equality.
    assert cursor.issue(HASHER, _query(), "key-1", KEY) != token


def test_a_token_with_one_bit_of_its_ciphertext_flipped_is_refused():
    token = cursor.issue(HASHER, _query(), "key-1", KEY)
    encoded, signature = token.split(".")
    sealed = bytearray(base64.urlsafe_b64decode(encoded + "=="))
    sealed[-1] ^= 0x01
    altered = base64.urlsafe_b64encode(bytes(sealed)).decode().rstrip("=") + "." + signature
    with pytest.raises(InvalidListQuery) as refused:
        cursor.resume_key(HASHER, _query(), "key-1", altered)
    assert refused.value.error_code == "INVALID_NEXT_TOKEN"
