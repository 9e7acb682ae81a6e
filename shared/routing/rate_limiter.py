"""Per-project request limits (``rate_limits.requests_per_minute`` / ``requests_per_day``).

Fixed windows counted in the rate-limits table: one item per project and window
(``<company>#<project>#minute#<n>``), expiring by TTL. A request is admitted by one
TransactWriteItems that increments both counters, each only while it is below its limit, so both
counters move together or not at all, and concurrent routers can never admit more than the limit:
DynamoDB serialises the conditional updates of an item. The window that refused sets Retry-After.
"""

from __future__ import annotations

import math
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shared.api_errors import DatabaseError, RateLimitExceeded
from shared.models.company import RateLimits


@dataclass(frozen=True)
class Window:
    name: str
    seconds: int


MINUTE = Window("minute", 60)
DAY = Window("day", 24 * 3600)  # UTC calendar days: epoch days start at 00:00 UTC

COUNT = "request_count"
EXPIRES_AT = "expires_at"
# Transactions that touch the same counter at the same moment cancel each other
# (TransactionConflict); they are retried a few times with jitter before the caller is told to back off.
CONFLICT_ATTEMPTS = 8
CONFLICT_BACKOFF_SECONDS = 0.02
# Backoff per conflict doubles up to this cap: eight attempts wait at most about 1.6 s in all.
CONFLICT_BACKOFF_CAP_SECONDS = 0.5


@dataclass(frozen=True)
class Reservation:
    """The counters one admitted request incremented; released if the request is not queued."""

    counters: tuple[tuple[str, int], ...]  # (limit_key, expires_at) per window


class ProjectRateLimiter:
    def __init__(
        self,
        dynamodb: Any,
        table_name: str,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self._dynamodb = dynamodb
        self._table_name = table_name
        self._clock = clock
        self._sleep = sleep

    def reserve(self, company_id: str, project_id: str, limits: RateLimits) -> Reservation:
        now = self._clock()
        windows = ((MINUTE, limits.requests_per_minute), (DAY, limits.requests_per_day))
        # An item outlives its window by one more window, so TTL never removes a live counter.
        counters = tuple(
            (_key(company_id, project_id, window, now), _window_end(window, now) + window.seconds)
            for window, _ in windows
        )
        updates = [
            _increment(self._table_name, key, limit=limit, expires_at=expires_at)
            for (key, expires_at), (_, limit) in zip(counters, windows, strict=True)
        ]
        for attempt in range(CONFLICT_ATTEMPTS):
            reasons = self._transact(updates)
            if reasons is None:
                return Reservation(counters=counters)
            refused = [window for (window, _), reason in zip(windows, reasons, strict=True) if _is_refusal(reason)]
            if refused:
                retry_after = max(_seconds_left(window, now) for window in refused)
                names = " and ".join(f"requests per {window.name}" for window in refused)
                raise RateLimitExceeded(f"The project's limit of {names} is reached", retry_after_seconds=retry_after)
            if not all(_is_transient(reason) for reason in reasons):
                raise DatabaseError("The request counters could not be updated")
            self._sleep(_backoff(attempt))
        raise RateLimitExceeded("Too many concurrent requests for this project; retry shortly", retry_after_seconds=1)

    def release(self, reservation: Reservation) -> None:
        """Give back a reservation whose request was not queued (no partial state)."""
        updates = [
            {
                "Update": {
                    "TableName": self._table_name,
                    "Key": {"limit_key": {"S": key}},
                    "UpdateExpression": "ADD #count :minus_one SET #expires = if_not_exists(#expires, :expires)",
                    "ExpressionAttributeNames": {"#count": COUNT, "#expires": EXPIRES_AT},
                    "ExpressionAttributeValues": {
                        ":minus_one": {"N": "-1"},
                        ":expires": {"N": str(expires_at)},
                    },
                }
            }
            for key, expires_at in reservation.counters
        ]
        for attempt in range(CONFLICT_ATTEMPTS):
            if self._transact(updates) is None:
                return
            self._sleep(_backoff(attempt))
        raise DatabaseError("The request counters could not be released")

    def _transact(self, updates: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
        """None when the transaction committed, else the cancellation reason of each update."""
        try:
            self._dynamodb.transact_write_items(
                TransactItems=updates,
                # The SDK retries a timed-out call with the same token, so a transaction that did
                # commit is not applied twice.
                ClientRequestToken=str(uuid.uuid4()),
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise DatabaseError("The request counters could not be updated") from error
            reasons = error.response.get("CancellationReasons") or []
            if len(reasons) != len(updates):
                raise DatabaseError("The request counters could not be updated") from error
            return reasons
        except BotoCoreError as error:
            raise DatabaseError("The request counters could not be updated") from error
        return None


def _backoff(attempt: int) -> float:
    return min(CONFLICT_BACKOFF_CAP_SECONDS, CONFLICT_BACKOFF_SECONDS * 2**attempt) * random.uniform(0.5, 1.5)


def _increment(table_name: str, key: str, *, limit: int, expires_at: int) -> dict[str, Any]:
    return {
        "Update": {
            "TableName": table_name,
            "Key": {"limit_key": {"S": key}},
            "UpdateExpression": "ADD #count :one SET #expires = if_not_exists(#expires, :expires)",
            "ConditionExpression": "attribute_not_exists(#count) OR #count < :limit",
            "ExpressionAttributeNames": {"#count": COUNT, "#expires": EXPIRES_AT},
            "ExpressionAttributeValues": {
                ":one": {"N": "1"},
                ":limit": {"N": str(limit)},
                ":expires": {"N": str(expires_at)},
            },
        }
    }


def _key(company_id: str, project_id: str, window: Window, now: float) -> str:
    return f"{company_id}#{project_id}#{window.name}#{int(now // window.seconds)}"


def _window_end(window: Window, now: float) -> int:
    return (int(now // window.seconds) + 1) * window.seconds


def _seconds_left(window: Window, now: float) -> int:
    return max(1, math.ceil(_window_end(window, now) - now))


def _is_refusal(reason: dict[str, Any]) -> bool:
    return reason.get("Code") == "ConditionalCheckFailed"


_TRANSIENT = frozenset({"None", "TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})


def _is_transient(reason: dict[str, Any]) -> bool:
    """Cancelled because of another update or throttling, not because this one was refused."""
    return reason.get("Code", "None") in _TRANSIENT
