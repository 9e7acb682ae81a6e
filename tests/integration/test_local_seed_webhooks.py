"""What the tenant sets up at SendGrid, done by the local stack: the sandbox's Event Webhook for
the tenant's API key points at the tenant's events URL, and the tenant's email secret holds the
key that verifies what the sandbox signs and the Inbound Parse URL's token; done again on a
restart, when the URL may change. The seeded project answers the person's replies."""

from __future__ import annotations

import json

import requests
from sendgrid.helpers.eventwebhook import EventWebhook

from local.seed import (
    ProviderSecrets,
    connect_webhooks,
    create_api,
    seed_sample_tenant,
)
from shared.channels import ALL_CHANNELS
from shared.models.company import CompanyRecord
from shared.processing.credentials import SendGridCredentials
from shared.webhooks.routes import SENDGRID_EVENTS
from stacks.settings import load_settings

EMAIL_SECRET = "ai-multi-comms/email-credentials/ci-demo-001/pi-demo-001/sendgrid-dev"


def _email_credentials(aws) -> SendGridCredentials:
    secret = aws.client("secretsmanager").get_secret_value(SecretId=EMAIL_SECRET)
    return SendGridCredentials.model_validate(json.loads(secret["SecretString"]))


def _webhooks(sandbox) -> list[str]:
    """The Event Webhook URLs the SendGrid sandbox posts to, as its control endpoint lists them."""
    answer = requests.get(f"{sandbox.sendgrid.control_url}/event_webhook", timeout=10)
    answer.raise_for_status()
    return [hook["url"] for hook in answer.json()["webhooks"]]


def test_the_tenants_event_webhook_points_at_its_url_and_its_secret_verifies_the_sandbox(aws, sandbox):
    tenant = seed_sample_tenant(aws, create_api(aws, load_settings("dev")), ProviderSecrets())

    connect_webhooks(aws, tenant, sandbox.sendgrid, "http://127.0.0.1:4750/dev")

    credentials = _email_credentials(aws)
    assert credentials.sendgrid_api_key.get_secret_value() == ProviderSecrets().sendgrid_api_key  # kept
    assert credentials.sendgrid_webhook_public_key == sandbox.sendgrid.public_key
    assert _webhooks(sandbox) == [SENDGRID_EVENTS.url("http://127.0.0.1:4750/dev", "ci-demo-001", "pi-demo-001")]
    # In the form the SDK's verifier reads (base64 DER), as the ingress will read it.
    assert EventWebhook().convert_public_key_to_ecdsa(credentials.sendgrid_webhook_public_key) is not None


def test_connecting_again_after_a_restart_moves_the_webhook_to_the_new_url(aws, sandbox):
    tenant = seed_sample_tenant(aws, create_api(aws, load_settings("dev")), ProviderSecrets())
    connect_webhooks(aws, tenant, sandbox.sendgrid, "http://127.0.0.1:4750/dev")

    connect_webhooks(aws, tenant, sandbox.sendgrid, "http://127.0.0.1:39999/dev")

    assert _webhooks(sandbox) == [SENDGRID_EVENTS.url("http://127.0.0.1:39999/dev", "ci-demo-001", "pi-demo-001")]
    assert _email_credentials(aws).sendgrid_webhook_public_key == sandbox.sendgrid.public_key


def test_the_seeded_project_answers_replies_on_every_channel_with_emails_reply_to_on_its_domain(aws, sandbox):
    seed_sample_tenant(aws, create_api(aws, load_settings("dev")), ProviderSecrets())

    item = aws.table("company-data").get_item(Key={"company_id": "ci-demo-001", "project_id": "pi-demo-001"})["Item"]
    company = CompanyRecord.model_validate(item)
    assert company.auto_queue_reply_message is True
    assert company.answers_replies_to("+447700900001") and company.answers_replies_to(
        "talent@cucumber-recruitment.example"
    )
    for channel in ALL_CHANNELS:
        sender = company.ai_config.openai_config[channel].reply_sender
        assert sender is not None and sender.prompt_version == "2026-11-26.1"
        assert "needs_human" in sender.instructions and "task_complete" in sender.instructions
    assert company.channel_config.email.reply_domain == "replies.cucumber-recruitment.example"


def test_the_inbound_parse_token_is_random_on_every_start_and_kept_beside_the_webhook_key(aws, sandbox):
    tenant = seed_sample_tenant(aws, create_api(aws, load_settings("dev")), ProviderSecrets())

    connect_webhooks(aws, tenant, sandbox.sendgrid, "http://127.0.0.1:4750/dev")
    first = _email_credentials(aws)
    connect_webhooks(aws, tenant, sandbox.sendgrid, "http://127.0.0.1:4750/dev")
    second = _email_credentials(aws)

    tokens = [c.sendgrid_inbound_token.get_secret_value() for c in (first, second)]
    assert tokens[0] != tokens[1] and min(len(t) for t in tokens) >= 40
    assert second.sendgrid_webhook_public_key == sandbox.sendgrid.public_key
