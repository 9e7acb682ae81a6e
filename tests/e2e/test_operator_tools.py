"""The operator tools as the README runs them on ``make local``: a fresh shell that sources
``.local/env`` and nothing else (no AWS_DEFAULT_REGION of the caller, no ~/.aws)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.e2e.conftest import ROOT

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
