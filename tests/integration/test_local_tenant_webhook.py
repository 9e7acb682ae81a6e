"""``python -m local.tenant_webhook`` as the README runs it: a fresh shell that sources the local
stack's env file, against the emulator; the project's ``webhook`` and its signing secret written,
the secret printed once and verifying a Standard Webhooks signature."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from standardwebhooks.webhooks import Webhook

from local.env_file import write_env_file
from local.seed import EXAMPLE_RECORD
from shared import json_codec
from shared.models.company import CompanyRecord
from shared.secret_names import webhook_secret_name
from tests.conftest import REGION

ROOT = Path(__file__).resolve().parents[2]
SECRET_ID = webhook_secret_name("ci-demo-001", "pi-demo-001", "dev")


@pytest.fixture
def env_file(aws, tmp_path) -> Path:
    aws.table("company-data").put_item(Item=json_codec.loads(EXAMPLE_RECORD.read_text()))
    values = {
        "AWS_ENDPOINT_URL": aws.endpoint_url,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "ENVIRONMENT": "dev",
        "COMPANY_ID": "ci-demo-001",
        "PROJECT_ID": "pi-demo-001",
    }
    return write_env_file(tmp_path / "env", values)


def _tool(env_file: Path, arguments: str) -> subprocess.CompletedProcess[str]:
    script = f". {env_file}; {sys.executable} -m local.tenant_webhook --env-file {env_file} {arguments}"
    fresh = {"PATH": "/usr/bin:/bin", "HOME": str(env_file.parent / "no-home")}
    return subprocess.run(["bash", "-c", script], cwd=ROOT, env=fresh, capture_output=True, text=True, timeout=120)


def _record(aws) -> dict:
    return aws.table("company-data").get_item(Key={"company_id": "ci-demo-001", "project_id": "pi-demo-001"})["Item"]


def _printed_secret(output: str) -> str:
    (line,) = [line for line in output.splitlines() if line.startswith("signing secret")]
    return line.rsplit(" ", 1)[-1]


def test_setting_a_url_writes_the_webhook_and_a_secret_that_signs_as_standard_webhooks(aws, env_file):
    done = _tool(env_file, "--url http://127.0.0.1:9000/events")

    assert done.returncode == 0, done.stderr
    secret = _printed_secret(done.stdout)
    assert secret.startswith("whsec_") and done.stdout.count(secret) == 1
    record = _record(aws)
    assert record["webhook"] == {"url": "http://127.0.0.1:9000/events", "secret_reference": SECRET_ID}
    assert CompanyRecord.model_validate(record).secret_problems("dev") == []
    stored = aws.client("secretsmanager").get_secret_value(SecretId=SECRET_ID)["SecretString"]
    assert stored == secret
    body = json.dumps({"id": "evt_1", "type": "conversation.sent"})
    signer = Webhook(secret)
    now = datetime.now(UTC)
    headers = {"webhook-id": "evt_1", "webhook-timestamp": str(int(now.timestamp()))}
    headers["webhook-signature"] = signer.sign("evt_1", now, body)
    assert Webhook(stored).verify(body, headers) == json.loads(body)


def test_a_second_run_keeps_the_secret_a_new_secret_replaces_it_and_remove_unsets_both(aws, env_file):
    first = _printed_secret(_tool(env_file, "--url http://127.0.0.1:9000/events").stdout)
    moved = _tool(env_file, "--url https://example.com/hooks --company-id ci-demo-001 --project-id pi-demo-001")
    manager = aws.client("secretsmanager")
    assert moved.returncode == 0 and "whsec_" not in moved.stdout and "unchanged" in moved.stdout
    assert _record(aws)["webhook"]["url"] == "https://example.com/hooks"
    assert manager.get_secret_value(SecretId=SECRET_ID)["SecretString"] == first

    replaced = _printed_secret(_tool(env_file, "--url https://example.com/hooks --new-secret").stdout)
    assert replaced != first and manager.get_secret_value(SecretId=SECRET_ID)["SecretString"] == replaced

    removed = _tool(env_file, "--remove")

    assert removed.returncode == 0, removed.stderr
    assert "webhook removed" in removed.stdout and "whsec_" not in removed.stdout
    assert "webhook" not in _record(aws)
    with pytest.raises(manager.exceptions.ResourceNotFoundException):
        manager.get_secret_value(SecretId=SECRET_ID)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/hooks", "must start with https://"),
        ("http://10.0.0.7/hooks", "private"),
        ("http://169.254.169.254/latest", "link-local"),
        ("https://user:pw@example.com/hooks", "credentials"),
    ],
)
def test_a_url_the_engine_would_refuse_is_refused_and_nothing_is_written(aws, env_file, url, reason):
    done = _tool(env_file, f"--url '{url}'")

    assert done.returncode == 2 and reason in done.stderr
    assert "pw" not in done.stderr
    assert "webhook" not in _record(aws)
    names = [s["Name"] for s in aws.client("secretsmanager").list_secrets()["SecretList"]]
    assert SECRET_ID not in names


def test_an_unknown_project_is_refused(aws, env_file):
    done = _tool(env_file, "--url http://127.0.0.1:9000/events --project-id pi-nope-001")
    assert done.returncode == 2 and "no project ci-demo-001/pi-nope-001" in done.stderr
