"""The secret naming rule: a project's provider credentials carry its company and project ids, and
only the name of its own, in its own channel and environment, passes."""

from __future__ import annotations

import pytest

from shared.models.company import CompanyRecord
from shared.secret_names import (
    credentials_secret_name,
    credentials_secret_problem,
    openai_secret_name,
    openai_secret_problem,
)
from tests.conftest import EXAMPLES, ROOT

OWN = {"channel": "sms", "company_id": "ci-a", "project_id": "pi-a", "provider": "twilio", "env": "dev"}


def test_the_name_holds_the_tenant_the_channel_the_provider_and_the_environment():
    assert credentials_secret_name("sms", "ci-a", "pi-a", "twilio", "dev") == (
        "ai-multi-comms/sms-credentials/ci-a/pi-a/twilio-dev"
    )


def test_a_projects_own_credentials_pass():
    assert credentials_secret_problem("ai-multi-comms/sms-credentials/ci-a/pi-a/twilio-dev", **OWN) is None


@pytest.mark.parametrize(
    "secret_id",
    [
        "ai-multi-comms/sms-credentials/ci-b/pi-a/twilio-dev",  # another company
        "ai-multi-comms/sms-credentials/ci-a/pi-b/twilio-dev",  # another project of the same company
        "ai-multi-comms/sms-credentials/cucumber-recruitment/clarify-cv/twilio-dev",  # the old slug form
        "ai-multi-comms/sms-credentials/twilio-dev",  # no tenant at all
        "ai-multi-comms/whatsapp-credentials/ci-a/pi-a/twilio-dev",  # another channel
        "ai-multi-comms/sms-credentials/ci-a/pi-a/twilio-prod",  # another environment
        "ai-multi-comms/sms-credentials/ci-a/pi-a/sendgrid-dev",  # another provider
        "ai-multi-comms/sms-credentials/ci-a/pi-a/twilio-dev/../../ci-b/pi-b/twilio-dev",
        "ai-multi-comms/sms-credentials/ci-a/pi-a/twilio-dev-old",
        "ai-multi-comms/openai-api-key/sms-dev",
        "",
    ],
)
def test_any_other_secret_is_refused_with_the_name_it_should_have(secret_id):
    problem = credentials_secret_problem(secret_id, **OWN)

    assert problem is not None
    assert "ai-multi-comms/sms-credentials/ci-a/pi-a/twilio-dev" in problem


def test_the_openai_key_is_the_channels_shared_one_and_no_tenants_credentials():
    assert openai_secret_problem(openai_secret_name("sms", "dev"), channel="sms", env="dev") is None
    for other in ("ai-multi-comms/sms-credentials/ci-a/pi-a/twilio-dev", "ai-multi-comms/openai-api-key/email-dev"):
        assert "ai-multi-comms/openai-api-key/sms-dev" in openai_secret_problem(other, channel="sms", env="dev")


def test_the_documented_examples_are_the_names_the_engine_uses():
    record = CompanyRecord.model_validate_json((EXAMPLES / "company_record.example.json").read_text())
    docs = (ROOT / "docs" / "secrets.md").read_text()
    readme = (ROOT / "README.md").read_text()
    for channel in ("whatsapp", "sms", "email"):
        config = record.channel_config.for_channel(channel)
        name = config.credentials_secret_name(record.company_id, record.project_id, "dev")
        assert config.credentials_secret_id == name  # the sample record follows the convention
        assert f"`{name}`" in docs
    assert record.channel_config.sms.credentials_secret_id in readme
    assert f"`{openai_secret_name('sms', 'dev')}`" in docs
