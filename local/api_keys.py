"""API keys and usage plans as the emulator's API Gateway holds them.

The local gateway checks ``x-api-key`` against these, the way API Gateway does before it invokes
the router; keys created after start-up (a new tenant) are found on the next miss.
"""

from __future__ import annotations

import threading
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
    def __init__(self, apigateway: Any, rest_api_id: str, stage: str):
        self._apigateway = apigateway
        self._stage = (rest_api_id, stage)
        self._by_value: dict[str, ApiKey] = {}
        self._lock = threading.Lock()

    def find(self, value: str | None) -> ApiKey | None:
        """The enabled key with this value that a usage plan binds to this stage, else None."""
        if not value:
            return None
        key = self._by_value.get(value)
        if key is None:
            self.refresh()
            key = self._by_value.get(value)
        return key if key is not None and key.enabled and key.rate_per_second is not None else None

    def refresh(self) -> None:
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
            self._by_value = keys

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
