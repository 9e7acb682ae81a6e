"""The emulator's middleware serves DynamoDB one request at a time and leaves the rest concurrent;
its SQS hands a visible message to one of two concurrent receivers."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from moto import mock_aws
from moto.sqs.models import Message

from local.aws_emulator import SerialisedDynamoDB, atomic_sqs_receives


class SlowApp:
    """A WSGI app that records how many requests are inside it at once."""

    def __init__(self) -> None:
        self.inside = 0
        self.most_inside = 0
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self._lock:
            self.inside += 1
            self.most_inside = max(self.most_inside, self.inside)
        time.sleep(0.05)
        with self._lock:
            self.inside -= 1
        start_response("200 OK", [])
        return [b"{}"]


def _concurrently(app, target: str, count: int = 6) -> None:
    environ = {"HTTP_X_AMZ_TARGET": target} if target else {}
    with ThreadPoolExecutor(count) as pool:
        list(pool.map(lambda _: list(app(dict(environ), lambda *a: None)), range(count)))


def test_dynamodb_requests_never_overlap():
    inner = SlowApp()
    _concurrently(SerialisedDynamoDB(inner), "DynamoDB_20120810.TransactWriteItems")
    assert inner.most_inside == 1


def test_other_services_stay_concurrent():
    inner = SlowApp()
    _concurrently(SerialisedDynamoDB(inner), "")  # SQS's query protocol has no DynamoDB target
    assert inner.most_inside > 1


def test_two_concurrent_receives_never_take_the_same_message(monkeypatch: pytest.MonkeyPatch):
    atomic_sqs_receives()
    hide = Message.mark_received

    def slowly(self, *args, **kwargs):  # widens moto's gap between "is it visible?" and hiding it
        time.sleep(0.05)
        return hide(self, *args, **kwargs)

    monkeypatch.setattr(Message, "mark_received", slowly)
    with mock_aws():
        sqs = boto3.client("sqs", region_name="eu-north-1")
        url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
        for body in ("one", "two"):
            sqs.send_message(QueueUrl=url, MessageBody=body)

        def receive(_: int) -> list[str]:
            answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            return [m["Body"] for m in answer.get("Messages", [])]

        with ThreadPoolExecutor(2) as pool:
            first, second = pool.map(receive, range(2))
    assert sorted(first + second) == ["one", "two"]


def test_a_long_poll_still_gets_a_message_sent_while_it_waits():
    atomic_sqs_receives()
    with mock_aws():
        sqs = boto3.client("sqs", region_name="eu-north-1")
        url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
        with ThreadPoolExecutor(1) as pool:
            waiting = pool.submit(sqs.receive_message, QueueUrl=url, WaitTimeSeconds=10)
            time.sleep(0.3)  # the poll is waiting (outside the receive lock)
            sqs.send_message(QueueUrl=url, MessageBody="late")
            assert [m["Body"] for m in waiting.result(timeout=15).get("Messages", [])] == ["late"]
