"""The operator tools as the README runs them on ``make local``: a fresh shell that sources
``.local/env`` and nothing else (no AWS_DEFAULT_REGION of the caller, no ~/.aws)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.e2e.conftest import ROOT
from tests.e2e.test_local_stack import example_request

pytestmark = pytest.mark.e2e


def _in_a_fresh_shell(stack, command: str) -> subprocess.CompletedProcess[str]:
    script = f". {stack.state_dir / 'env'}; {command}"
    fresh = {"PATH": "/usr/bin:/bin", "HOME": str(stack.state_dir / "no-home")}
    return subprocess.run(["bash", "-c", script], cwd=ROOT, env=fresh, capture_output=True, text=True, timeout=120)


def test_put_company_record_binds_the_local_key_from_a_fresh_shell(local_stack):
    command = (
        f"{sys.executable} -m tools.put_company_record examples/company_record.example.json"
        ' --env dev --api-key-id "$API_KEY_ID"'
    )

    done = _in_a_fresh_shell(local_stack, command)

    assert done.returncode == 0, done.stderr
    assert local_stack.env["API_KEY_ID"] in done.stdout


def test_an_operators_suppression_refuses_the_next_request_and_lifting_it_lets_it_through(local_stack):
    # Its own number, so the session's other tests never meet this entry.
    number = "+447700900777"
    address = f"--env dev --company-id ci-demo-001 --channel sms --address {number}"
    body = example_request("sms")
    body["recipient_data"]["recipient_tel"] = number

    added = _in_a_fresh_shell(local_stack, f"{sys.executable} -m tools.suppressions add {address} --by e2e")
    refused = local_stack.post(body)
    listed = _in_a_fresh_shell(
        local_stack, f"{sys.executable} -m tools.suppressions list --env dev --company-id ci-demo-001"
    )
    removed = _in_a_fresh_shell(
        local_stack, f"{sys.executable} -m tools.suppressions remove {address} --by e2e --reason 'asked to rejoin'"
    )
    accepted = local_stack.post(body)

    assert added.returncode == 0, added.stderr
    assert (refused.status_code, refused.json()["error_code"]) == (409, "RECIPIENT_OPTED_OUT")
    assert "+44********77" in listed.stdout and "7700900777" not in listed.stdout
    assert removed.returncode == 0, removed.stderr
    assert accepted.status_code == 200, accepted.text
