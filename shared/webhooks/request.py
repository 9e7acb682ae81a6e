"""Reads an API Gateway REST proxy event of a webhook route: path ids, headers, content type, body."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared import proxy_body
from shared.identifiers import ID_PATTERN
from shared.proxy_body import body_bytes
from shared.webhooks.refusals import BodyInvalid, BodyTooLarge, ProjectRefused

_ID = re.compile(ID_PATTERN)


@dataclass(frozen=True)
class WebhookRequest:
    resource: str
    method: str
    company_id: str | None
    project_id: str | None
    # Lower-case names. A name sent twice with different values is left out: which one a provider
    # signed cannot be known, so it counts as not sent.
    headers: Mapping[str, str]
    raw_body: str | None
    base64_body: bool
    # Every value of each query parameter, as API Gateway parsed them.
    query: Mapping[str, tuple[str, ...]]
    gateway_request_id: str | None
    # The one-click unsubscribe route's path parameter (``/unsubscribe/{token}``).
    token: str | None = None

    @property
    def has_query(self) -> bool:
        return bool(self.query)

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
        try:
            return body_bytes(self.raw_body, base64_encoded=self.base64_body, max_bytes=max_bytes)
        except proxy_body.BodyTooLarge as error:
            raise BodyTooLarge(str(error)) from None
        except proxy_body.BodyNotBase64 as error:
            raise BodyInvalid(str(error)) from None

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
        method=str(event.get("httpMethod") or "").upper(),
        company_id=path.get("company_id"),
        project_id=path.get("project_id"),
        headers=_headers(event),
        raw_body=event.get("body") if isinstance(event.get("body"), str) else None,
        base64_body=bool(event.get("isBase64Encoded")),
        query=_query(event),
        gateway_request_id=context.get("requestId"),
        token=path.get("token") if isinstance(path.get("token"), str) else None,
    )


def _query(event: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    multi = event.get("multiValueQueryStringParameters") or {}
    single = event.get("queryStringParameters") or {}
    query = {name: tuple(v for v in values or () if isinstance(v, str)) for name, values in multi.items()}
    for name, value in single.items():
        query.setdefault(name, (value,) if isinstance(value, str) else ())
    return query


def _headers(event: Mapping[str, Any]) -> dict[str, str]:
    values: dict[str, set[str]] = {}
    for name, value in (event.get("headers") or {}).items():
        if isinstance(value, str):
            values.setdefault(name.lower(), set()).add(value)
    for name, many in (event.get("multiValueHeaders") or {}).items():
        values.setdefault(name.lower(), set()).update(value for value in many or () if isinstance(value, str))
    return {name: next(iter(found)) for name, found in values.items() if len(found) == 1}
