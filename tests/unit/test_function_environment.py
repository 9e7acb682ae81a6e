"""A function's settings model is its environment contract: what it renders, it reads back."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.routing.settings import RouterSettings

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
