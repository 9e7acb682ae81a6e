"""What the tenant sets up at SendGrid, done by the local stack: the sandbox's Event Webhook for
the tenant's API key points at the tenant's events URL, and the tenant's email secret holds the
key that verifies what the sandbox signs; done again on a restart, when the URL may change."""

from __future__ import annotations

import json

import requests
from sendgrid.helpers.eventwebhook import EventWebhook

from local.seed import ProviderSecrets, connect_webhooks, create_api, seed_sample_tenant
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
