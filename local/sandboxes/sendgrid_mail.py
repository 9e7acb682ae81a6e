"""A fake of SendGrid's v3 Mail Send API (``POST /v3/mail/send``)."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from typing import Any

from local.sandboxes.base import RecordedRequest, Reply, Route, Sandbox

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_STATUS_MESSAGES = {
    401: "The provided authorization grant is invalid, expired, or revoked",
    403: "access forbidden",
    404: "not found",
    413: "payload too large",
    429: "too many requests",
    500: "internal server error",
    503: "service unavailable",
    504: "gateway timeout",
}


def _errors(status: int, *errors: tuple[str, str | None, str | None]) -> Reply:
    body = {"errors": [{"message": message, "field": field, "help": help_} for message, field, help_ in errors]}
    return Reply(status, body, {"X-RateLimit-Reset": "1"} if status == 429 else {})


_HELP = "https://docs.sendgrid.com/api-reference/mail-send/errors"


def _problems(body: Any) -> list[tuple[str, str | None, str | None]]:
    """SendGrid's checks of the parts of a mail the engine sends; empty when the mail is valid."""
    if not isinstance(body, dict):
        return [("Bad Request", None, None)]
    problems: list[tuple[str, str | None, str | None]] = []
    personalizations = body.get("personalizations")
    if not isinstance(personalizations, list) or not personalizations:
        problems.append(("The personalizations field is required.", "personalizations", _HELP))
        personalizations = []
    for i, item in enumerate(personalizations):
        recipients = item.get("to") if isinstance(item, dict) else None
        if not isinstance(recipients, list) or not recipients:
            problems.append(("The to array is required for all personalizations.", f"personalizations.{i}.to", _HELP))
            continue
        for j, to in enumerate(recipients):
            if not (isinstance(to, dict) and _EMAIL.fullmatch(str(to.get("email", "")))):
                problems.append(("Does not contain a valid address.", f"personalizations.{i}.to.{j}.email", _HELP))
    sender = body.get("from")
    if not (isinstance(sender, dict) and _EMAIL.fullmatch(str(sender.get("email", "")))):
        problems.append(("The from object must be provided for every email send.", "from.email", _HELP))
    if body.get("template_id"):
        return problems  # a dynamic template brings its own subject and content
    if not (isinstance(body.get("subject"), str) and body["subject"]):
        problems.append(("The subject is required.", "subject", _HELP))
    content = body.get("content")
    if not isinstance(content, list) or not content:
        problems.append(("The content parameter is required unless a template_id is given.", "content", _HELP))
        content = []
    for i, part in enumerate(content):
        if not (isinstance(part, dict) and part.get("type") in ("text/plain", "text/html") and part.get("value")):
            problems.append(("Content needs a type text/plain or text/html and a value.", f"content.{i}", _HELP))
    return problems


class FakeSendGrid(Sandbox):
    """``api_keys``: the only keys accepted; by default any non-empty key is."""

    name = "sendgrid"

    def __init__(self, *, port: int = 0, latency: float = 0.0, api_keys: set[str] | None = None) -> None:
        super().__init__(port=port, latency=latency)
        self.api_keys = set(api_keys) if api_keys is not None else None

    def routes(self) -> list[Route]:
        return [Route("POST", re.compile(r"/v3/mail/send"), self._send, scriptable=True)]

    def authenticate(self, request: RecordedRequest, authorization: str | None) -> Reply | None:
        scheme, _, key = (authorization or "").partition(" ")
        if scheme == "Bearer" and key and (self.api_keys is None or key in self.api_keys):
            return None
        return self.error_reply(401)

    def error_reply(self, status: int) -> Reply:
        return _errors(status, (_STATUS_MESSAGES.get(status, "error"), None, None))

    def provider_error_reply(self, code: int) -> Reply:
        return _errors(400, (f"The sandbox rejected this mail as scripted (error {code}).", None, None))

    def _send(self, request: RecordedRequest, _match: re.Match[str]) -> Reply:
        problems = _problems(request.body)
        if problems:
            return _errors(400, *problems)
        body: dict[str, Any] = request.body
        parts = {part["type"]: part["value"] for part in body.get("content") or []}
        message_id = secrets.token_urlsafe(16)
        self._store(
            {
                "message_id": message_id,
                "from": body["from"]["email"],
                "from_name": body["from"].get("name"),
                "to": [to["email"] for item in body["personalizations"] for to in item["to"]],
                "subject": body.get("subject"),
                "text": parts.get("text/plain"),
                "html": parts.get("text/html"),
                "template_id": body.get("template_id"),
                "created_at": datetime.now(UTC).isoformat(),
            }
        )
        return Reply(202, None, {"X-Message-Id": message_id})
