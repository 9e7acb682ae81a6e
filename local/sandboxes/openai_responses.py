"""A fake of the OpenAI Responses API (``POST /v1/responses``) with structured output.

A schema named ``<channel>_reply`` is a reply prompt: see ``local.sandboxes.reply_output`` for the
answer and the words that set ``needs_human`` / ``task_complete``."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from datetime import UTC, datetime
from typing import Any

from local.sandboxes.base import RecordedRequest, Reply, Route, Sandbox
from local.sandboxes.outcomes import KINDS
from local.sandboxes.reply_output import is_reply_schema, last_person_message, reply_content
from local.sandboxes.structured_output import Facts, content_for

_ERROR_TYPES = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    404: ("invalid_request_error", "not_found"),
    429: ("rate_limit_exceeded", "rate_limit_exceeded"),
    500: ("server_error", "server_error"),
    503: ("server_error", "service_unavailable"),
    504: ("server_error", "timeout"),
}


def _error(status: int, message: str, *, param: str | None = None, code: str | None = None) -> Reply:
    kind, default_code = _ERROR_TYPES.get(status, ("server_error" if status >= 500 else "invalid_request_error", None))
    body = {"error": {"message": message, "type": kind, "param": param, "code": code or default_code}}
    headers = {"x-request-id": f"req_{hashlib.sha256(message.encode()).hexdigest()[:24]}"}
    if status == 429:
        headers["retry-after"] = "1"
    return Reply(status, body, headers)


def _tokens(text: str) -> int:
    # About four characters a token, like OpenAI's rule of thumb; deterministic, never zero.
    return max(1, (len(text) + 3) // 4)


def _input_text(value: Any) -> str:
    """The text of ``input``: a string, or input items whose content is a string or content parts."""
    if isinstance(value, str):
        return value
    parts: list[str] = []
    for item in value if isinstance(value, list) else []:
        content = item.get("content") if isinstance(item, dict) else None
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return "\n".join(parts)


class FakeOpenAI(Sandbox):
    """``api_keys``: the only keys accepted; by default any non-empty key is."""

    name = "openai"
    url_suffix = "/v1"
    supported_outcomes = frozenset(KINDS)

    def __init__(self, *, port: int = 0, latency: float = 0.0, api_keys: set[str] | None = None) -> None:
        super().__init__(port=port, latency=latency)
        self.api_keys = set(api_keys) if api_keys is not None else None

    def routes(self) -> list[Route]:
        return [Route("POST", re.compile(r"/v1/responses"), self._create, scriptable=True)]

    def authenticate(self, request: RecordedRequest, authorization: str | None) -> Reply | None:
        scheme, _, key = (authorization or "").partition(" ")
        if scheme == "Bearer" and key and (self.api_keys is None or key in self.api_keys):
            return None
        return _error(401, "Incorrect API key provided.", code="invalid_api_key")

    def error_reply(self, status: int) -> Reply:
        return _error(status, f"The sandbox answered {status} as scripted.")

    def provider_error_reply(self, code: int) -> Reply:
        return _error(400, f"Invalid request (sandbox error {code}).", code=str(code))

    def invalid_output_reply(self, request: RecordedRequest) -> Reply:
        return self._response(request, "Sorry, I cannot produce JSON for that.")

    def output_reply(self, request: RecordedRequest, content: Any) -> Reply:
        return self._response(request, content if isinstance(content, str) else json.dumps(content, ensure_ascii=False))

    def _create(self, request: RecordedRequest, _match: re.Match[str], _authorization: str | None) -> Reply:
        body = request.body if isinstance(request.body, dict) else {}
        if not isinstance(body.get("model"), str) or not body["model"]:
            return _error(400, "Missing required parameter: 'model'.", param="model")
        if not isinstance(body.get("input"), str | list):
            return _error(400, "Missing required parameter: 'input'.", param="input")
        text_format = (body.get("text") or {}).get("format") or {"type": "text"}
        facts = Facts.from_text(_input_text(body["input"]))
        if text_format.get("type") == "json_schema":
            if not isinstance(text_format.get("schema"), dict) or not text_format.get("name"):
                return _error(400, "text.format needs 'name' and 'schema'.", param="text.format")
            if is_reply_schema(text_format["name"]):
                content = reply_content(text_format["schema"], facts, last_person_message(body["input"]))
            else:
                content = content_for(text_format["schema"], facts)
            output = json.dumps(content, ensure_ascii=False)
        else:
            output = facts.text_for("message", "")
        return self._response(request, output)

    def _response(self, request: RecordedRequest, output: str) -> Reply:
        body = request.body if isinstance(request.body, dict) else {}
        digest = secrets.token_hex(32)
        input_tokens = _tokens(str(body.get("instructions") or "") + _input_text(body.get("input")))
        output_tokens = _tokens(output)
        response = {
            "id": f"resp_{digest[:48]}",
            "object": "response",
            "created_at": int(time.time()),
            "status": "completed",
            "background": False,
            "error": None,
            "incomplete_details": None,
            "instructions": body.get("instructions"),
            "max_output_tokens": body.get("max_output_tokens"),
            "metadata": body.get("metadata") or {},
            "model": body.get("model"),
            "output": [
                {
                    "type": "message",
                    "id": f"msg_{digest[16:64]}",
                    "status": "completed",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": output, "annotations": [], "logprobs": []}],
                }
            ],
            "parallel_tool_calls": True,
            "previous_response_id": body.get("previous_response_id"),
            "reasoning": {"effort": None, "summary": None},
            "store": body.get("store", True),
            "temperature": 1.0,
            "text": body.get("text") or {"format": {"type": "text"}},
            "tool_choice": "auto",
            "tools": [],
            "top_p": 1.0,
            "truncation": "disabled",
            "usage": {
                "input_tokens": input_tokens,
                "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
                "output_tokens": output_tokens,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": input_tokens + output_tokens,
            },
            "user": None,
        }
        self._store(
            {
                "id": response["id"],
                "model": response["model"],
                "instructions": response["instructions"],
                "output_text": output,
                "usage": response["usage"],  # what the engine's token counts must equal
                "created_at": datetime.now(UTC).isoformat(),
            }
        )
        return Reply(200, response, {"x-request-id": f"req_{digest[:24]}", "openai-processing-ms": "1"})
