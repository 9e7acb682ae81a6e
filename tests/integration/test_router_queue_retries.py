"""Queueing retries transient SQS failures with backoff and gives up at once on permanent ones.

SQS is faked at the HTTP boundary (its JSON protocol) so the real SDK, with the router's retry
configuration, decides what to retry.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest

from shared.api_errors import QueueError
from shared.channels import Channel
from shared.models.company import CompanyRecord
from shared.models.request import InitiateRequest
from shared.routing.context_builder import build_context, queue_body
from shared.routing.queue_sender import ChannelQueues
from shared.routing.wiring import AWS_CLIENT_CONFIG

TRANSIENT = (500, {"__type": "com.amazonaws.sqs#InternalError", "message": "try again"}, "InternalError;Receiver")
PERMANENT = (
    400,
    {"__type": "com.amazonaws.sqs#QueueDoesNotExist", "message": "The specified queue does not exist."},
    "AWS.SimpleQueueService.NonExistentQueue;Sender",
)


class FakeSqs:
    """Answers SendMessage with the scripted failures, then with success."""

    def __init__(self) -> None:
        self.failures: list[tuple[int, dict, str]] = []
        self.calls: list[dict] = []

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        payload = json.loads(request.rfile.read(int(request.headers["Content-Length"])))
        self.calls.append({"target": request.headers["X-Amz-Target"], **payload})
        if self.failures:
            status, body, query_error = self.failures.pop(0)
            headers = {"x-amzn-query-error": query_error}
        else:
            status, body, headers = 200, {"MessageId": str(uuid.uuid4())}, {}
        data = json.dumps(body).encode()
        request.send_response(status)
        for name, value in {"Content-Type": "application/x-amz-json-1.0", **headers}.items():
            request.send_header(name, value)
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)


@pytest.fixture
def fake_sqs() -> Iterator[tuple[FakeSqs, str]]:
    fake = FakeSqs()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            fake.handle(self)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield fake, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def queues(fake_sqs) -> ChannelQueues:
    _, endpoint = fake_sqs
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="eu-north-1", config=AWS_CLIENT_CONFIG)
    return ChannelQueues(sqs, {Channel.WHATSAPP: f"{endpoint}/123456789012/ai-multi-comms-whatsapp-queue-dev"})


@pytest.fixture
def message(initiate_request_example, company_record_example):
    return build_context(
        InitiateRequest.model_validate(initiate_request_example),
        CompanyRecord.model_validate(company_record_example),
        router_version="r-1",
        queued_at=datetime(2026, 11, 24, 9, 30, tzinfo=UTC),
        correlation_id=None,
        callback_base_url="https://api.example.test/dev",
    )


def test_transient_failures_are_retried_and_the_message_is_sent_once(fake_sqs, queues, message):
    fake, _ = fake_sqs
    fake.failures = [TRANSIENT, TRANSIENT]
    assert queues.send(message, queue_body(message))
    assert len(fake.calls) == 3
    assert {call["target"] for call in fake.calls} == {"AmazonSQS.SendMessage"}
    assert len({call["MessageBody"] for call in fake.calls}) == 1


def test_a_queue_that_stays_unavailable_is_a_queue_error_after_three_attempts(fake_sqs, queues, message):
    fake, _ = fake_sqs
    fake.failures = [TRANSIENT] * 5
    with pytest.raises(QueueError):
        queues.send(message, queue_body(message))
    assert len(fake.calls) == 3


def test_a_permanent_failure_is_not_retried(fake_sqs, queues, message):
    fake, _ = fake_sqs
    fake.failures = [PERMANENT]
    with pytest.raises(QueueError):
        queues.send(message, queue_body(message))
    assert len(fake.calls) == 1


def test_attributes_carry_routing_facts_only(fake_sqs, queues, message):
    fake, _ = fake_sqs
    queues.send(message, queue_body(message))
    (call,) = fake.calls
    assert call["MessageAttributes"] == {
        "channel": {"DataType": "String", "StringValue": "whatsapp"},
        "conversation_id": {"DataType": "String", "StringValue": message.conversation_id},
        "request_id": {"DataType": "String", "StringValue": "3f8b2c1e-4d5a-4b6c-9e7f-0a1b2c3d4e5f"},
    }
