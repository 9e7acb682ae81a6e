"""Reads an API Gateway REST proxy event of a webhook route: path ids, headers, content type, body."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.identifiers import ID_PATTERN
from shared.webhooks.refusals import BodyInvalid, BodyTooLarge, ProjectRefused

_ID = re.compile(ID_PATTERN)


@dataclass(frozen=True)
class WebhookRequest:
    resource: str
    company_id: str | None
    project_id: str | None
    # Lower-case names. A name sent twice with different values is left out: which one a provider
    # signed cannot be known, so it counts as not sent.
    headers: Mapping[str, str]
    raw_body: str | None
    base64_body: bool
    has_query: bool
    gateway_request_id: str | None

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def tenant(self) -> tuple[str, str]:
        """The company and project ids of the path; refused unless both are well-formed ids."""
        if not (self.company_id and _ID.fullmatch(self.company_id)):
            raise ProjectRefused("the path's company_id is not an id")
        if not (self.project_id and _ID.fullmatch(self.project_id)):
            raise ProjectRefused("the path's project_id is not an id")
        return self.company_id, self.project_id

    def body(self, max_bytes: int) -> bytes:
        """The body as sent; ``BodyTooLarge`` over ``max_bytes``."""
        if not self.raw_body:
            return b""
        if self.base64_body:
            # Base64 is 4/3 of the raw size: refuse before decoding a body that is certainly too big.
            if len(self.raw_body) > (max_bytes * 4) // 3 + 4:
                raise BodyTooLarge(f"the body is larger than {max_bytes} bytes")
            try:
                raw = base64.b64decode(self.raw_body, validate=True)
            except (binascii.Error, ValueError):
                raise BodyInvalid("the body is not valid base64") from None
        else:
            raw = self.raw_body.encode("utf-8")
        if len(raw) > max_bytes:
            raise BodyTooLarge(f"the body is {len(raw)} bytes, more than {max_bytes}")
        return raw

    def require_media_type(self, expected: str) -> None:
        """``BodyInvalid`` unless Content-Type is ``expected``, with no charset or UTF-8."""
        value = self.header("content-type")
        if value is None:
            raise BodyInvalid("no Content-Type")
        media_type, *parameters = (part.strip() for part in value.split(";"))
        if media_type.lower() != expected:
            raise BodyInvalid(f"Content-Type {media_type[:100]!r} is not {expected}")
        for parameter in parameters:
            name, _, given = parameter.partition("=")
            if name.strip().lower() == "charset" and given.strip().strip('"').lower() not in ("utf-8", "utf8"):
                raise BodyInvalid(f"charset {given.strip()[:40]!r} is not UTF-8")


def read_webhook_request(event: Mapping[str, Any]) -> WebhookRequest:
    path = event.get("pathParameters") or {}
    context = event.get("requestContext") or {}
    return WebhookRequest(
        resource=str(event.get("resource") or ""),
        company_id=path.get("company_id"),
        project_id=path.get("project_id"),
        headers=_headers(event),
        raw_body=event.get("body") if isinstance(event.get("body"), str) else None,
        base64_body=bool(event.get("isBase64Encoded")),
        has_query=bool(event.get("queryStringParameters") or event.get("multiValueQueryStringParameters")),
        gateway_request_id=context.get("requestId"),
    )


def _headers(event: Mapping[str, Any]) -> dict[str, str]:
    values: dict[str, set[str]] = {}
    for name, value in (event.get("headers") or {}).items():
        if isinstance(value, str):
            values.setdefault(name.lower(), set()).add(value)
    for name, many in (event.get("multiValueHeaders") or {}).items():
        values.setdefault(name.lower(), set()).update(value for value in many or () if isinstance(value, str))
    return {name: next(iter(found)) for name, found in values.items() if len(found) == 1}
