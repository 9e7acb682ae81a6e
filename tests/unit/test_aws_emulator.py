"""The emulator's middleware serves DynamoDB one request at a time and leaves the rest concurrent."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from local.aws_emulator import SerialisedDynamoDB


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
