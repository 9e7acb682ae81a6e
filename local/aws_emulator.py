"""The AWS emulator: moto's server, with DynamoDB writes made atomic as DynamoDB makes them.

moto's threaded server runs requests side by side, and its DynamoDB backend applies a
transaction item by item (rolling back by restoring old items), so two concurrent conditional
transactions can interleave and lose an update — something real DynamoDB never does. DynamoDB
requests are therefore served one at a time (they take milliseconds); every other service (SQS
long polls above all) stays concurrent.
"""

from __future__ import annotations

import logging
import threading
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
        app = SerialisedDynamoDB(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(self._ip_address, self._port, app, True, request_handler=MotoRequestHandler)
        self._server_ready_event.set()
        self._server.serve_forever()

    @property
    def endpoint_url(self) -> str:
        host, port = self.get_host_and_port()
        return f"http://{host}:{port}"


def release_hidden_messages() -> int:
    """Make every message of every queue visible now; how many were hidden.

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
    return released


def _sqs_backends() -> Iterable[Any]:
    from moto.sqs.models import sqs_backends

    for regions in sqs_backends.values():
        yield from regions.values()
