"""Per-project limits against DynamoDB (moto): exact under concurrency, both windows atomically."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from shared.api_errors import RateLimitExceeded
from shared.models.company import RateLimits
from shared.routing.rate_limiter import ProjectRateLimiter
from shared.tables import RATE_LIMITS
from tests.integration.conftest import NOW


@pytest.fixture
def limiter(aws, clock) -> ProjectRateLimiter:
    return ProjectRateLimiter(aws.client("dynamodb"), aws.table_name(RATE_LIMITS.logical_name), clock=clock)


def _counters(aws) -> dict[str, int]:
    items = aws.client("dynamodb").scan(TableName=aws.table_name(RATE_LIMITS.logical_name))["Items"]
    return {item["limit_key"]["S"].split("#", 2)[2]: int(item["request_count"]["N"]) for item in items}


def _limits(per_minute: int, per_day: int) -> RateLimits:
    return RateLimits(requests_per_minute=per_minute, requests_per_day=per_day)


def test_the_minute_limit_admits_that_many_then_refuses_until_the_end_of_the_minute(aws, limiter, clock):
    for _ in range(3):
        limiter.reserve("c1", "p1", _limits(3, 100))
    with pytest.raises(RateLimitExceeded) as refused:
        limiter.reserve("c1", "p1", _limits(3, 100))
    assert refused.value.retry_after_seconds == 45
    assert refused.value.headers == {"Retry-After": "45"}
    assert "per minute" in refused.value.message
    # A refused request moves neither counter.
    assert set(_counters(aws).values()) == {3}
    clock.now += 45
    limiter.reserve("c1", "p1", _limits(3, 100))


def test_the_day_limit_refuses_until_midnight_utc_and_leaves_the_minute_counter_alone(aws, limiter, clock):
    for _ in range(2):
        limiter.reserve("c1", "p1", _limits(60, 2))
        clock.now += 61  # a new minute each time: only the day counter accumulates
    with pytest.raises(RateLimitExceeded) as refused:
        limiter.reserve("c1", "p1", _limits(60, 2))
    assert refused.value.retry_after_seconds == 86400 - (34215 + 122)
    assert "per day" in refused.value.message
    minute_now = f"minute#{int(clock.now // 60)}"
    assert minute_now not in _counters(aws)


def test_when_both_windows_are_full_retry_after_waits_for_the_later_one(limiter):
    limiter.reserve("c1", "p1", _limits(1, 1))
    with pytest.raises(RateLimitExceeded) as refused:
        limiter.reserve("c1", "p1", _limits(1, 1))
    assert refused.value.retry_after_seconds == 86400 - 34215


def test_projects_are_counted_separately(limiter):
    limiter.reserve("c1", "p1", _limits(1, 10))
    limiter.reserve("c1", "p2", _limits(1, 10))
    limiter.reserve("c2", "p1", _limits(1, 10))
    with pytest.raises(RateLimitExceeded):
        limiter.reserve("c1", "p1", _limits(1, 10))


def test_a_released_reservation_gives_the_request_back_to_both_windows(aws, limiter):
    reservation = limiter.reserve("c1", "p1", _limits(1, 1))
    limiter.release(reservation)
    assert set(_counters(aws).values()) == {0}
    limiter.reserve("c1", "p1", _limits(1, 1))


def test_counters_expire_by_ttl_one_window_after_their_window_ends(aws, limiter):
    limiter.reserve("c1", "p1", _limits(5, 5))
    items = aws.client("dynamodb").scan(TableName=aws.table_name(RATE_LIMITS.logical_name))["Items"]
    expiry = {item["limit_key"]["S"].split("#")[2]: int(item["expires_at"]["N"]) for item in items}
    assert expiry["minute"] == (int(NOW // 60) + 2) * 60
    assert expiry["day"] == (int(NOW // 86400) + 2) * 86400


@pytest.mark.parametrize(("per_minute", "per_day"), [(7, 1000), (1000, 7)], ids=["minute-limit", "day-limit"])
def test_concurrent_requests_never_admit_more_than_the_limit(aws, limiter, per_minute, per_day):
    start = threading.Barrier(24)

    def attempt(_: int) -> bool:
        start.wait()
        try:
            limiter.reserve("c1", "p1", _limits(per_minute, per_day))
        except RateLimitExceeded:
            return False
        return True

    with ThreadPoolExecutor(max_workers=24) as pool:
        admitted = sum(pool.map(attempt, range(24)))
    assert admitted == 7
    assert set(_counters(aws).values()) == {7}
