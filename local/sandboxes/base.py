"""What every provider sandbox shares: an HTTP server on loopback, request recording, scripted
outcomes, latency, a hold and the ``/_sandbox/*`` control endpoints.

A hold (``hold()``, ``POST /_sandbox/hold``) keeps every provider request waiting, once recorded,
until ``release()`` (``POST /_sandbox/release``), a reset, a stop, or ``HOLD_LIMIT`` seconds: a
test makes something happen while the engine's call is on the wire (an opt-out arriving while the
AI writes), then lets the call finish. ``GET /_sandbox/hold`` says whether it holds and how many
requests wait.

A provider module supplies its routes, its authentication and the shape of its error bodies.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

from local.sandboxes.outcomes import KINDS, MODEL_KINDS, InvalidOutcome, Outcome

HOST = "127.0.0.1"
CONTROL_PREFIX = "/_sandbox/"
_SECRET_HEADERS = {"authorization", "proxy-authorization", "x-api-key", "api-key", "cookie"}
# A forgotten hold must not wedge the local stack: a held request goes on after this long.
HOLD_LIMIT = 300.0


def fingerprint(header_value: str) -> str:
    """Stands in for a credential header in recordings: tells keys apart without keeping them."""
    scheme, _, secret = header_value.partition(" ")
    if not secret:
        scheme, secret = "", scheme
    digest = hashlib.sha256(secret.encode()).hexdigest()[:12]
    return f"{scheme} sha256:{digest}".strip()


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names; credentials replaced by their fingerprint
    body: Any  # parsed JSON, a dict of form fields, text, or None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Reply:
    status: int
    body: Any = None  # dict/list → JSON, str → text, None → empty
    headers: dict[str, str] = field(default_factory=dict)
    # Runs once the answer is written (or the client has gone): what a provider does after it
    # answered, such as scheduling status callbacks, can never come before the answer.
    after_sent: Callable[[], None] | None = None


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    # (request, path match, the Authorization header: the caller's credentials, never recorded)
    handler: Callable[[RecordedRequest, re.Match[str], str | None], Reply]
    # Scripted outcomes are consumed only by requests that send/create something.
    scriptable: bool = False


class Sandbox:
    """Base of the fakes. Subclasses implement ``routes``, ``authenticate`` and ``error_reply``."""

    name = "sandbox"
    url_suffix = ""
    supported_outcomes: frozenset[str] = frozenset(KINDS) - MODEL_KINDS

    def __init__(self, *, port: int = 0, latency: float = 0.0) -> None:
        self._port = port
        self._latency = latency
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._released = threading.Event()
        self._released.set()
        self._held = 0  # requests waiting on the hold now
        self._scripts: deque[Outcome] = deque()
        self._requests: list[RecordedRequest] = []
        self._outbox: list[dict[str, Any]] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._routes = self.routes()

    # -- provider hooks ---------------------------------------------------------------------------
    def routes(self) -> list[Route]:
        raise NotImplementedError

    def authenticate(self, request: RecordedRequest, authorization: str | None) -> Reply | None:
        """None when the credentials are accepted, else the provider's refusal."""
        raise NotImplementedError

    def error_reply(self, status: int) -> Reply:
        """The provider's error body for an HTTP status (scripted statuses, 404, 504)."""
        raise NotImplementedError

    def provider_error_reply(self, code: int) -> Reply:
        raise NotImplementedError

    def invalid_output_reply(self, request: RecordedRequest) -> Reply:
        raise InvalidOutcome(f"{self.name} cannot produce invalid_output")

    def output_reply(self, request: RecordedRequest, content: Any) -> Reply:
        raise InvalidOutcome(f"{self.name} cannot produce output")

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> Self:
        if self._server is not None:
            return self
        self._wake = threading.Event()
        self._server = _Server((HOST, self._port), _Handler)
        self._server.sandbox = self
        self._port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"sandbox-{self.name}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        self._wake.set()  # wakes handlers sleeping on latency or a scripted timeout
        self._released.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if not self._port:
            raise RuntimeError(f"{self.name} sandbox has no port until it is started")
        return self._port

    @property
    def url(self) -> str:
        """The base URL to give the provider's SDK."""
        return f"http://{HOST}:{self.port}{self.url_suffix}"

    @property
    def control_url(self) -> str:
        return f"http://{HOST}:{self.port}/_sandbox"

    # -- what tests drive and inspect -------------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def outbox(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._outbox)

    @property
    def pending_outcomes(self) -> list[Outcome]:
        with self._lock:
            return list(self._scripts)

    def script(self, *outcomes: Outcome) -> None:
        for outcome in outcomes:
            if outcome.kind not in self.supported_outcomes:
                raise InvalidOutcome(f"{self.name} sandbox cannot produce {outcome.kind!r}")
        with self._lock:
            self._scripts.extend(outcomes)

    def set_latency(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("latency must be non-negative")
        self._latency = seconds

    def hold(self) -> None:
        """Keep every provider request waiting, once recorded, until ``release``."""
        self._released.clear()

    def release(self) -> int:
        """End the hold; how many requests were waiting on it."""
        with self._lock:
            waiting = self._held
        self._released.set()
        return waiting

    @property
    def holding(self) -> tuple[bool, int]:
        """(whether it holds, how many requests wait on the hold)."""
        with self._lock:
            return not self._released.is_set(), self._held

    def reset(self) -> None:
        with self._lock:
            self._scripts.clear()
            self._requests.clear()
            self._outbox.clear()
            self._latency = 0.0
            woken, self._wake = self._wake, threading.Event()
        woken.set()  # a handler still sleeping for an earlier test answers now
        self._released.set()

    def saved_state(self) -> dict[str, Any]:
        """What a restart of the local stack keeps (``local.state``): the outbox, i.e. what
        reached people. Scripts, latency and recorded requests belong to one run."""
        with self._lock:
            return {"outbox": list(self._outbox)}

    def restore_state(self, state: dict[str, Any]) -> None:
        with self._lock:
            self._outbox[:] = state.get("outbox", [])

    # -- request handling -------------------------------------------------------------------------
    def _store(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._outbox.append(entry)

    def _pause(self, seconds: float) -> None:
        if seconds > 0:
            self._wake.wait(seconds)

    def handle(self, request: RecordedRequest, authorization: str | None) -> Reply:
        # The control endpoints answer at the root and under ``url`` (OpenAI's ends in /v1).
        if request.path.removeprefix(self.url_suffix).startswith(CONTROL_PREFIX):
            return self._control(request)
        with self._lock:
            self._requests.append(request)
        self._wait_while_held()
        self._pause(self._latency)
        for route in self._routes:
            match = route.pattern.fullmatch(request.path)
            if match and route.method == request.method:
                break
        else:
            return self.error_reply(404)
        refusal = self.authenticate(request, authorization)
        if refusal is not None:
            return refusal
        outcome = self._next_outcome() if route.scriptable else None
        if outcome is None:
            return route.handler(request, match, authorization)
        return self._apply(outcome, route, request, match, authorization)

    def _wait_while_held(self) -> None:
        if self._released.is_set():
            return
        with self._lock:
            self._held += 1
        try:
            self._released.wait(HOLD_LIMIT)
        finally:
            with self._lock:
                self._held -= 1

    def _next_outcome(self) -> Outcome | None:
        with self._lock:
            return self._scripts.popleft() if self._scripts else None

    def _apply(
        self, outcome: Outcome, route: Route, request: RecordedRequest, match: re.Match[str], authorization: str | None
    ) -> Reply:
        if outcome.kind == "status":
            reply = self.error_reply(outcome.code or 500)
            if outcome.body is not None:
                reply.body = outcome.body
            return reply
        if outcome.kind == "timeout":
            self._pause(outcome.seconds or 0)
            return self.error_reply(504)
        if outcome.kind == "accept_then_timeout":
            reply = route.handler(request, match, authorization)
            self._pause(outcome.seconds or 0)
            return reply
        if outcome.kind == "provider_error":
            return self.provider_error_reply(outcome.code or 0)
        if outcome.kind == "output":
            return self.output_reply(request, outcome.body)
        return self.invalid_output_reply(request)

    def _control(self, request: RecordedRequest) -> Reply:
        path = request.path.removeprefix(self.url_suffix).removeprefix(CONTROL_PREFIX)
        action = (request.method, path.rstrip("/"))
        try:
            reply = self.control(action, request)
            if reply is not None:
                return reply
            if action == ("GET", "requests"):
                return Reply(200, [r.to_json() for r in self.requests])
            if action == ("GET", "outbox"):
                return Reply(200, self.outbox)
            if action == ("GET", "script"):
                return Reply(200, [o.to_json() for o in self.pending_outcomes])
            if action == ("POST", "script"):
                items = request.body if isinstance(request.body, list) else [request.body]
                outcomes = [Outcome.from_json(item) for item in items]
                self.script(*outcomes)
                return Reply(200, {"scripted": [o.to_json() for o in outcomes]})
            if action == ("POST", "latency"):
                seconds = request.body.get("seconds") if isinstance(request.body, dict) else None
                if not isinstance(seconds, int | float) or seconds < 0:
                    raise InvalidOutcome('latency takes {"seconds": <non-negative number>}')
                self.set_latency(float(seconds))
                return Reply(200, {"latency": float(seconds)})
            if action == ("POST", "hold"):
                self.hold()
                return Reply(200, {"holding": True})
            if action == ("POST", "release"):
                return Reply(200, {"released": self.release()})
            if action == ("GET", "hold"):
                holding, waiting = self.holding
                return Reply(200, {"holding": holding, "waiting": waiting})
            if action == ("POST", "reset"):
                self.reset()
                return Reply(200, {"reset": self.name})
        except InvalidOutcome as err:
            return Reply(400, {"error": str(err)})
        return Reply(404, {"error": f"no control endpoint {request.method} {request.path}"})

    def control(self, action: tuple[str, str], request: RecordedRequest) -> Reply | None:
        """A provider's own control endpoints: the answer to (method, path under /_sandbox/), or None.
        Raising ``InvalidOutcome`` answers 400."""
        return None


def _parse_body(raw: bytes, content_type: str) -> Any:
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace")
    if "json" in content_type:
        try:
            return json.loads(text)
        except ValueError:
            return text
    if "x-www-form-urlencoded" in content_type:
        form: dict[str, Any] = {}
        for key, value in parse_qsl(text, keep_blank_values=True):
            if key in form:  # repeated fields (Twilio MediaUrl) become lists
                form[key] = [*form[key], value] if isinstance(form[key], list) else [form[key], value]
            else:
                form[key] = value
        return form
    return text


def _encode(reply: Reply) -> tuple[bytes, str]:
    if reply.body is None:
        return b"", ""
    if isinstance(reply.body, str):
        return reply.body.encode(), "text/plain; charset=utf-8"
    return json.dumps(reply.body).encode(), "application/json"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64  # a batch of concurrent processors must not find the backlog full
    sandbox: Sandbox

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out close their socket on purpose (scripted timeouts); not an error.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    # One request per connection: no idle keep-alive sockets outlive a test or a stop().
    protocol_version = "HTTP/1.0"

    def do_GET(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        headers = {
            name.lower(): fingerprint(value) if name.lower() in _SECRET_HEADERS else value
            for name, value in self.headers.items()
        }
        request = RecordedRequest(
            method=self.command,
            path=url.path,
            query=dict(parse_qsl(url.query, keep_blank_values=True)),
            headers=headers,
            body=_parse_body(raw, self.headers.get("Content-Type", "")),
        )
        reply = self.server.sandbox.handle(request, self.headers.get("Authorization"))
        payload, content_type = _encode(reply)
        self.send_response(reply.status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        try:
            self.end_headers()
            self.wfile.write(payload)
            self.wfile.flush()
        finally:
            if reply.after_sent is not None:
                reply.after_sent()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        pass  # tests and the local stack read the recorded requests instead
