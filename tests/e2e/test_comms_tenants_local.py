"""Onboarding a second company on a running `make local` with `comms`, as the README tells an
operator to: its record (`comms company put`, in a fresh process), its key (`comms apikey
create`), a request with that key, then the project switched off and the key revoked.

The second company's provider credentials are the sandbox's (`make local`'s defaults), put with
`comms secrets put credentials`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from local.seed import ProviderSecrets
from tests.e2e.test_local_stack import conversation, example_request, wait_for
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


def _put_provider_secret(env_file: Path, folder: Path) -> None:
    """The second company's Twilio credentials, as README's walkthrough puts them."""
    sandbox = ProviderSecrets()
    twilio = folder / "twilio.json"
    twilio.write_text(json.dumps({"twilio_account_sid": sandbox.twilio_account_sid,
                                  "twilio_auth_token": sandbox.twilio_auth_token}))  # fmt: skip
    put = run_comms(env_file, "secrets", "put", "credentials", "--channel", "sms", "--company-id", COMPANY,
                    "--project-id", PROJECT, "--file", str(twilio))  # fmt: skip
    assert put.code == 0, put.stderr


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
    _put_provider_secret(env_file, tmp_path)

    # The record, from a fresh process that knows only the state folder (as `.venv/bin/comms … --env local`).
    put = run_comms(env_file, "company", "put", str(record_file), subprocess_run=True)
    assert put.code == 0, put.stderr
    checked = run_comms(env_file, "secrets", "check", "--company-id", COMPANY, "--project-id", PROJECT)
    assert checked.code == 0, checked.stdout + checked.stderr
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
