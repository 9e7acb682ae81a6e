"""Onboarding a second company on a running `make local` with `comms`, as the README tells an
operator to: its record (`comms company put`, in a fresh process), its key (`comms apikey
create`), a request with that key, then the project switched off and the key revoked.

The second company's provider credentials are written with boto3 here; `comms secrets put` will.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shared.secret_names import credentials_secret_name
from tests.e2e.test_local_stack import _aws, conversation, example_request, wait_for
from tests.fixtures.comms import run_comms

pytestmark = pytest.mark.e2e

COMPANY, PROJECT = "ci-second-002", "pi-second-001"
SMS_SENDER = "+447700900614"
RECIPIENT = "+447700900414"  # its own number: the session's other tests never meet this person


def _second_company_record(seeded_company: str, seeded_project: str) -> dict[str, Any]:
    """The example record, as another company with its own ids, name and SMS sender (SMS only)."""
    text = (Path(__file__).resolve().parents[2] / "examples" / "company_record.example.json").read_text()
    record: dict[str, Any] = json.loads(text.replace(seeded_company, COMPANY).replace(seeded_project, PROJECT))
    record.update(company_name="Second Company", project_name="Second Project", allowed_channels=["sms"])
    record["channel_config"] = {"sms": record["channel_config"]["sms"] | {"company_sms_number": SMS_SENDER}}
    record["ai_config"]["openai_config"] = {"sms": record["ai_config"]["openai_config"]["sms"]}
    return record


def _provider_secret(stack) -> None:
    """The second company's Twilio credentials: the sandbox's (copied from the seeded tenant's)."""
    env = stack.env["ENVIRONMENT"]
    manager = _aws(stack, "secretsmanager")
    seeded = credentials_secret_name("sms", stack.env["COMPANY_ID"], stack.env["PROJECT_ID"], "twilio", env)
    value = manager.get_secret_value(SecretId=seeded)["SecretString"]
    manager.create_secret(Name=credentials_secret_name("sms", COMPANY, PROJECT, "twilio", env), SecretString=value)


def _request() -> dict[str, Any]:
    body = example_request("sms")
    body["company_data"].update(company_id=COMPANY, project_id=PROJECT)
    body["recipient_data"]["recipient_tel"] = RECIPIENT
    return body


def test_a_second_company_onboarded_with_comms_is_served_switched_off_and_revoked(local_stack, tmp_path):
    env_file = local_stack.state_dir / "env"
    record_file = tmp_path / "second_company.json"
    record_file.write_text(
        json.dumps(_second_company_record(local_stack.env["COMPANY_ID"], local_stack.env["PROJECT_ID"]))
    )
    _provider_secret(local_stack)

    # The record, from a fresh process that knows only the state folder (as `.venv/bin/comms … --env local`).
    put = run_comms(env_file, "company", "put", str(record_file), subprocess_run=True)
    assert put.code == 0, put.stderr
    created = run_comms(env_file, "apikey", "create", "--name", f"{COMPANY}-{PROJECT}",
                        "--company-id", COMPANY, "--project-id", PROJECT, "--json")  # fmt: skip
    assert created.code == 0, created.stderr
    key = created.json()

    served = local_stack.post(_request(), key=key["value"])
    assert served.status_code == 200, served.text
    record = wait_for(lambda: conversation(local_stack, RECIPIENT, served.json()["conversation_id"]))
    assert (record["company_id"], record["project_id"]) == (COMPANY, PROJECT)

    # The first tenant's key acts for its own project only.
    other_tenants_key = local_stack.post(_request())
    assert (other_tenants_key.status_code, other_tenants_key.json()["error_code"]) == (403, "API_KEY_NOT_AUTHORIZED")

    assert run_comms(env_file, "company", "set-status", COMPANY, PROJECT, "inactive").code == 0
    switched_off = local_stack.post(_request(), key=key["value"])
    assert (switched_off.status_code, switched_off.json()["error_code"]) == (403, "PROJECT_INACTIVE")
    assert run_comms(env_file, "company", "set-status", COMPANY, PROJECT, "active").code == 0
    assert local_stack.post(_request(), key=key["value"]).status_code == 200

    revoked = run_comms(env_file, "apikey", "revoke", key["id"], "--yes")
    assert revoked.code == 0, revoked.stderr
    # At once the router refuses it (no project binds it any more); within a second the gateway
    # does, having read its keys again (local/api_keys.py), as API Gateway does within seconds.
    assert local_stack.post(_request(), key=key["value"]).status_code == 403

    def gateway_refusal() -> dict[str, Any] | None:
        answer = local_stack.post(_request(), key=key["value"])
        return answer.json() if answer.json().get("error_code") == "INVALID_API_KEY" else None

    assert wait_for(gateway_refusal, timeout=10)["message"] == "A valid x-api-key header is required"
    listed = run_comms(env_file, "company", "show", COMPANY, PROJECT, "--json")
    assert listed.json()["api_key_ids"] == []
