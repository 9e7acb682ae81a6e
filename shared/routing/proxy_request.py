"""Reads an API Gateway REST proxy event: who called (API key id), and the body as parsed JSON."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NoReturn

from shared.api_errors import PayloadTooLarge, RequestInvalid
from shared.identifiers import UUID4_PATTERN
from shared.proxy_body import BodyNotBase64, BodyTooLarge, body_bytes

# A request is a few identifiers, a recipient and a free-form project_data of a few KB; 64 KiB
# leaves room for long project_data while keeping the queued context far below the SQS limit.
MAX_BODY_BYTES = 64 * 1024
NOT_A_JSON_OBJECT = "The request body must be a JSON object"

_UUID4 = re.compile(UUID4_PATTERN)


@dataclass(frozen=True)
class ProxyRequest:
    gateway_request_id: str | None
    api_key_id: str | None  # set by API Gateway from the x-api-key it accepted; never the key itself
    body: Any


def read_proxy_request(event: dict[str, Any]) -> ProxyRequest:
    context = event.get("requestContext") or {}
    identity = context.get("identity") or {}
    return ProxyRequest(
        gateway_request_id=context.get("requestId"),
        api_key_id=identity.get("apiKeyId") or None,
        body=_parse_json(_body_bytes(event)),
    )


def client_request_id(body: Any) -> str | None:
    """The client's ``request_data.request_id`` if it is a well-formed UUID v4, to echo in errors."""
    request_data = body.get("request_data") if isinstance(body, dict) else None
    value = request_data.get("request_id") if isinstance(request_data, dict) else None
    if isinstance(value, str) and _UUID4.match(value):
        return value.lower()
    return None


def _body_bytes(event: dict[str, Any]) -> bytes:
    body = event.get("body")
    if body is None or body == "":
        raise RequestInvalid(NOT_A_JSON_OBJECT)
    if not isinstance(body, str):
        raise RequestInvalid(NOT_A_JSON_OBJECT)
    try:
        return body_bytes(body, base64_encoded=bool(event.get("isBase64Encoded")), max_bytes=MAX_BODY_BYTES)
    except BodyTooLarge:
        raise PayloadTooLarge(f"The request body is larger than {MAX_BODY_BYTES} bytes") from None
    except BodyNotBase64:
        raise RequestInvalid("The request body is not valid base64") from None


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def _parse_json(raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8")
        # Non-integers as Decimal, as DynamoDB and the queue codec keep them; NaN/Infinity refused.
        return json.loads(text, parse_float=Decimal, parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise RequestInvalid(NOT_A_JSON_OBJECT) from None
