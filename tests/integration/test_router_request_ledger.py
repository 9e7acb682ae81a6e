"""The request-id ledger against DynamoDB (moto): takeover races, owners, expiry."""

from __future__ import annotations

import copy
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from shared.api_errors import RequestIdReused, RequestInProgress
from shared.request_errors import parse_initiate_request
from shared.routing.request_ledger import (
    KEEP_SECONDS,
    TAKEOVER_AFTER_SECONDS,
    AlreadyQueued,
    RequestLedger,
    Reservation,
)
from shared.tables import RATE_LIMITS


@pytest.fixture
def ledger(aws, clock) -> RequestLedger:
    return RequestLedger(aws.client("dynamodb"), aws.table_name(RATE_LIMITS.logical_name), clock=clock)


@pytest.fixture
def request_(initiate_request_example):
    return parse_initiate_request(copy.deepcopy(initiate_request_example))


def _reserve(ledger: RequestLedger, request) -> Reservation | AlreadyQueued:
    return ledger.reserve(request, conversation_id="c-1", queue_timestamp="2026-11-24T09:30:15.000Z")


def _state(aws) -> str:
    (item,) = aws.client("dynamodb").scan(TableName=aws.table_name(RATE_LIMITS.logical_name))["Items"]
    return item["request_state"]["S"]


def test_concurrent_takeovers_of_an_abandoned_reservation_leave_exactly_one_owner(ledger, clock, request_):
    _reserve(ledger, request_)  # its router dies here
    clock.now += TAKEOVER_AFTER_SECONDS + 1
    start = threading.Barrier(12)

    def attempt(_: int) -> str:
        start.wait()
        try:
            return type(_reserve(ledger, request_)).__name__
        except RequestInProgress:
            return "in progress"

    with ThreadPoolExecutor(max_workers=12) as pool:
        outcomes = sorted(pool.map(attempt, range(12)))
    assert outcomes == ["Reservation"] + ["in progress"] * 11


def test_a_router_overtaken_after_its_timeout_can_neither_mark_nor_release_the_new_owners_claim(
    aws, ledger, clock, request_
):
    dead = _reserve(ledger, request_)
    clock.now += TAKEOVER_AFTER_SECONDS + 1
    alive = _reserve(ledger, request_)
    assert isinstance(alive, Reservation) and alive.owner != dead.owner

    ledger.mark_queued(dead)
    ledger.release(dead)
    assert _state(aws) == "reserved"
    ledger.mark_queued(alive)
    assert _state(aws) == "queued"
    assert _reserve(ledger, request_) == AlreadyQueued(
        conversation_id="c-1", queue_timestamp="2026-11-24T09:30:15.000Z"
    )


def test_a_released_id_is_free_for_any_request(ledger, request_, initiate_request_example):
    ledger.release(_reserve(ledger, request_))
    changed = copy.deepcopy(initiate_request_example)
    changed["project_data"]["jobRole"] = "Night Nurse"
    assert isinstance(_reserve(ledger, parse_initiate_request(changed)), Reservation)


def test_an_expired_reservation_is_free_even_before_ttl_deletes_it(ledger, clock, request_, initiate_request_example):
    ledger.mark_queued(_reserve(ledger, request_))
    changed = copy.deepcopy(initiate_request_example)
    changed["project_data"]["jobRole"] = "Night Nurse"
    with pytest.raises(RequestIdReused):
        _reserve(ledger, parse_initiate_request(changed))
    clock.now += KEEP_SECONDS + 1
    assert isinstance(_reserve(ledger, parse_initiate_request(changed)), Reservation)


def test_a_replay_gets_the_scheduled_for_the_first_request_was_answered_with(ledger, request_):
    first = ledger.reserve(
        request_,
        conversation_id="c-1",
        queue_timestamp="2026-11-24T23:00:00.000Z",
        scheduled_for="2026-11-25T09:00:00.000Z",
    )
    ledger.mark_queued(first)
    assert _reserve(ledger, request_) == AlreadyQueued(
        conversation_id="c-1", queue_timestamp="2026-11-24T23:00:00.000Z", scheduled_for="2026-11-25T09:00:00.000Z"
    )


def test_a_taken_over_reservation_drops_the_dead_attempts_scheduled_for(ledger, clock, request_):
    ledger.reserve(
        request_,
        conversation_id="c-1",
        queue_timestamp="2026-11-24T23:00:00.000Z",
        scheduled_for="2026-11-25T09:00:00.000Z",
    )  # its router dies here; the window has opened by the retry
    clock.now += TAKEOVER_AFTER_SECONDS + 1
    ledger.mark_queued(_reserve(ledger, request_))
    assert _reserve(ledger, request_) == AlreadyQueued(
        conversation_id="c-1", queue_timestamp="2026-11-24T09:30:15.000Z", scheduled_for=None
    )
