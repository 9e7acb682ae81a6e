"""The AWS emulator: moto's server, with DynamoDB writes made atomic as DynamoDB makes them.

moto's threaded server runs requests side by side, and its DynamoDB backend applies a
transaction item by item (rolling back by restoring old items), so two concurrent conditional
transactions can interleave and lose an update — something real DynamoDB never does. DynamoDB
requests are therefore served one at a time (they take milliseconds); every other service (SQS
long polls above all) stays concurrent.

moto's SQS ``ReceiveMessage`` checks that a message is visible, then hides it, with nothing
holding the two together: two concurrent receives can both take the same message, where SQS hands
an in-flight message to one receiver. Each receive's scan of the queue therefore runs alone; a
long poll waits for messages outside it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from moto.server import DomainDispatcherApplication, MotoRequestHandler, ThreadedMotoServer, create_backend_app
from werkzeug.serving import make_server

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class SerialisedDynamoDB:
    """WSGI middleware: one DynamoDB request at a time, everything else untouched."""

    def __init__(self, app: WsgiApp):
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            return self._app(environ, start_response)
        with self._lock:
            # Drain the body inside the lock: a lazy WSGI iterable would run outside it.
            return list(self._app(environ, start_response))


class AwsEmulator(ThreadedMotoServer):
    def __init__(self, *, port: int = 0):
        super().__init__(ip_address="127.0.0.1", port=port, verbose=False)
        logging.getLogger("werkzeug").setLevel(logging.ERROR)

    def _server_entry(self) -> None:
        atomic_sqs_receives()
        app = SerialisedDynamoDB(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(self._ip_address, self._port, app, True, request_handler=MotoRequestHandler)
        self._server_ready_event.set()
        self._server.serve_forever()

    @property
    def endpoint_url(self) -> str:
        host, port = self.get_host_and_port()
        return f"http://{host}:{port}"


_RECEIVE_LOCK = threading.Lock()


def atomic_sqs_receives() -> None:
    """Make moto's ``ReceiveMessage`` take each visible message for one receiver only (idempotent)."""
    from moto.sqs.models import SQSBackend

    receive = SQSBackend.receive_message
    if getattr(receive, "atomic", False):
        return

    def atomic(
        self: Any,
        queue_name: str,
        count: int,
        wait_seconds_timeout: int,
        visibility_timeout: int,
        message_attribute_names: list[str] | None = None,
    ) -> list[Any]:
        deadline = time.monotonic() + wait_seconds_timeout
        while True:
            with _RECEIVE_LOCK:  # one scan: no waiting in it
                result = receive(self, queue_name, count, 0, visibility_timeout, message_attribute_names)
            remaining = deadline - time.monotonic()
            if result or remaining <= 0:
                return result
            self.get_queue(queue_name).wait_for_messages(min(1.0, remaining))

    atomic.atomic = True  # type: ignore[attr-defined]
    SQSBackend.receive_message = atomic


def release_hidden_messages() -> int:
    """Make every message of every queue visible now; how many were hidden or delayed.

    Called once nothing consumes the queues (at the stop, before the state is saved): a message
    a processor failed and SQS hides for its visibility timeout (720 s) cannot be received back
    through the API, so it would be lost with the emulator. On a restart it is delivered again,
    as SQS would once the timeout ran out.
    """
    released = 0
    for backend in _sqs_backends():
        for queue in backend.queues.values():
            for message in list(queue._messages):  # moto has no API for another consumer's message
                if not message.visible:
                    message.change_visibility(0)
                    released += 1
                # A delayed message (a scheduled first message's wake-up) comes early after the
                # restart: the processor finds the record not due yet and arms it again.
                if message.delayed:
                    message.delay(0)
                    released += 1
    return released


def _sqs_backends() -> Iterable[Any]:
    from moto.sqs.models import sqs_backends

    for regions in sqs_backends.values():
        yield from regions.values()
