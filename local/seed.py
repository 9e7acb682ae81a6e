"""Seeds the emulator with what an operator sets up by hand in AWS: the API's usage plan, a tenant
(company/project record bound to a fresh API key, answering replies with the AI) and the secrets
the processors read; and what a tenant sets up at SendGrid: the signed Event Webhook pointing at
the tenant's events URL and the Inbound Parse URL's token."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from local.emulator import LocalResources
from shared import json_codec, tables
from shared.channels import ALL_CHANNELS, Channel
from shared.models.company import CompanyRecord
from shared.secret_names import openai_secret_name
from shared.webhooks.routes import SENDGRID_EVENTS
from stacks.names import physical_name
from stacks.settings import EnvironmentSettings

if TYPE_CHECKING:
    from local.sandboxes import FakeSendGrid

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
    company = CompanyRecord.model_validate(record)
    # The same refusal as `comms company put`: a sample that names another tenant's secrets
    # would teach the wrong convention.
    problems = company.secret_problems(resources.env)
    if problems:
        raise ValueError(f"{record_path} names secrets that are not its own: {'; '.join(problems)}")
    key_id, key_value = create_tenant_key(resources, api, f"{company.company_id}-{company.project_id}")
    record["api_key_ids"] = [key_id]
    _create_secrets(resources, company, provider_secrets)
    resources.table(tables.COMPANY_DATA.logical_name).put_item(Item=record)
    return Tenant(company.company_id, company.project_id, key_id, key_value)


def _create_secrets(resources: LocalResources, company: CompanyRecord, values: ProviderSecrets) -> None:
    """The channels' shared OpenAI keys and the tenant's provider credentials, named by the convention."""
    manager = resources.client("secretsmanager")
    twilio = {"twilio_account_sid": values.twilio_account_sid, "twilio_auth_token": values.twilio_auth_token}
    provider_values = {"twilio": twilio, "sendgrid": {"sendgrid_api_key": values.sendgrid_api_key}}
    wanted: dict[str, dict[str, str]] = {}
    for channel in ALL_CHANNELS:
        if channel in company.ai_config.openai_config:
            wanted[openai_secret_name(channel.value, resources.env)] = {"ai_api_key": values.openai_api_key}
        config = company.channel_config.for_channel(channel)
        if config is not None:
            name = config.credentials_secret_name(company.company_id, company.project_id, resources.env)
            wanted[name] = provider_values[config.provider]
    for name, value in wanted.items():
        manager.create_secret(Name=name, SecretString=json.dumps(value))


def connect_webhooks(resources: LocalResources, tenant: Tenant, sendgrid: FakeSendGrid, public_base_url: str) -> None:
    """What the tenant does in SendGrid's console: point the signed Event Webhook of its API key
    at its events URL, and keep the key's public verification key in its email credentials secret;
    and give its Inbound Parse URL (``SENDGRID_INBOUND`` + ``?token=``) a fresh random token, kept
    in the same secret, where the ingress compares it and the sandbox's person reads it.

    Twilio needs nothing: every send names its own ``StatusCallback``, signed with the account's
    auth token that the secret already holds, and the person signs inbound messages with it too.
    Run after a restore too: the URL may have changed, and the secret must hold the public key of
    the running sandbox."""
    record = resources.table(tables.COMPANY_DATA.logical_name).get_item(
        Key={"company_id": tenant.company_id, "project_id": tenant.project_id}
    )["Item"]
    email = CompanyRecord.model_validate(record).channel_config.for_channel(Channel.EMAIL)
    if email is None or email.provider != "sendgrid":
        return
    manager = resources.client("secretsmanager")
    secret_id = email.credentials_secret_id
    credentials = json.loads(manager.get_secret_value(SecretId=secret_id)["SecretString"])
    credentials["sendgrid_webhook_public_key"] = sendgrid.public_key
    credentials["sendgrid_inbound_token"] = secrets.token_urlsafe(32)
    manager.put_secret_value(SecretId=secret_id, SecretString=json.dumps(credentials))
    url = SENDGRID_EVENTS.url(public_base_url, tenant.company_id, tenant.project_id)
    sendgrid.configure_event_webhook(credentials["sendgrid_api_key"], url)
