"""A fake of SendGrid's v3 Mail Send API (``POST /v3/mail/send``) and of its signed Event Webhook.

Event Webhook: SendGrid configures one URL per account; the sandbox one per API key (a tenant
project's key stands for its account). After an accepted send with a key that has a URL, the
sandbox posts signed batches there (see ``local.sandboxes.sendgrid_event_webhook``), by default
``processed`` then ``delivered``, one batch per step holding one event per recipient,
``callback_delay`` seconds apart (see ``local.sandboxes.callback_sandbox`` for scripting them).
SendGrid retries a batch that was not answered 2xx (for up to 24 hours); the sandbox tries twice
more, 0.25 s then 0.5 s later.

Python                                          HTTP (under ``control_url``)
``public_key``                                  ``GET  /_sandbox/event_webhook`` → ``{"public_key", "webhooks"}``
``configure_event_webhook(api_key, url|None)``  ``POST /_sandbox/event_webhook`` ``{"api_key", "url"}``
``post_event_batch(url, events, timestamp=)``   ``POST /_sandbox/event_webhook/post`` ``{"url", "events", "timestamp"}``
``bounce(email, **fields)``                     ``POST /_sandbox/bounces`` ``{"email", "reason", "status", "type"}``
``bouncing``                                    ``GET  /_sandbox/bounces``

A bouncing address is a mailbox that does not exist: every mail to it is accepted (202, in the
outbox) and its events are ``processed`` then ``bounce`` (by default SendGrid's hard bounce,
``type: bounce``, 5.1.1), whatever a callback script says for the other recipients. ``reset`` forgets
the bouncing addresses.

``post_event_batch`` signs any batch with a chosen unix timestamp (default now), posts it at once
and answers the log entry (``http_status``). The key pair and the URLs (by key fingerprint) are
part of ``saved_state()``, so a restarted local stack keeps verifying.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from typing import Any

from local.sandboxes import sendgrid_event_webhook as webhook
from local.sandboxes.base import RecordedRequest, Reply, Route, fingerprint
from local.sandboxes.callback_sandbox import CallbackSandbox
from local.sandboxes.callbacks import DEFAULT_DELAY, Callback, PostedCallback, RetryPolicy
from local.sandboxes.outcomes import InvalidOutcome

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
_BOUNCE_FIELDS = {"reason", "status", "type", "bounce_classification"}


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


class FakeSendGrid(CallbackSandbox):
    """``api_keys``: the only keys accepted; by default any non-empty key is."""

    name = "sendgrid"
    retry_policy = RetryPolicy(retry_error_status=True)

    def __init__(
        self,
        *,
        port: int = 0,
        latency: float = 0.0,
        api_keys: set[str] | None = None,
        callback_delay: float = DEFAULT_DELAY,
    ) -> None:
        super().__init__(port=port, latency=latency, callback_delay=callback_delay)
        self.api_keys = set(api_keys) if api_keys is not None else None
        self._key = webhook.EventWebhookKey.generate()
        self._event_webhooks: dict[str, str] = {}  # fingerprint of the API key -> URL
        self._bounces: dict[str, dict[str, Any]] = {}  # lower-cased address -> the bounce's own fields

    # -- the Event Webhook ------------------------------------------------------------------------
    @property
    def public_key(self) -> str:
        """The verification key as SendGrid's console shows it (base64 DER)."""
        return self._key.public_key

    def configure_event_webhook(self, api_key: str, url: str | None) -> None:
        """Post the events of sends made with ``api_key`` to ``url`` (None: to nowhere)."""
        if not api_key:
            raise InvalidOutcome("an Event Webhook is configured for a non-empty API key")
        with self._lock:
            if url:
                self._event_webhooks[_key_id(api_key)] = url
            else:
                self._event_webhooks.pop(_key_id(api_key), None)

    def forget_event_webhooks(self) -> None:
        """No send's events are posted anywhere until a webhook is configured again (a test's own
        configuration must not outlive the test: ``reset`` keeps webhooks, as it keeps keys)."""
        with self._lock:
            self._event_webhooks.clear()

    def bounce(self, email: str, **fields: Any) -> None:
        """Every later mail to ``email`` bounces; ``fields`` (reason, status, type, ...) override
        SendGrid's hard-bounce defaults."""
        if not (isinstance(email, str) and _EMAIL.fullmatch(email)):
            raise InvalidOutcome(f"a bouncing address is an email address, got {email!r}")
        webhook.check_step({"event": "bounce", **fields})
        with self._lock:
            self._bounces[email.lower()] = dict(fields)

    @property
    def bouncing(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {email: dict(fields) for email, fields in self._bounces.items()}

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self._bounces.clear()

    def post_event_batch(
        self, url: str, events: list[dict[str, Any]], *, timestamp: int | None = None
    ) -> PostedCallback:
        """Sign ``events`` as of ``timestamp`` (unix seconds, default now) and post them at once."""
        signed_at = int(datetime.now(UTC).timestamp()) if timestamp is None else timestamp
        message_id = str(events[0].get("sg_message_id", "")).partition(".")[0] if events else ""
        return self._poster.post_now(
            webhook.batch_callback(message_id, url, events, self._key.sign, signed_at=signed_at)
        )

    def saved_state(self) -> dict[str, Any]:
        with self._lock:
            hooks = dict(self._event_webhooks)
        return {**super().saved_state(), "event_webhook": {"private_key": self._key.to_pem(), "urls": hooks}}

    def restore_state(self, state: dict[str, Any]) -> None:
        super().restore_state(state)
        saved = state.get("event_webhook")
        if saved:
            with self._lock:
                self._key = webhook.EventWebhookKey.from_pem(saved["private_key"])
                self._event_webhooks = dict(saved.get("urls", {}))

    def check_step(self, step: dict[str, Any]) -> None:
        webhook.check_step(step)

    def control(self, action: tuple[str, str], request: RecordedRequest) -> Reply | None:
        body = request.body if isinstance(request.body, dict) else {}
        if action == ("GET", "event_webhook"):
            with self._lock:
                hooks = [{"api_key": key, "url": url} for key, url in self._event_webhooks.items()]
            return Reply(200, {"public_key": self.public_key, "webhooks": hooks})
        if action == ("POST", "event_webhook"):
            api_key, url = body.get("api_key"), body.get("url")
            if not isinstance(api_key, str) or not (url is None or isinstance(url, str)):
                raise InvalidOutcome('takes {"api_key": "<key>", "url": "<url>" or null}')
            self.configure_event_webhook(api_key, url)
            return Reply(200, {"api_key": _key_id(api_key), "url": url or None})
        if action == ("POST", "bounces"):
            email, fields = body.get("email"), {k: v for k, v in body.items() if k != "email"}
            if set(fields) - _BOUNCE_FIELDS:
                raise InvalidOutcome(
                    f"takes {{'email': '<address>'}} and optionally {', '.join(sorted(_BOUNCE_FIELDS))}"
                )
            self.bounce(email, **fields)
            return Reply(200, {"bouncing": email.lower()})
        if action == ("GET", "bounces"):
            return Reply(200, self.bouncing)
        if action == ("POST", "event_webhook/post"):
            url, events, timestamp = body.get("url"), body.get("events"), body.get("timestamp")
            batch = events if isinstance(events, list) and all(isinstance(e, dict) for e in events) else None
            if not isinstance(url, str) or batch is None or not isinstance(timestamp, int | None):
                raise InvalidOutcome('takes {"url": "<url>", "events": [...], "timestamp": <unix seconds, optional>}')
            return Reply(200, self.post_event_batch(url, batch, timestamp=timestamp).to_json())
        return super().control(action, request)

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

    def _send(self, request: RecordedRequest, _match: re.Match[str], authorization: str | None) -> Reply:
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
                # What threads a reply: where the person's answer goes, and Message-ID/In-Reply-To/References.
                "reply_to": (body.get("reply_to") or {}).get("email"),
                "headers": _headers(body),
                "custom_args": _custom_args(body),
                "created_at": datetime.now(UTC).isoformat(),
            }
        )
        reply = Reply(202, None, {"X-Message-Id": message_id})
        with self._lock:
            url = self._event_webhooks.get(_key_id(authorization.partition(" ")[2] if authorization else ""))
        if url:
            batches, hold = self._event_batches(body, message_id, url)
            reply.after_sent = self._poster.after_answer(message_id, batches, hold=hold)
        return reply

    def _event_batches(self, mail: dict[str, Any], message_id: str, url: str) -> tuple[list[Callback], bool]:
        """The next script's batches for an accepted send, in posting order, and whether they are held."""
        script = self._next_callback_script()
        steps = script.steps if script.steps is not None else webhook.DEFAULT_STEPS
        batches = webhook.send_batches(mail, message_id, url, steps, self._key.sign, bounces=self.bouncing)
        return script.arrange(batches), script.hold


def _headers(mail: dict[str, Any]) -> dict[str, str]:
    """The mail's custom headers: the top-level ones, then the first personalization's (which win,
    as at SendGrid)."""
    personalization = mail["personalizations"][0]
    return {**(mail.get("headers") or {}), **(personalization.get("headers") or {})}


def _custom_args(mail: dict[str, Any]) -> dict[str, str]:
    personalization = mail["personalizations"][0]
    return {**(mail.get("custom_args") or {}), **(personalization.get("custom_args") or {})}


def _key_id(api_key: str) -> str:
    return fingerprint(f"Bearer {api_key}")
