"""The local API Gateway: what API Gateway does in front of the router and the webhook ingress,
on one machine.

``/initiate-conversation``: it answers the CORS preflight, checks ``x-api-key`` against the
emulator's keys and usage plans, applies the plan's throttle, turns the HTTP request into the REST
proxy event and invokes the real router handler (in its own process), then writes the proxy result
back as HTTP.

The webhook routes (``shared.webhooks.routes``): POST only, no API key and so no usage plan (API
Gateway applies a plan only through a key) but each route's own stage throttle (cdk.json
``webhooks.throttle_*``, one bucket per route for every tenant). A body whose Content-Type is one
of the API's binary media types (``multipart/form-data``: Inbound Parse) reaches the function
base64-encoded with ``isBase64Encoded: true``, as API Gateway hands it; form posts and JSON go as
text. ``/unsubscribe/{token}`` (issue 12) goes to the ingress the same way, for GET and POST, with
the same throttle per method. The stage's default throttle (the account's) is not emulated.

The read routes (issue 13), ``GET /conversations`` and ``GET /conversations/{conversation_id}``,
go to the conversation reader behind the same key check and usage plan throttle as
``/initiate-conversation`` (other methods: 405; OPTIONS: the preflight). The query string reaches
the function parsed (decoded) in ``queryStringParameters``/``multiValueQueryStringParameters``;
the path and the ``conversation_id`` path parameter reach it as the client sent them, still
percent-encoded, as a REST API passes them (an HTTP API would decode them): the reader decodes
the id once.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote

from jsonschema import Draft4Validator

from local.api_keys import ApiKey, ApiKeyStore
from local.rest_proxy_event import rest_proxy_event
from local.throttle import Throttle
from shared.reading.reader import CONVERSATION, CONVERSATIONS
from shared.routing import cors
from shared.routing.gateway_contract import (
    RESOURCE_PATH,
    GatewayError,
    gateway_error,
    read_method_not_allowed,
    request_body_schema,
)
from shared.webhooks.routes import BINARY_MEDIA_TYPES, ROUTES, UNSUBSCRIBE_METHODS, UNSUBSCRIBE_PATH

REQUEST_ID_HEADER = "x-amzn-RequestId"
Invoker = Callable[[dict[str, Any]], dict[str, Any]]
Response = tuple[int, dict[str, str], bytes]


class LocalApiGateway:
    def __init__(
        self,
        *,
        stage: str,
        keys: ApiKeyStore,
        invoke_router: Invoker,
        invoke_webhook_ingress: Invoker,
        webhook_throttle: RouteThrottle,
        invoke_reader: Invoker,
        port: int = 0,
    ):
        self.stage = stage
        self.keys = keys
        self.body_model = Draft4Validator(request_body_schema())
        self.invoke_router = invoke_router
        self.invoke_webhook_ingress = invoke_webhook_ingress
        self.invoke_reader = invoke_reader
        self.webhook_throttle = webhook_throttle
        self.throttle = Throttle()
        self._server = _Server(("127.0.0.1", port), self._handler_class())
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/{self.stage}"

    def start(self) -> LocalApiGateway:
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Response:
        """One HTTP request in, one HTTP response out (status, headers, body).

        Every answer, the gateway's own included, carries ``x-amzn-RequestId`` as API Gateway's
        does; it is the ``requestContext.requestId`` the router sees, so a client's report can be
        found in the router's log.
        """
        request_id = str(uuid.uuid4())
        status, response_headers, payload = self._answer(method, path, headers, body, request_id)
        return status, {**response_headers, REQUEST_ID_HEADER: request_id}, payload

    def _answer(self, method: str, path: str, headers: dict[str, str], body: bytes, request_id: str) -> Response:
        route, _, query = path.partition("?")
        webhook = _webhook_route(route, self.stage)
        if webhook is not None:
            return self._webhook(method, webhook, headers, body, query, request_id)
        read = _read_route(route, self.stage)
        if read is not None:
            return self._read(method, read, headers, query, request_id)
        if route.rstrip("/") != f"/{self.stage}{RESOURCE_PATH}":
            return _gateway_error("MISSING_AUTHENTICATION_TOKEN")
        if method == "OPTIONS":
            return 204, cors.preflight_headers(), b""
        if method != "POST":
            return _gateway_error("METHOD_NOT_ALLOWED")
        key = self._admit(headers)
        if not isinstance(key, ApiKey):
            return key
        if not self._body_matches_model(body):
            return _gateway_error("BAD_REQUEST_BODY")
        event = rest_proxy_event(
            body=body,
            method=method,
            path=RESOURCE_PATH,
            headers=list(headers.items()),
            query=parse_qsl(query, keep_blank_values=True),
            stage=self.stage,
            api_key=_header(headers, "x-api-key"),
            api_key_id=key.id,
            request_id=request_id,
            base64_body=_is_binary(headers),
        )
        return _proxy_result(self.invoke_router, event)

    def _admit(self, headers: dict[str, str]) -> ApiKey | Response:
        """The API key check and the key's usage plan throttle: the key, or the refusal."""
        key = self.keys.find(_header(headers, "x-api-key"))
        if key is None:
            return _gateway_error("INVALID_API_KEY")
        if not self.throttle.allow(key.id, rate_per_second=key.rate_per_second or 0, burst=key.burst or 0):
            return _gateway_error("THROTTLED")
        return key

    def _read(self, method: str, match: _RouteMatch, headers: dict[str, str], query: str, request_id: str) -> Response:
        if method == "OPTIONS":
            return 204, cors.preflight_headers(cors.READ_ALLOW_METHODS), b""
        if method != "GET":
            return _error(read_method_not_allowed(match.resource))
        key = self._admit(headers)
        if not isinstance(key, ApiKey):
            return key
        event = rest_proxy_event(
            body=None,
            method=method,
            path=match.path,
            resource=match.resource,
            path_parameters=match.parameters,
            headers=list(headers.items()),
            query=parse_qsl(query, keep_blank_values=True),
            stage=self.stage,
            api_key=_header(headers, "x-api-key"),
            api_key_id=key.id,
            request_id=request_id,
        )
        return _proxy_result(self.invoke_reader, event)

    def _webhook(
        self, method: str, match: _WebhookMatch, headers: dict[str, str], body: bytes, query: str, request_id: str
    ) -> Response:
        # Only the resource's methods are defined (POST; the unsubscribe link GET too); API Gateway
        # answers any other method as an unknown resource (no CORS preflight either).
        if method not in match.methods:
            return _gateway_error("MISSING_AUTHENTICATION_TOKEN")
        limit = self.webhook_throttle
        bucket = f"route {method} {match.resource}"
        if not self.throttle.allow(bucket, rate_per_second=limit.rate, burst=limit.burst):
            return _gateway_error("THROTTLED")
        event = rest_proxy_event(
            body=body or None,
            method=method,
            path=match.path,
            resource=match.resource,
            path_parameters=match.parameters,
            headers=list(headers.items()),
            query=parse_qsl(query, keep_blank_values=True),
            stage=self.stage,
            request_id=request_id,
            base64_body=_is_binary(headers),
        )
        return _proxy_result(self.invoke_webhook_ingress, event)

    def _body_matches_model(self, body: bytes) -> bool:
        try:
            document = json.loads(body or b"null")
        except ValueError:
            return False
        return self.body_model.is_valid(document)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, headers, payload = gateway.handle(self.command, self.path, dict(self.headers), body)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _serve

            def log_message(self, *_: Any) -> None:
                pass

        return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # ThreadingHTTPServer's backlog of 5 resets the connections of a burst that arrives while
    # the accept loop is busy; API Gateway answers each (200 or 429). As the sandboxes do.
    request_queue_size = 128


