"""What the ``comms secrets`` and ``comms prompt`` tests share: the example project in the table,
its secrets as an operator puts them, and fake values that must never be printed."""

from __future__ import annotations

import json
from typing import Any

from local.sandboxes.sendgrid_event_webhook import EventWebhookKey
from shared import json_codec
from shared.channels import Channel
from shared.models.company import CHANNEL_CONFIGS
from shared.secret_names import openai_secret_name
from tests.conftest import EXAMPLES

COMPANY_ID, PROJECT_ID = "ci-demo-001", "pi-demo-001"
PROJECT = ("--company-id", COMPANY_ID, "--project-id", PROJECT_ID)
OPENAI_KEY = "sk-test-never-printed-0001"
TWILIO_TOKEN = "twilio-token-never-printed"
SENDGRID_KEY = "SG.sendgrid-key-never-printed"
INBOUND_TOKEN = "inbound-token-never-printed-0123"


def example_record() -> dict[str, Any]:
    record: dict[str, Any] = json_codec.loads((EXAMPLES / "company_record.example.json").read_text())
    return record


def put_record(aws: Any, record: dict[str, Any] | None = None) -> dict[str, Any]:
    record = record if record is not None else example_record()
    aws.table("company-data").put_item(Item=record)
    return record


def twilio_credentials() -> dict[str, str]:
    return {"twilio_account_sid": "AC" + "0" * 32, "twilio_auth_token": TWILIO_TOKEN}


def sendgrid_credentials() -> dict[str, str]:
    return {
        "sendgrid_api_key": SENDGRID_KEY,
        "sendgrid_webhook_public_key": EventWebhookKey.generate().public_key,
        "sendgrid_inbound_token": INBOUND_TOKEN,
    }


def credentials_for(channel: Channel) -> dict[str, str]:
    return sendgrid_credentials() if channel is Channel.EMAIL else twilio_credentials()


def credentials_name(channel: Channel, env: str = "dev") -> str:
    return CHANNEL_CONFIGS[channel].credentials_secret_name(COMPANY_ID, PROJECT_ID, env)


def store_openai_key(aws: Any, channel: Channel, key: str = OPENAI_KEY) -> str:
    name = openai_secret_name(channel.value, aws.env)
    aws.client("secretsmanager").create_secret(Name=name, SecretString=json.dumps({"ai_api_key": key}))
    return name


def secret_names(aws: Any) -> list[str]:
    """Every secret in the emulator but the environment's consent key (made by provisioning)."""
    pages = aws.client("secretsmanager").get_paginator("list_secrets").paginate()
    names = [secret["Name"] for page in pages for secret in page["SecretList"]]
    return sorted(name for name in names if name != aws.consent_key_secret_id)


def assert_never_shown(result: Any, *values: str) -> None:
    for value in (OPENAI_KEY, TWILIO_TOKEN, SENDGRID_KEY, INBOUND_TOKEN, *values):
        assert value not in result.stdout
        assert value not in result.stderr
