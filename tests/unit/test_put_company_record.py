import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from tests.conftest import EXAMPLES
from tools.put_company_record import RecordRefused, prepared_record

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_the_example_record_is_bound_to_the_given_key_and_loses_the_placeholder():
    record = prepared_record(EXAMPLES / "company_record.example.json", api_key_ids=["k1"], now=NOW, env="dev")
    assert record["api_key_ids"] == ["k1"]
    assert record["updated_at"] == "2026-11-25T12:00:00Z"
    assert record["created_at"] == "2026-11-24T09:00:00Z"


def test_a_record_the_router_could_not_read_is_refused(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text((EXAMPLES / "company_record.example.json").read_text().replace('"active"', '"paused"'))
    with pytest.raises(ValidationError):
        prepared_record(broken, api_key_ids=[], now=NOW, env="dev")


def test_an_existing_record_keeps_the_keys_bound_in_the_table_not_those_of_the_file():
    existing = {"api_key_ids": ["bound-since"], "created_at": "2026-01-01T00:00:00Z"}
    record = prepared_record(
        EXAMPLES / "company_record.example.json", api_key_ids=["new"], now=NOW, env="dev", existing=existing
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
        prepared_record(path, api_key_ids=[], now=NOW, env="dev")

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
        prepared_record(path, api_key_ids=[], now=NOW, env="dev")