def _proxy_result(invoke: Invoker, event: dict[str, Any]) -> Response:
    """Invoke a proxy-integration function and write its result back as HTTP."""
    try:
        result = invoke(event)
    except Exception:  # the function itself failed (or timed out): API Gateway answers 502
        return _gateway_error("DEFAULT_5XX", status=502)
    if "statusCode" not in result:
        return _gateway_error("DEFAULT_5XX", status=502)
    payload = result.get("body") or ""
    raw = base64.b64decode(payload) if result.get("isBase64Encoded") else payload.encode()
    response_headers = {k: str(v) for k, v in (result.get("headers") or {}).items()}
    for name, values in (result.get("multiValueHeaders") or {}).items():
        response_headers[name] = ", ".join(str(v) for v in values)
    return int(result["statusCode"]), response_headers, raw


@dataclass(frozen=True)
class RouteThrottle:
    """A method's stage throttle: steady requests per second and burst."""

    rate: float
    burst: int


@dataclass(frozen=True)
class _WebhookMatch:
    resource: str  # the route's template, as API Gateway's ``resource``
    methods: tuple[str, ...]
    path: str  # without the stage, as API Gateway's ``path``
    parameters: dict[str, str]


@dataclass(frozen=True)
class _RouteMatch:
    resource: str  # the route's template, as API Gateway's ``resource``
    path: str  # without the stage, as sent (percent-encoding kept), as API Gateway's ``path``
    parameters: dict[str, str] | None  # as sent, percent-encoding kept


def _template_pattern(template: str) -> re.Pattern[str]:
    # A path parameter is one whole segment, as in API Gateway's resource tree.
    parts = re.split(r"\{(\w+)\}", template)
    pattern = "".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>[^/]+)" for i, part in enumerate(parts))
    return re.compile(pattern + "/?")


_WEBHOOK_PATTERNS = [(route.path, ("POST",), _template_pattern(route.path)) for route in ROUTES] + [
    (UNSUBSCRIBE_PATH, UNSUBSCRIBE_METHODS, _template_pattern(UNSUBSCRIBE_PATH))
]


def _webhook_route(path: str, stage: str) -> _WebhookMatch | None:
    prefix = f"/{stage}"
    if not path.startswith(prefix + "/"):
        return None
    path = path.removeprefix(prefix)
    for resource, methods, pattern in _WEBHOOK_PATTERNS:
        found = pattern.fullmatch(path)
        if found:
            parameters = {name: unquote(value) for name, value in found.groupdict().items()}
            return _WebhookMatch(resource=resource, methods=methods, path=path, parameters=parameters)
    return None


_READ_PATTERNS = [(template, _template_pattern(template)) for template in (CONVERSATIONS, CONVERSATION)]


def _read_route(path: str, stage: str) -> _RouteMatch | None:
    prefix = f"/{stage}"
    if not path.startswith(prefix + "/"):
        return None
    path = path.removeprefix(prefix)
    for resource, pattern in _READ_PATTERNS:
        found = pattern.fullmatch(path)
        if found:
            return _RouteMatch(resource=resource, path=path, parameters=found.groupdict() or None)
    return None


def _gateway_error(response_type: str, *, status: int | None = None) -> Response:
    return _error(gateway_error(response_type), status=status)


def _error(error: GatewayError, *, status: int | None = None) -> Response:
    return status or error.status or 400, error.all_headers(), json.dumps(error.body()).encode()


def _is_binary(headers: dict[str, str]) -> bool:
    media_type = (_header(headers, "content-type") or "").split(";")[0].strip().lower()
    return media_type in BINARY_MEDIA_TYPES


def _header(headers: dict[str, str], name: str) -> str | None:
    return next((value for key, value in headers.items() if key.lower() == name), None)
