"""Seeds the emulator with what an operator sets up by hand in AWS: the API's usage plan, a tenant
(company/project record bound to a fresh API key) and the secrets the processors read."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.emulator import LocalResources
from shared import json_codec, tables
from shared.channels import ALL_CHANNELS
from stacks.names import physical_name
from stacks.settings import EnvironmentSettings

EXAMPLE_RECORD = Path(__file__).resolve().parent.parent / "examples" / "company_record.example.json"


@dataclass(frozen=True)
class ProviderSecrets:
    """What goes into each provider secret: sandbox fakes unless real credentials are given."""

    openai_api_key: str = "sk-local-sandbox"
    twilio_account_sid: str = "AClocalsandbox"
    twilio_auth_token: str = "local-sandbox-token"
    sendgrid_api_key: str = "SG.local-sandbox"


@dataclass(frozen=True)
class Tenant:
    company_id: str
    project_id: str
    api_key_id: str
    api_key: str


@dataclass(frozen=True)
class LocalApi:
    rest_api_id: str
    stage: str


def create_api(resources: LocalResources, settings: EnvironmentSettings) -> LocalApi:
    """The REST API and its usage plan (the throttle every tenant key is held to)."""
    apigateway = resources.client("apigateway")
    api_id = apigateway.create_rest_api(name=physical_name("api", settings.name))["id"]
    apigateway.create_usage_plan(
        name=physical_name("usage-plan", settings.name),
        throttle={"rateLimit": settings.api.throttle_rate_limit, "burstLimit": settings.api.throttle_burst_limit},
        apiStages=[{"apiId": api_id, "stage": settings.name}],
    )
    return LocalApi(rest_api_id=api_id, stage=settings.name)


def create_tenant_key(resources: LocalResources, api: LocalApi, name: str) -> tuple[str, str]:
    """A new API key added to the stage's usage plan; returns (key id, key value)."""
    apigateway = resources.client("apigateway")
    value = secrets.token_urlsafe(30)
    key_id = apigateway.create_api_key(name=name, enabled=True, value=value)["id"]
    plan = next(
        p
        for p in apigateway.get_usage_plans()["items"]
        if {"apiId": api.rest_api_id, "stage": api.stage} in p.get("apiStages", [])
    )
    apigateway.create_usage_plan_key(usagePlanId=plan["id"], keyId=key_id, keyType="API_KEY")
    return key_id, value


def seed_sample_tenant(
    resources: LocalResources, api: LocalApi, provider_secrets: ProviderSecrets, record_path: Path = EXAMPLE_RECORD
) -> Tenant:
    record: dict[str, Any] = json_codec.loads(record_path.read_text())
    key_id, key_value = create_tenant_key(resources, api, f"{record['company_id']}-{record['project_id']}")
    record["api_key_ids"] = [key_id]
    _create_secrets(resources, record, provider_secrets)
    resources.table(tables.COMPANY_DATA.logical_name).put_item(Item=record)
    return Tenant(record["company_id"], record["project_id"], key_id, key_value)


def _create_secrets(resources: LocalResources, record: dict[str, Any], values: ProviderSecrets) -> None:
    manager = resources.client("secretsmanager")
    wanted: dict[str, dict[str, str]] = {}
    for channel in ALL_CHANNELS:
        openai = record["ai_config"]["openai_config"].get(channel.value)
        if openai:
            wanted[openai["api_key_reference"]] = {"ai_api_key": values.openai_api_key}
        config = record["channel_config"].get(channel.value)
        if not config:
            continue
        secret_id = config[f"{channel.value}_credentials_id"]
        if channel.value == "email":
            wanted[secret_id] = {"sendgrid_api_key": values.sendgrid_api_key}
        else:
            wanted[secret_id] = {
                "twilio_account_sid": values.twilio_account_sid,
                "twilio_auth_token": values.twilio_auth_token,
            }
    for name, value in wanted.items():
        manager.create_secret(Name=name, SecretString=json.dumps(value))
