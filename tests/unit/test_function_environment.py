"""A function's settings model is its environment contract: what it renders, it reads back."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.reading.settings import ReaderSettings
from shared.routing.settings import RouterSettings
from shared.tenant_events.settings import TenantEventsSettings
from shared.tenant_webhooks.settings import WebhookSenderSettings

ROUTER = RouterSettings(
    environment="dev",
    company_table_name="ai-multi-comms-company-data-dev",
    rate_limit_table_name="ai-multi-comms-rate-limits-dev",
    whatsapp_queue_url="https://sqs/whatsapp",
    sms_queue_url="https://sqs/sms",
    email_queue_url="https://sqs/email",
    router_version="abc123",
    public_base_url="https://api.example.test/dev",
    suppressions_table_name="ai-multi-comms-suppressions-dev",
    consent_key_secret_id="ai-multi-comms/consent-key-dev",
)


def test_the_router_reads_back_the_environment_its_settings_render():
    rendered = ROUTER.to_environment()

    assert rendered["ENVIRONMENT"] == "dev" and rendered["SMS_QUEUE_URL"] == "https://sqs/sms"
    assert "AWS_ENDPOINT_URL" not in rendered  # unset: left out, not rendered as "None"
    assert RouterSettings.from_variables({**rendered, "PATH": "/usr/bin"}) == ROUTER


def test_a_missing_variable_is_named_and_the_rest_of_the_environment_is_not_quoted():
    environ = {k: v for k, v in ROUTER.to_environment().items() if k != "ENVIRONMENT"}

    with pytest.raises(ValidationError) as error:
        RouterSettings.from_variables({**environ, "AWS_SESSION_TOKEN": "session-token-of-the-runtime"})

    assert "ENVIRONMENT" in str(error.value)
    assert "session-token-of-the-runtime" not in str(error.value)


READER = ReaderSettings(
    environment="dev",
    company_table_name="ai-multi-comms-company-data-dev",
    conversations_table_name="ai-multi-comms-conversations-dev",
    consent_key_secret_id="ai-multi-comms/consent-key-dev",
)
TENANT_EVENTS = TenantEventsSettings(
    environment="prod",
    company_table_name="ai-multi-comms-company-data-prod",
    webhook_events_table_name="ai-multi-comms-webhook-events-prod",
    webhook_queue_url="https://sqs/webhooks.fifo",
    conversation_retention_days=400,
)
WEBHOOK_SENDER = WebhookSenderSettings(
    environment="dev",
    company_table_name="ai-multi-comms-company-data-dev",
    webhook_events_table_name="ai-multi-comms-webhook-events-dev",
    webhook_queue_url="https://sqs/webhooks.fifo",
    webhook_dlq_url="https://sqs/webhooks-dlq.fifo",
)


@pytest.mark.parametrize("settings", [READER, TENANT_EVENTS, WEBHOOK_SENDER], ids=lambda s: type(s).__name__)
def test_the_tenant_side_functions_read_back_the_environment_their_settings_render(settings):
    rendered = settings.to_environment()

    assert rendered["ENVIRONMENT"] == settings.environment
    assert "AWS_ENDPOINT_URL" not in rendered
    assert type(settings).from_variables({**rendered, "PATH": "/usr/bin"}) == settings


def test_the_tenant_events_retention_is_rendered_as_a_number_of_days():
    assert TENANT_EVENTS.to_environment()["CONVERSATION_RETENTION_DAYS"] == "400"


def test_the_sender_leaves_its_timeouts_to_the_code_and_never_renders_local_targets_unless_set():
    rendered = WEBHOOK_SENDER.to_environment()

    assert set(rendered) == {
        "ENVIRONMENT",
        "COMPANY_TABLE_NAME",
        "WEBHOOK_EVENTS_TABLE_NAME",
        "WEBHOOK_QUEUE_URL",
        "WEBHOOK_DLQ_URL",
    }
    read_back = WebhookSenderSettings.from_variables(rendered)
    assert read_back.allow_local_targets is False
    assert (read_back.request_timeout_seconds, read_back.retry_hours) == (5, 24)
    # Only the local stack sets it, and then it is read.
    assert WebhookSenderSettings.from_variables({**rendered, "WEBHOOK_ALLOW_LOCAL_TARGETS": "true"}).allow_local_targets
