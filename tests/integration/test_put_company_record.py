import json

from tests.conftest import EXAMPLES
from tools.put_company_record import main


def test_putting_a_record_twice_binds_both_keys_and_keeps_its_creation_time(aws):
    assert main([str(EXAMPLES / "company_record.example.json"), "--env", "dev", "--api-key-id", "k1"]) == 0
    first = aws.table("company-data").get_item(Key={"company_id": "ci-demo-001", "project_id": "pi-demo-001"})["Item"]
    assert main([str(EXAMPLES / "company_record.example.json"), "--env", "dev", "--api-key-id", "k2"]) == 0
    second = aws.table("company-data").get_item(Key={"company_id": "ci-demo-001", "project_id": "pi-demo-001"})["Item"]
    assert first["api_key_ids"] == ["k1"]
    assert second["api_key_ids"] == ["k1", "k2"]
    assert second["created_at"] == first["created_at"]


def test_a_record_naming_another_tenants_credentials_is_not_put(aws, tmp_path, capsys):
    record = json.loads((EXAMPLES / "company_record.example.json").read_text())
    record["channel_config"]["email"]["email_credentials_id"] = (
        "ai-multi-comms/email-credentials/ci-other-002/pi-other-002/sendgrid-dev"
    )
    path = tmp_path / "record.json"
    path.write_text(json.dumps(record))

    assert main([str(path), "--env", "dev"]) == 2

    assert "channel_config.email.email_credentials_id" in capsys.readouterr().err
    assert "Item" not in aws.table("company-data").get_item(
        Key={"company_id": "ci-demo-001", "project_id": "pi-demo-001"}
    )


def _webhook_record(tmp_path, url: str):
    record = json.loads((EXAMPLES / "company_record.example.json").read_text())
    record["webhook"] = {"url": url, "secret_reference": "ai-multi-comms/webhook-secrets/ci-demo-001/pi-demo-001-dev"}
    path = tmp_path / "record.json"
    path.write_text(json.dumps(record))
    return path


def _stored(aws):
    return (
        aws.table("company-data").get_item(Key={"company_id": "ci-demo-001", "project_id": "pi-demo-001"}).get("Item")
    )


def test_a_local_receiver_is_put_with_the_flag_against_the_local_stack_and_refused_without(aws, tmp_path, capsys):
    path = _webhook_record(tmp_path, "http://127.0.0.1:9911/hooks")

    assert main([str(path), "--env", "dev"]) == 2
    assert "webhook.url: the webhook url must start with https://" in capsys.readouterr().err
    assert _stored(aws) is None

    assert main([str(path), "--env", "dev", "--allow-local-webhook"]) == 0
    assert _stored(aws)["webhook"]["url"] == "http://127.0.0.1:9911/hooks"


def test_the_local_flag_is_refused_against_anything_but_the_local_stack(aws, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://dynamodb.eu-west-2.amazonaws.com")

    assert (
        main([str(_webhook_record(tmp_path, "http://127.0.0.1:9911/hooks")), "--env", "dev", "--allow-local-webhook"])
        == 2
    )

    assert "only for the local stack" in capsys.readouterr().err
