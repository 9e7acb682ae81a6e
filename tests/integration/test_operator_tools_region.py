"""``comms --env dev`` run from a fresh shell on a clean machine: the region is cdk.json's for the
environment, whatever region the shell names (``. .local/env`` exports one), and none is needed."""

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


@pytest.mark.parametrize(
    "region",
    [{"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1"}, {}],
    ids=["a shell's other region", "none"],
)
def test_comms_company_put_finds_the_table_in_the_region_of_cdk_json(aws, region):
    # The engine's tables live in cdk.json's dev region only: the region the shell names must not win.
    record = str(EXAMPLES / "company_record.example.json")

    done = _run(_clean_environment(aws, **region), "tools.comms", "company", "put", record, "--env", "dev")

    assert done.returncode == 0, done.stderr
    key = {"company_id": "ci-demo-001", "project_id": "pi-demo-001"}
    assert aws.table("company-data").get_item(Key=key)["Item"]["company_id"] == "ci-demo-001"
