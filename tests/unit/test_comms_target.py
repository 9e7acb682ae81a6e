"""Where ``comms`` acts: the environment's region from cdk.json, the local stack from its env file."""

from __future__ import annotations

import pytest

from tests.fixtures.comms import local_env_file
from tools.comms.errors import CommandError
from tools.comms.target import resolve_target


def test_a_deployed_environment_takes_its_region_from_cdk_json_not_the_shell():
    target = resolve_target("prod", environ={"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1"})

    assert (target.env, target.region, target.is_local) == ("prod", "eu-north-1", False)
    assert target.name("company-data") == "ai-multi-comms-company-data-prod"


def test_an_explicit_region_wins():
    assert resolve_target("dev", "eu-west-1", environ={}).region == "eu-west-1"


def test_local_reads_the_env_file_of_the_running_stack(tmp_path):
    path = local_env_file(tmp_path / "env", endpoint_url="http://127.0.0.1:4566", region="eu-north-1")

    target = resolve_target("local", environ={"COMMS_LOCAL_ENV_FILE": str(path), "AWS_REGION": "us-east-1"})

    assert (target.env, target.region, target.endpoint_url) == ("dev", "eu-north-1", "http://127.0.0.1:4566")
    assert target.client("sqs").meta.endpoint_url == "http://127.0.0.1:4566"


def test_local_without_a_running_stack_says_how_to_start_one(tmp_path):
    with pytest.raises(CommandError, match="make local"):
        resolve_target("local", environ={"COMMS_LOCAL_ENV_FILE": str(tmp_path / "missing")})


def test_an_unknown_environment_is_refused():
    with pytest.raises(CommandError, match="staging"):
        resolve_target("staging", environ={})
