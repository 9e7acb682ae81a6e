"""The operator tools run the way the README runs them: a fresh shell holding only what
``.local/env`` exports (AWS_REGION, not AWS_DEFAULT_REGION), or nothing but credentials, when the
region comes from cdk.json's environment settings."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import EXAMPLES, ROOT


def _clean_environment(aws, **extra: str) -> dict[str, str]:
    """No region variable and no AWS config unless given: as a fresh shell on a clean machine."""
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(ROOT / ".no-home"),  # no ~/.aws/config to fall back on
        "AWS_ENDPOINT_URL": aws.endpoint_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_EC2_METADATA_DISABLED": "true",
        **extra,
    }


def _run(environment: dict[str, str], *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *arguments], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("region", [{"AWS_REGION": "eu-north-1"}, {}], ids=["as .local/env sets it", "from cdk.json"])
def test_put_company_record_finds_the_table_in_the_environment_s_region(aws, region):
    record = str(EXAMPLES / "company_record.example.json")

    done = _run(_clean_environment(aws, **region), "tools.put_company_record", record, "--env", "dev")

    assert done.returncode == 0, done.stderr
    key = {"company_id": "ci-demo-001", "project_id": "pi-demo-001"}
    assert aws.table("company-data").get_item(Key=key)["Item"]["company_id"] == "ci-demo-001"
