"""The local API Gateway: what API Gateway does in front of the router, on one machine.

It answers the CORS preflight, checks ``x-api-key`` against the emulator's keys and usage plans,
applies the plan's throttle, turns the HTTP request into the REST proxy event and invokes the
real router handler (in its own process), then writes the proxy result back as HTTP.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from local.api_keys import ApiKeyStore
from local.throttle import Throttle

RESOURCE = "/initiate-conversation"
Invoker = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class GatewayResponse:
    status: int
    body: dict[str, Any]


# API Gateway's own answers when it refuses a request before the router runs.
MISSING_AUTHENTICATION_TOKEN = GatewayResponse(403, {"message": "Missing Authentication Token"})
FORBIDDEN = GatewayResponse(403, {"message": "Forbidden"})
THROTTLED = GatewayResponse(429, {"message": "Too Many Requests"})


@dataclass(frozen=True)
class GatewayConfig:
    stage: str
    cors_headers: dict[str, str]
    preflight_headers: dict[str, str]
    build_event: Callable[..., dict[str, Any]]


class LocalApiGateway:
    def __init__(self, *, config: GatewayConfig, keys: ApiKeyStore, invoke_router: Invoker, port: int = 0):
        self.config = config
        self.keys = keys
        self.invoke_router = invoke_router
        self.throttle = Throttle()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/{self.config.stage}"

    def start(self) -> LocalApiGateway:
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        """One HTTP request in, one HTTP response out (status, headers, body)."""
        route, _, query = path.partition("?")
        if route.rstrip("/") != f"/{self.config.stage}{RESOURCE}":
            return self._gateway_response(MISSING_AUTHENTICATION_TOKEN)
        if method == "OPTIONS":
            return 204, {**self.config.preflight_headers}, b""
        if method != "POST":
            return self._gateway_response(MISSING_AUTHENTICATION_TOKEN)
        key = self.keys.find(_header(headers, "x-api-key"))
        if key is None:
            return self._gateway_response(FORBIDDEN)
        if not self.throttle.allow(key.id, rate_per_second=key.rate_per_second or 0, burst=key.burst or 0):
            return self._gateway_response(THROTTLED)
        event = self.config.build_event(
            method=method,
            path=RESOURCE,
            stage=self.config.stage,
            headers=headers,
            query=query,
            body=body,
            api_key_id=key.id,
            request_id=str(uuid.uuid4()),
        )
        result = self.invoke_router(event)
        if "statusCode" not in result:  # the function itself failed: API Gateway says 502
            return self._gateway_response(GatewayResponse(502, {"message": "Internal server error"}))
        payload = result.get("body") or ""
        raw = base64.b64decode(payload) if result.get("isBase64Encoded") else payload.encode()
        response_headers = {k: str(v) for k, v in (result.get("headers") or {}).items()}
        for name, values in (result.get("multiValueHeaders") or {}).items():
            response_headers[name] = ", ".join(str(v) for v in values)
        return int(result["statusCode"]), response_headers, raw

    def _gateway_response(self, response: GatewayResponse) -> tuple[int, dict[str, str], bytes]:
        headers = {"Content-Type": "application/json", **self.config.cors_headers}
        return response.status, headers, json.dumps(response.body).encode()

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

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _serve  # noqa: N815

            def log_message(self, *_: Any) -> None:
                pass

        return Handler


def _header(headers: dict[str, str], name: str) -> str | None:
    return next((value for key, value in headers.items() if key.lower() == name), None)
