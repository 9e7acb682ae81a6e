"""Tenants an operator adds to a running local stack: another project of the seeded company with its
own API key (bound to the record's ``api_key_ids`` and to a usage plan of the API's stage, as in
AWS), its own senders and provider secrets.

Each e2e module that needs a project of its own calls ``add_project``; the key's value is what the
tenant's system sends as ``x-api-key``.
"""

from __future__ import annotations

import copy
import json
import secrets
from dataclasses import dataclass
from typing import Any

import requests

from tests.e2e.test_local_stack import PROVIDER_OF, _aws, example_request

SENDER_FIELDS = {"whatsapp": "company_whatsapp_number", "sms": "company_sms_number", "email": "company_email"}


@dataclass(frozen=True)
class Project:
    company_id: str
    project_id: str
    api_key_id: str
    api_key: str


def _stage_of(stack) -> tuple[str, str]:
    """The (rest api id, stage) the seeded usage plan grants."""
    apigateway = _aws(stack, "apigateway")
    env = stack.env["ENVIRONMENT"]
    for plan in apigateway.get_usage_plans(limit=500)["items"]:
        for stage in plan.get("apiStages", []):
            if stage.get("stage") == env:
                return stage["apiId"], env
    raise AssertionError("the local stack has no usage plan for its stage")


def create_api_key(stack, name: str, *, rate_limit: float | None = None) -> tuple[str, str]:
    """A new API key on the stage: in the seeded usage plan, or in a plan of its own with a higher
    throttle (what an operator gives a bulk sender)."""
    apigateway = _aws(stack, "apigateway")
    api_id, stage = _stage_of(stack)
    value = f"e2e-fake-key-{secrets.token_urlsafe(24)}"
    key_id = apigateway.create_api_key(name=name, enabled=True, value=value)["id"]
    if rate_limit is None:
        plan_id = next(
            p["id"]
            for p in apigateway.get_usage_plans(limit=500)["items"]
            if {"apiId": api_id, "stage": stage} in p.get("apiStages", [])
        )
    else:
        plan_id = apigateway.create_usage_plan(
            name=f"{name}-plan",
            throttle={"rateLimit": rate_limit, "burstLimit": int(rate_limit)},
            apiStages=[{"apiId": api_id, "stage": stage}],
        )["id"]
    apigateway.create_usage_plan_key(usagePlanId=plan_id, keyId=key_id, keyType="API_KEY")
    return key_id, value


def add_project(stack, project_id: str, senders: dict[str, str], *, key_rate_limit: float | None = None,
                **changes: Any) -> Project:  # fmt: skip
    """Another project of the seeded company: a copy of the seeded record with its own id, senders
    (one per channel: conversation ids are made of the sender), provider secrets (the sandbox's
    fakes, copied) and a fresh API key bound to it only."""
    env, company_id = stack.env["ENVIRONMENT"], stack.env["COMPANY_ID"]
    table = _aws(stack, "dynamodb", resource=True).Table(f"ai-multi-comms-company-data-{env}")
    seeded = table.get_item(Key={"company_id": company_id, "project_id": stack.env["PROJECT_ID"]})["Item"]
    key_id, key_value = create_api_key(stack, f"{company_id}-{project_id}", rate_limit=key_rate_limit)
    record = copy.deepcopy(seeded) | {"project_id": project_id, "project_name": project_id, "api_key_ids": [key_id]}
    record |= changes
    manager = _aws(stack, "secretsmanager")
    for channel, config in record["channel_config"].items():
        name = f"ai-multi-comms/{channel}-credentials/{company_id}/{project_id}/{PROVIDER_OF[channel]}-{env}"
        value = manager.get_secret_value(SecretId=config[f"{channel}_credentials_id"])["SecretString"]
        manager.create_secret(Name=name, SecretString=value)
        config[f"{channel}_credentials_id"] = name
        config[SENDER_FIELDS[channel]] = senders[channel]
    table.put_item(Item=record)
    return Project(company_id, project_id, key_id, key_value)


def initiate(stack, project: Project, channel: str, recipient: str) -> requests.Response:
    """``POST /initiate-conversation`` for ``project`` with its own key, to ``recipient``."""
    body = example_request(channel)
    body["company_data"]["project_id"] = project.project_id
    body["recipient_data"]["recipient_tel" if channel != "email" else "recipient_email"] = recipient
    return stack.post(body, key=project.api_key)


def read(stack, path: str, key: str, **params: str) -> requests.Response:
    """A GET of the read API (``path`` under the stage, already URL-encoded) with ``key``."""
    return requests.get(f"{stack.api_url}{path}", params=params, headers={"x-api-key": key}, timeout=30)


def secret_string(stack, name: str) -> str:
    return _aws(stack, "secretsmanager").get_secret_value(SecretId=name)["SecretString"]


def as_json(response: requests.Response) -> Any:
    try:
        return response.json()
    except json.JSONDecodeError as error:
        raise AssertionError(f"{response.status_code}: not JSON: {response.text[:500]}") from error
