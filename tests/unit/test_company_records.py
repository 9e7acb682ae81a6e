"""How ``comms company put`` prepares a record: the router's model, the tenant's own secrets, a safe webhook, the
table's bound keys and creation time kept."""

import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from tests.conftest import EXAMPLES
from tools.comms.company_records import RecordRefused, prepared_record, read_record_file

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_the_example_record_is_bound_to_the_given_key_and_loses_the_placeholder():
    record = prepared_record(
        read_record_file(EXAMPLES / "company_record.example.json"), api_key_ids=["k1"], now=NOW, env="dev"
    )
    assert record["api_key_ids"] == ["k1"]
    assert record["updated_at"] == "2026-11-25T12:00:00Z"
    assert record["created_at"] == "2026-11-24T09:00:00Z"


def test_a_record_the_router_could_not_read_is_refused(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text((EXAMPLES / "company_record.example.json").read_text().replace('"active"', '"paused"'))
    with pytest.raises(ValidationError):
        prepared_record(read_record_file(broken), api_key_ids=[], now=NOW, env="dev")


def test_an_existing_record_keeps_the_keys_bound_in_the_table_not_those_of_the_file():
    existing = {"api_key_ids": ["bound-since"], "created_at": "2026-01-01T00:00:00Z"}
    record = prepared_record(
        read_record_file(EXAMPLES / "company_record.example.json"),
        api_key_ids=["new"],
        now=NOW,
        env="dev",
        existing=existing,
    )
    assert record["api_key_ids"] == ["bound-since", "new"]
    assert record["created_at"] == "2026-01-01T00:00:00Z"


@pytest.mark.parametrize(
    ("channel", "secret_id", "why"),
    [
        ("sms", "ai-multi-comms/sms-credentials/ci-other-002/pi-demo-001/twilio-dev", "ci-demo-001/pi-demo-001"),
        ("email", "ai-multi-comms/email-credentials/cucumber-recruitment/clarify-cv/sendgrid-dev", "ci-demo-001"),
        ("whatsapp", "ai-multi-comms/sms-credentials/ci-demo-001/pi-demo-001/twilio-dev", "whatsapp-credentials"),
        ("sms", "ai-multi-comms/sms-credentials/ci-demo-001/pi-demo-001/twilio-prod", "-dev"),
    ],
    ids=["another-company", "no-tenant", "another-channel", "another-env"],
)
def test_a_record_naming_credentials_outside_its_tenant_is_refused_with_the_field_named(
    tmp_path, channel, secret_id, why
):
    record = json.loads((EXAMPLES / "company_record.example.json").read_text())
    record["channel_config"][channel][f"{channel}_credentials_id"] = secret_id
    path = tmp_path / "record.json"
    path.write_text(json.dumps(record))

    with pytest.raises(RecordRefused) as refused:
        prepared_record(read_record_file(path), api_key_ids=[], now=NOW, env="dev")

    assert f"channel_config.{channel}.{channel}_credentials_id" in str(refused.value)
    assert why in str(refused.value)


def test_a_provider_secret_is_refused_as_the_openai_key(tmp_path):
    record = json.loads((EXAMPLES / "company_record.example.json").read_text())
    record["ai_config"]["openai_config"]["sms"]["api_key_reference"] = record["channel_config"]["sms"][
        "sms_credentials_id"
    ]
    path = tmp_path / "record.json"
    path.write_text(json.dumps(record))

    with pytest.raises(
        RecordRefused, match=r"ai_config\.openai_config\.sms\.api_key_reference.*openai-api-key/sms-dev"
    ):
        prepared_record(read_record_file(path), api_key_ids=[], now=NOW, env="dev")


def _with_webhook(tmp_path, url: str, secret: str = "ai-multi-comms/webhook-secrets/ci-demo-001/pi-demo-001-dev"):
    record = json.loads((EXAMPLES / "company_record.example.json").read_text())
    record["webhook"] = {"url": url, "secret_reference": secret}
    path = tmp_path / "record.json"
    path.write_text(json.dumps(record))
    return path


def test_a_public_https_webhook_with_its_own_secret_is_kept(tmp_path):
    record = prepared_record(
        read_record_file(_with_webhook(tmp_path, "https://hooks.example.com/ai")), api_key_ids=[], now=NOW, env="dev"
    )
    assert record["webhook"]["url"] == "https://hooks.example.com/ai"


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://hooks.example.com/ai", "must start with https://"),
        ("https://10.0.0.7/ai", "private"),
        ("https://169.254.169.254/latest", "link-local"),
        ("https://127.0.0.1:8443/ai", "loopback"),
        ("https://localhost/ai", "this machine"),
    ],
    ids=["http", "private", "metadata", "loopback", "localhost"],
)
def test_a_webhook_the_engine_must_not_call_is_refused_with_the_reason(tmp_path, url, why):
    # The model refuses a private address literal itself (its shape); the environment's rule the rest.
    with pytest.raises((RecordRefused, ValidationError), match=f"(?s)webhook.url.*{why}"):
        prepared_record(read_record_file(_with_webhook(tmp_path, url)), api_key_ids=[], now=NOW, env="dev")


def test_a_local_receiver_is_admitted_only_when_asked_and_a_private_one_never(tmp_path):
    local = _with_webhook(tmp_path, "http://127.0.0.1:9911/hooks")
    record = prepared_record(read_record_file(local), api_key_ids=[], now=NOW, env="dev", allow_local_webhook=True)
    assert record["webhook"]["url"] == "http://127.0.0.1:9911/hooks"
    with pytest.raises((RecordRefused, ValidationError), match="private"):
        prepared_record(
            read_record_file(_with_webhook(tmp_path, "http://192.168.1.20/hooks")),
            api_key_ids=[],
            now=NOW,
            env="dev",
            allow_local_webhook=True,
        )


@pytest.mark.parametrize(
    "secret",
    [
        "ai-multi-comms/webhook-secrets/ci-other-002/pi-demo-001-dev",
        "ai-multi-comms/webhook-secrets/ci-demo-001/pi-demo-001-prod",
        "ai-multi-comms/sms-credentials/ci-demo-001/pi-demo-001/twilio-dev",
    ],
    ids=["another-company", "another-env", "not-a-webhook-secret"],
)
def test_a_webhook_naming_a_secret_that_is_not_its_own_is_refused(tmp_path, secret):
    with pytest.raises(RecordRefused, match=r"webhook\.secret_reference"):
        prepared_record(
            read_record_file(_with_webhook(tmp_path, "https://hooks.example.com/ai", secret)),
            api_key_ids=[],
            now=NOW,
            env="dev",
        )
