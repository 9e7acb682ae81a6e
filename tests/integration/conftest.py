"""Fixtures of the handler tests: a Lambda context, and the channel router wired to the emulator."""

from __future__ import annotations

import importlib.util
import json
import logging
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer

from local.emulator import LocalResources
from local.rest_proxy_event import rest_proxy_event
from shared.channels import ALL_CHANNELS, Channel
from shared.routing.settings import RouterSettings
from shared.tables import COMPANY_DATA, RATE_LIMITS, SUPPRESSIONS
from tests.conftest import ROOT

ROUTER_DIR = ROOT / "lambdas" / "channel_router"
API_KEY = "k3y-VALUE-of-company-A-never-to-be-echoed"
API_KEY_ID = "q7zkx0mwv3"
OTHER_API_KEY_ID = "zz9yy8xx7w"


@dataclass
class FakeLambdaContext:
    """What the Lambda runtime passes as ``context`` (the attributes Powertools reads)."""

    function_name: str = "ai-multi-comms-channel-router-dev"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:eu-north-1:123456789012:function:ai-multi-comms-channel-router-dev"
    aws_request_id: str = "5c1b7a4e-0000-4000-8000-000000000001"
    log_group_name: str = "/aws/lambda/ai-multi-comms-channel-router-dev"
    log_stream_name: str = "2026/11/24/[$LATEST]0000"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def _load_router_handler() -> Any:
    name = "channel_router_handler"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROUTER_DIR / "handler.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def _dynamodb_value(value: Any) -> Any:
    """Floats as Decimal (what DynamoDB stores); sets stay sets (string sets)."""
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {key: _dynamodb_value(child) for key, child in value.items()}
    if isinstance(value, list):
        return [_dynamodb_value(child) for child in value]
    return value


@dataclass
class RouterReply:
    status: int
    headers: dict[str, str]
    body: dict[str, Any]
    raw: dict[str, Any] = field(repr=False)


@dataclass
class RouterHarness:
    """The real router handler, pointed at the emulator's tables and queues."""

    aws: LocalResources
    module: Any

    def put_company(self, record: dict[str, Any]) -> None:
        serializer = TypeSerializer()
        item = {name: serializer.serialize(_dynamodb_value(value)) for name, value in record.items()}
        self.aws.client("dynamodb").put_item(TableName=self.aws.table_name(COMPANY_DATA.logical_name), Item=item)

    def event(
        self,
        body: Any,
        *,
        api_key_id: str | None = API_KEY_ID,
        encode: bool = True,
        **options: Any,
    ) -> dict[str, Any]:
        text = json.dumps(body) if encode else body
        return rest_proxy_event(
            body=text,
            headers={"Content-Type": "application/json", "x-api-key": API_KEY, "User-Agent": "pytest"},
            api_key=API_KEY if api_key_id else None,
            api_key_id=api_key_id,
            **options,
        )

    def call(self, event: dict[str, Any]) -> RouterReply:
        raw = self.module.handler(event, FakeLambdaContext())
        return RouterReply(status=raw["statusCode"], headers=raw["headers"], body=json.loads(raw["body"]), raw=raw)

    def post(self, body: Any, **options: Any) -> RouterReply:
        return self.call(self.event(body, **options))

    def messages(self, channel: Channel) -> list[dict[str, Any]]:
        """Every message on the channel's queue (received and left in flight, so each is seen once)."""
        sqs = self.aws.client("sqs")
        found: list[dict[str, Any]] = []
        while True:
            batch = sqs.receive_message(
                QueueUrl=self.aws.queues[channel].queue_url,
                MaxNumberOfMessages=10,
                MessageAttributeNames=["All"],
                AttributeNames=["All"],
                VisibilityTimeout=600,
            ).get("Messages", [])
            if not batch:
                return found
            found.extend(batch)

    def all_messages(self) -> dict[Channel, list[dict[str, Any]]]:
        return {channel: self.messages(channel) for channel in ALL_CHANNELS}

    def counters(self) -> dict[str, int]:
        """The request counters of the rate-limits table (not the request-id reservations)."""
        items = self.aws.client("dynamodb").scan(TableName=self.aws.table_name(RATE_LIMITS.logical_name))["Items"]
        return {item["limit_key"]["S"]: int(item["request_count"]["N"]) for item in items if "request_count" in item}

    def reservations(self) -> dict[str, dict[str, Any]]:
        """The request-id reservations of the rate-limits table, attribute -> plain value."""
        items = self.aws.client("dynamodb").scan(TableName=self.aws.table_name(RATE_LIMITS.logical_name))["Items"]
        return {
            item["limit_key"]["S"]: {name: next(iter(value.values())) for name, value in item.items()}
            for item in items
            if "request_count" not in item
        }


@pytest.fixture
def router(aws: LocalResources, monkeypatch: pytest.MonkeyPatch, company_record_example) -> RouterHarness:
    """The router handler with its environment set to the emulator; the example company is seeded
    with ``API_KEY_ID`` bound to it (the key of "company A")."""
    settings = RouterSettings(
        environment="dev",
        company_table_name=aws.table_name(COMPANY_DATA.logical_name),
        rate_limit_table_name=aws.table_name(RATE_LIMITS.logical_name),
        whatsapp_queue_url=aws.queues[Channel.WHATSAPP].queue_url,
        sms_queue_url=aws.queues[Channel.SMS].queue_url,
        email_queue_url=aws.queues[Channel.EMAIL].queue_url,
        router_version="test-router-1",
        public_base_url="https://api.example.test/dev",
        suppressions_table_name=aws.table_name(SUPPRESSIONS.logical_name),
        consent_key_secret_id=aws.consent_key_secret_id,
    )
    for name, value in settings.to_environment().items():
        monkeypatch.setenv(name, value)
    module = _load_router_handler()
    module.router_for.cache_clear()
    harness = RouterHarness(aws=aws, module=module)
    company_record_example["api_key_ids"] = [API_KEY_ID]
    harness.put_company(company_record_example)
    return harness


class _Collect(logging.Handler):
    def __init__(self, lines: list[str]):
        super().__init__()
        self.lines = lines

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def router_logs(router: RouterHarness) -> Iterator[list[str]]:
    """Every log line the router writes during the test, formatted exactly as in CloudWatch."""
    lines: list[str] = []
    powertools = router.module.logger
    collector = _Collect(lines)
    collector.setFormatter(powertools.registered_formatter)
    stdlib_logger = logging.getLogger(powertools.service)
    stdlib_logger.addHandler(collector)
    yield lines
    stdlib_logger.removeHandler(collector)


# 2026-11-24 09:30:15 UTC: 15 s into a minute, 34215 s into the day.
NOW = 1795512615.0


class Clock:
    """A wall clock (epoch seconds) the test moves by hand."""

    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)
