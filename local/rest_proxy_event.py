"""The event API Gateway (REST API, Lambda proxy integration) hands to a function.

The shape follows AWS's "Input format of a Lambda function for proxy integration": single- and
multi-value headers and query parameters, ``isBase64Encoded``, and a ``requestContext`` whose
``identity`` carries the caller's IP and, on methods that require one, the API key and its id.
Used by the router's tests and by the local API gateway.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

Pairs = Mapping[str, str] | Iterable[tuple[str, str]]


def rest_proxy_event(
    *,
    body: str | bytes | None,
    method: str = "POST",
    path: str = "/initiate-conversation",
    resource: str | None = None,
    path_parameters: Mapping[str, str] | None = None,
    headers: Pairs | None = None,
    query: Pairs | None = None,
    base64_body: bool = False,
    stage: str = "dev",
    api_key: str | None = None,
    api_key_id: str | None = None,
    source_ip: str = "127.0.0.1",
    request_id: str | None = None,
    api_id: str = "local",
    account_id: str = "123456789012",
    region: str = "eu-north-1",
    now: datetime | None = None,
) -> dict[str, Any]:
    """``headers`` and ``query`` keep their order and repeats (a list of pairs) or come as a dict.

    ``resource`` is the route template (``/webhooks/twilio/{company_id}/...``) and
    ``path_parameters`` its values, when ``path`` has parameters. ``base64_body`` sends the body
    base64-encoded with ``isBase64Encoded: true``, as API Gateway does for binary media types.
    ``api_key``/``api_key_id`` are what API Gateway puts in ``identity`` after it accepted the key.
    """
    now = now or datetime.now(UTC)
    request_id = request_id or str(uuid.uuid4())
    domain = f"{api_id}.execute-api.{region}.amazonaws.com"
    header_pairs = [
        ("Host", domain),
        *_pairs(headers),
        ("X-Amzn-Trace-Id", f"Root=1-{int(now.timestamp()):08x}-{uuid.uuid4().hex[:24]}"),
        ("X-Forwarded-For", source_ip),
        ("X-Forwarded-Port", "443"),
        ("X-Forwarded-Proto", "https"),
    ]
    single_headers, multi_headers = _single_and_multi(header_pairs)
    single_query, multi_query = _single_and_multi(_pairs(query))
    user_agent = next((v for k, v in reversed(header_pairs) if k.lower() == "user-agent"), None)
    return {
        "resource": resource or path,
        "path": path,
        "httpMethod": method,
        "headers": single_headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": single_query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": dict(path_parameters) if path_parameters else None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": uuid.uuid5(uuid.NAMESPACE_URL, resource or path).hex[:6],
            "resourcePath": resource or path,
            "httpMethod": method,
            "extendedRequestId": base64.b32encode(uuid.uuid4().bytes).decode()[:16],
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "path": f"/{stage}{path}",
            "accountId": account_id,
            "protocol": "HTTP/1.1",
            "stage": stage,
            "domainPrefix": api_id,
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "requestId": request_id,
            "identity": {
                "cognitoIdentityPoolId": None,
                "cognitoIdentityId": None,
                "apiKey": api_key,
                "principalOrgId": None,
                "cognitoAuthenticationType": None,
                "userArn": None,
                "apiKeyId": api_key_id,
                "userAgent": user_agent,
                "accountId": None,
                "caller": None,
                "sourceIp": source_ip,
                "accessKey": None,
                "cognitoAuthenticationProvider": None,
                "user": None,
                "clientCert": None,
            },
            "domainName": domain,
            "deploymentId": uuid.uuid5(uuid.NAMESPACE_URL, f"{api_id}/{stage}").hex[:6],
            "apiId": api_id,
        },
        "body": _body(body, base64_body),
        "isBase64Encoded": base64_body,
    }


def _pairs(values: Pairs | None) -> list[tuple[str, str]]:
    if values is None:
        return []
    if isinstance(values, Mapping):
        return list(values.items())
    return list(values)


def _single_and_multi(pairs: list[tuple[str, str]]) -> tuple[dict[str, str], dict[str, list[str]]]:
    # API Gateway keeps the client's spelling of each name; the single-value map holds the last value.
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in pairs:
        single[name] = value
        multi.setdefault(name, []).append(value)
    return single, multi


def _body(body: str | bytes | None, base64_body: bool) -> str | None:
    if body is None or body == b"" or body == "":
        return None
    raw = body.encode("utf-8") if isinstance(body, str) else body
    if base64_body:
        return base64.b64encode(raw).decode("ascii")
    return raw.decode("utf-8", errors="replace")
