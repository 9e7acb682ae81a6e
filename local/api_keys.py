"""API keys and usage plans as the emulator's API Gateway holds them.

The local gateway checks ``x-api-key`` against these, the way API Gateway does before it invokes
the router; keys created after start-up (a new tenant) are found on the next miss, and what it
knows is read again once it is ``max_age`` seconds old, so a key that was deleted, disabled or
removed from its usage plan (``comms apikey revoke``) is refused within that time, as API
Gateway stops honouring it within seconds. Reading the emulator on every request would make
the emulator the bottleneck of ``make bench``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ApiKey:
    id: str
    value: str
    enabled: bool
    rate_per_second: float | None
    burst: int | None


class ApiKeyStore:
    def __init__(
        self,
        apigateway: Any,
        rest_api_id: str,
        stage: str,
        *,
        max_age: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._apigateway = apigateway
        self._stage = (rest_api_id, stage)
        self._by_value: dict[str, ApiKey] = {}
        self._read_at: float | None = None
        self._max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._refreshing = threading.Lock()

    def find(self, value: str | None) -> ApiKey | None:
        """The enabled key with this value that a usage plan binds to this stage, else None."""
        if not value:
            return None
        key = self._by_value.get(value)
        if key is None:
            self.refresh()
            key = self._by_value.get(value)
        elif self._stale() and self._refreshing.acquire(blocking=False):
            # One request reads the emulator again; those arriving meanwhile use what it knew.
            try:
                self.refresh()
            finally:
                self._refreshing.release()
            key = self._by_value.get(value)
        return key if key is not None and key.enabled and key.rate_per_second is not None else None

    def _stale(self) -> bool:
        return self._read_at is None or self._clock() - self._read_at >= self._max_age

    def refresh(self) -> None:
        read_at = self._clock()
        plans = self._stage_plans()
        keys: dict[str, ApiKey] = {}
        for item in self._apigateway.get_api_keys(includeValues=True, limit=500)["items"]:
            throttle = plans.get(item["id"], {})
            keys[item["value"]] = ApiKey(
                id=item["id"],
                value=item["value"],
                enabled=item.get("enabled", False),
                rate_per_second=throttle.get("rateLimit"),
                burst=throttle.get("burstLimit"),
            )
        with self._lock:
            self._by_value, self._read_at = keys, read_at

    def _stage_plans(self) -> dict[str, dict[str, Any]]:
        """key id -> throttle of the usage plan that grants it this stage."""
        bound: dict[str, dict[str, Any]] = {}
        rest_api_id, stage = self._stage
        for plan in self._apigateway.get_usage_plans(limit=500)["items"]:
            stages = {(s.get("apiId"), s.get("stage")) for s in plan.get("apiStages", [])}
            if (rest_api_id, stage) not in stages:
                continue
            for key in self._apigateway.get_usage_plan_keys(usagePlanId=plan["id"], limit=500)["items"]:
                bound[key["id"]] = plan.get("throttle", {})
        return bound
