"""Fixtures every layer shares: the example files and an AWS emulator (moto server, in-process)."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
REGION = "eu-north-1"

# Fixture modules of each part of the engine, shared by every test layer.
pytest_plugins = [
    "tests.fixtures.sandboxes",
    "tests.fixtures.processors",
    "tests.fixtures.inbound",
    "tests.fixtures.comms",
]

# Nothing in a test may reach real AWS: fake credentials, a fixed region, no instance metadata.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "POWERTOOLS_METRICS_NAMESPACE": "AiMultiComms",
    }
)
os.environ.pop("AWS_PROFILE", None)


@pytest.fixture
def initiate_request_example() -> dict[str, Any]:
    return copy.deepcopy(json.loads((EXAMPLES / "initiate_request.example.json").read_text()))


@pytest.fixture
def company_record_example() -> dict[str, Any]:
    return copy.deepcopy(json.loads((EXAMPLES / "company_record.example.json").read_text()))


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    from local.aws_emulator import AwsEmulator

    server = AwsEmulator()
    server.start()
    yield server.endpoint_url
    server.stop()


@pytest.fixture
def aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch):
    """A clean emulator holding the dev tables and channel queues, and boto3 pointed at it."""
    from local.emulator import provision
    from shared.consent.address_hash import forget_cached_keys
    from stacks.settings import load_settings

    requests.post(f"{moto_endpoint}/moto-api/reset", timeout=10).raise_for_status()
    forget_cached_keys()  # the new emulator's consent key is a new one
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    return provision(load_settings("dev"), endpoint_url=moto_endpoint, region=REGION)
