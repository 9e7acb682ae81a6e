"""The ingress's answers: a provider needs the status only, so refusals carry no detail at all."""

from __future__ import annotations

from typing import Any


def bare(status: int) -> dict[str, Any]:
    return {"statusCode": status, "headers": {}, "body": "", "isBase64Encoded": False}


def with_body(status: int, content_type: str, body: str) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": content_type}, "body": body, "isBase64Encoded": False}
