"""API Gateway's keys and the environment's usage plan, as ``comms apikey`` manages them.

The plan is found by its name, ``ai-multi-comms-usage-plan-<env>``: ApiStack gives it that name in
AWS and the local stack seeds it under the same one, so AWS and ``make local`` are one code path.
A key's value leaves this module only from ``create`` (printed once, by design); listings never
ask API Gateway for values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from tools.comms.errors import CommandError, NotFound
from tools.comms.target import Target


@dataclass(frozen=True)
class UsagePlan:
    id: str
    name: str


@dataclass(frozen=True)
class ApiKeyInfo:
    id: str
    name: str
    enabled: bool
    created: str | None


@dataclass(frozen=True)
class NewApiKey:
    id: str
    name: str
    value: str


class ApiKeys:
    def __init__(self, apigateway: Any, plan_name: str):
        self._apigateway = apigateway
        self._plan_name = plan_name

    @classmethod
    def of(cls, target: Target) -> ApiKeys:
        return cls(target.client("apigateway"), target.name("usage-plan"))

    def plan(self) -> UsagePlan:
        """The environment's usage plan; NotFound when the environment has none (not deployed)."""
        found = [p for p in self._items("get_usage_plans") if p.get("name") == self._plan_name]
        if not found:
            raise NotFound(f"no usage plan named {self._plan_name}: is the environment deployed (or `make local` up)?")
        if len(found) > 1:
            raise CommandError(f"{len(found)} usage plans are named {self._plan_name}; expected one")
        return UsagePlan(found[0]["id"], found[0]["name"])

    def plans_holding(self, key_id: str) -> list[UsagePlan]:
        return [UsagePlan(p["id"], p["name"]) for p in self._items("get_usage_plans", keyId=key_id)]

    def create(self, name: str) -> NewApiKey:
        """An enabled key whose value API Gateway generates."""
        created = self._apigateway.create_api_key(name=name, enabled=True)
        return NewApiKey(created["id"], created["name"], created["value"])

    def add_to_plan(self, plan: UsagePlan, key_id: str) -> None:
        self._apigateway.create_usage_plan_key(usagePlanId=plan.id, keyId=key_id, keyType="API_KEY")

    def remove_from_plan(self, plan: UsagePlan, key_id: str) -> None:
        self._apigateway.delete_usage_plan_key(usagePlanId=plan.id, keyId=key_id)

    def delete(self, key_id: str) -> None:
        self._apigateway.delete_api_key(apiKey=key_id)

    def find(self, key_id: str) -> ApiKeyInfo | None:
        try:
            return _info(self._apigateway.get_api_key(apiKey=key_id, includeValue=False))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "NotFoundException":
                return None
            raise

    def in_plan(self, plan: UsagePlan) -> list[ApiKeyInfo]:
        """The plan's keys with their state (no values), by name: creation times are whole seconds."""
        members = {key["id"] for key in self._items("get_usage_plan_keys", usagePlanId=plan.id)}
        keys = [_info(key) for key in self._items("get_api_keys", includeValues=False) if key["id"] in members]
        return sorted(keys, key=lambda key: (key.name, key.id))

    def _items(self, operation: str, **parameters: Any) -> list[dict[str, Any]]:
        pages = self._apigateway.get_paginator(operation).paginate(**parameters)
        return [item for page in pages for item in page.get("items", [])]


def _info(key: dict[str, Any]) -> ApiKeyInfo:
    created = key.get("createdDate")
    return ApiKeyInfo(
        id=key["id"],
        name=key.get("name", ""),
        enabled=bool(key.get("enabled", False)),
        created=_utc(created) if isinstance(created, datetime) else None,
    )


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
