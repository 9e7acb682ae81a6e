"""A fake of Twilio's Programmable Messaging API: send, list and fetch Messages (SMS and WhatsApp),
and the signed status callbacks of a message created with a ``StatusCallback``.

Status callbacks (see ``local.sandboxes.callback_sandbox`` for scripting them, over Python or HTTP):
after the create answer was written, the sandbox posts ``sent``, ``delivered`` and, for WhatsApp,
``read`` to the ``StatusCallback`` URL, ``callback_delay`` seconds apart (the first one that long
after the answer), signed with the auth token of the account that created the message. The message
resource (list/fetch) moves through the steps in their scripted order, one step per posted
callback, whatever order the callbacks are posted in; a failure step sets its ``error_code``.
Without a ``StatusCallback`` nothing is posted and the message stays ``queued``.

WhatsApp's 24-hour window (``whatsapp_window=True``, as the local stack runs it): a free-form
WhatsApp message (a ``Body``, no ``ContentSid``) to a person who has not written to that sender in
the last 24 hours is refused with 63016, as Twilio refuses it. The sandbox knows who wrote because
its person (``local.sandboxes.person``) posted the inbound message: ``note_inbound(person, company)``.
A template (``ContentSid``) may always be sent.
Twilio retries a callback only when the connection fails (its default retry policy ``ct``); the
sandbox tries twice more, 0.25 s then 0.5 s later, and logs an error status without retrying.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import re
import secrets
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from functools import partial
from typing import Any

from local.sandboxes import twilio_status_callbacks
from local.sandboxes.base import RecordedRequest, Reply, Route
from local.sandboxes.callback_sandbox import CallbackSandbox
from local.sandboxes.callbacks import DEFAULT_DELAY, Callback, RetryPolicy

_ACCOUNT = r"/2010-04-01/Accounts/(?P<account>AC[0-9a-zA-Z]+)"
_E164 = re.compile(r"\+[1-9]\d{6,14}")
_MESSAGES = {
    20003: "Authenticate",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    20500: "An internal server error has occurred",
    20503: "Service unavailable",
    20504: "Gateway timeout",
    21211: "Invalid 'To' Phone Number",
    21212: "Invalid 'From' Phone Number",
    21602: "Message body is required.",
    21610: "Attempt to send to unsubscribed recipient",
    21614: "'To' number is not a valid mobile number",
    21910: "Invalid From and To pair. From and To should be of the same channel",
    30003: "Unreachable destination handset",
    30005: "Unknown destination handset",
    30006: "Landline or unreachable carrier",
    30007: "Message filtered",
    30008: "Unknown error",
    63007: "Twilio could not find a Channel with the specified From address",
    63016: "Failed to send freeform message because you are outside the allowed window.",
}
WHATSAPP_WINDOW = timedelta(hours=24)
_STATUS_CODES = {401: 20003, 404: 20404, 429: 20429, 500: 20500, 503: 20503, 504: 20504}


def _error(status: int, code: int, message: str | None = None) -> Reply:
    body = {
        "code": code,
        "message": message or _MESSAGES.get(code, f"Error {code}"),
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return Reply(status, body, {"Retry-After": "1"} if status == 429 else {})


def _address_kind(address: str) -> str | None:
    """'whatsapp' or 'sms' for a valid address, None otherwise."""
    channel, _, number = address.rpartition(":")
    if channel not in ("", "whatsapp") or not _E164.fullmatch(number):
        return None
    return channel or "sms"


def _segments(body: str) -> int:
    # GSM-7 fits 160 characters in one segment, 153 per segment when split.
    return 1 if len(body) <= 160 else -(-len(body) // 153)


def _parse_date(value: str) -> datetime | date:
    if "T" in value or " " in value:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    return date.fromisoformat(value)


def _sent_matches(sent: datetime, op: str, bound: datetime | date) -> bool:
    """Twilio's DateSent filters: ``>`` on or after, ``<`` on or before, exact on the same day.

    The SDK sends a date as midnight UTC, so the exact filter compares days; the bounds compare
    to the second when given a time.
    """
    if op == "" or not isinstance(bound, datetime):
        day = bound.date() if isinstance(bound, datetime) else bound
        value: datetime | date = sent.date()
        bound = day
    else:
        value, bound = sent.replace(microsecond=0), bound.replace(microsecond=0)
    if op == ">":
        return value >= bound
    if op == "<":
        return value <= bound
    return value == bound


def render_template(text: str | None, variables: dict[str, Any] | None) -> str:
    """A Content template's text with its ``{{name}}`` placeholders filled, as Twilio lists the message.

    Without a registered text, each variable's value on its own line stands in for the template.
    """
    variables = variables or {}
    if text is None:
        text = "\n".join(f"{{{{{name}}}}}" for name in sorted(variables))
    for name, value in variables.items():
        text = text.replace(f"{{{{{name}}}}}", str(value))
    return text


def _basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    """(account sid, auth token) of a Basic Authorization header, None when it is not one."""
    scheme, _, encoded = (authorization or "").partition(" ")
    try:
        username, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (username, password) if scheme == "Basic" and username and password else None


class FakeTwilio(CallbackSandbox):
    """``credentials``: {account_sid: auth_token} accepted; by default any non-empty pair is.
    ``templates``: Content template texts by ``HX...`` sid, rendered into a template send's body."""

    name = "twilio"
    retry_policy = RetryPolicy(retry_error_status=False)

    def __init__(
        self,
        *,
        port: int = 0,
        latency: float = 0.0,
        credentials: dict[str, str] | None = None,
        callback_delay: float = DEFAULT_DELAY,
        whatsapp_window: bool = False,
    ) -> None:
        super().__init__(port=port, latency=latency, callback_delay=callback_delay)
        self.credentials = dict(credentials) if credentials is not None else None
        self._messages: list[dict[str, Any]] = []  # resources as the API shows them, oldest first
        self.templates: dict[str, str] = {}
        self.whatsapp_window = whatsapp_window
        # (person, company sender) as WhatsApp addresses -> when the person last wrote to it
        self._inbound: dict[tuple[str, str], datetime] = {}

    def note_inbound(self, person: str, company: str, at: datetime | None = None) -> None:
        """``person`` wrote to ``company`` (``whatsapp:+…`` addresses) at ``at`` (default now): a
        free-form WhatsApp answer may follow for 24 hours."""
        with self._lock:
            self._inbound[(person, company)] = at or datetime.now(UTC)

    def _window_closed(self, to: str, sender: str) -> bool:
        with self._lock:
            wrote = self._inbound.get((to, sender))
        return wrote is None or datetime.now(UTC) - wrote > WHATSAPP_WINDOW

    def routes(self) -> list[Route]:
        return [
            Route("POST", re.compile(_ACCOUNT + r"/Messages\.json"), self._create, scriptable=True),
            Route("GET", re.compile(_ACCOUNT + r"/Messages\.json"), self._list),
            Route("GET", re.compile(_ACCOUNT + r"/Messages/(?P<sid>SM[0-9a-f]{32})\.json"), self._fetch),
        ]

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self._messages.clear()
            self.templates.clear()
            self._inbound.clear()

    def saved_state(self) -> dict[str, Any]:
        # The message resources too: reconciliation lists them after a restart.
        with self._lock:
            messages = [{**m, "_sent": m["_sent"].isoformat()} for m in self._messages]
            inbound = [[person, company, at.isoformat()] for (person, company), at in self._inbound.items()]
        return {**super().saved_state(), "messages": messages, "inbound": inbound}

    def restore_state(self, state: dict[str, Any]) -> None:
        super().restore_state(state)
        with self._lock:
            self._messages[:] = [{**m, "_sent": datetime.fromisoformat(m["_sent"])} for m in state.get("messages", [])]
            self._inbound = {
                (person, company): datetime.fromisoformat(at) for person, company, at in state.get("inbound", [])
            }

    def authenticate(self, request: RecordedRequest, authorization: str | None) -> Reply | None:
        username, password = _basic_credentials(authorization) or ("", "")
        account = request.path.split("/")[3] if request.path.count("/") >= 3 else ""
        known = self.credentials is None or self.credentials.get(username) == password
        if username and known and username == account:
            return None
        return _error(401, 20003)

    def check_step(self, step: dict[str, Any]) -> None:
        twilio_status_callbacks.check_step(step)

    def error_reply(self, status: int) -> Reply:
        return _error(status, _STATUS_CODES.get(status, 20500 if status >= 500 else 20001))

    def provider_error_reply(self, code: int) -> Reply:
        return _error(429 if code == 20429 else 400, code)

    def _create(self, request: RecordedRequest, match: re.Match[str], authorization: str | None) -> Reply:
        form: dict[str, Any] = request.body if isinstance(request.body, dict) else {}
        to, sender = form.get("To", ""), form.get("From", "")
        to_kind = _address_kind(to)
        if to_kind is None:
            return _error(400, 21211)
        if not sender and not form.get("MessagingServiceSid"):
            return _error(400, 21212, "A 'From' phone number or a MessagingServiceSid is required.")
        if sender and _address_kind(sender) is None:
            return _error(400, 21212)
        if sender and _address_kind(sender) != to_kind:
            return _error(400, 21910)
        if not form.get("Body") and not form.get("ContentSid"):
            return _error(400, 21602)
        free_form = not form.get("ContentSid")
        if self.whatsapp_window and to_kind == "whatsapp" and free_form and self._window_closed(to, sender):
            return _error(400, 63016)
        try:
            variables = json.loads(form["ContentVariables"]) if form.get("ContentVariables") else None
        except ValueError:
            return _error(400, 21656, "The ContentVariables Parameter is invalid.")
        now = datetime.now(UTC)
        account, sid = match["account"], "SM" + secrets.token_hex(16)
        body = form.get("Body") or render_template(self.templates.get(form["ContentSid"]), variables)
        uri = f"/2010-04-01/Accounts/{account}/Messages/{sid}.json"
        stamp = format_datetime(now, usegmt=True)
        message = {
            "account_sid": account,
            "api_version": "2010-04-01",
            "body": body,
            "date_created": stamp,
            "date_sent": stamp,
            "date_updated": stamp,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": sender or None,
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "num_media": "0",
            "num_segments": str(_segments(body)),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "subresource_uris": {
                "media": uri.replace(".json", "/Media.json"),
                "feedback": uri.replace(".json", "/Feedback.json"),
            },
            "to": to,
            "uri": uri,
        }
        with self._lock:
            self._messages.append({**message, "_sent": now})
        self._store(
            {
                "sid": sid,
                "channel": to_kind,
                "to": to,
                "from": sender or None,
                "body": body,
                "content_sid": form.get("ContentSid"),
                "content_variables": variables,
                "status_callback": form.get("StatusCallback"),
                "created_at": now.isoformat(),
            }
        )
        callback_url = form.get("StatusCallback")
        if not callback_url:
            return Reply(201, message)
        _, auth_token = _basic_credentials(authorization) or ("", "")
        callbacks, hold = self._status_callbacks(message, to_kind, callback_url, auth_token)
        return Reply(201, message, after_sent=self._poster.after_answer(sid, callbacks, hold=hold))

    def _status_callbacks(
        self, message: dict[str, Any], channel: str, url: str, auth_token: str
    ) -> tuple[list[Callback], bool]:
        """The next script's callbacks for a new message, in posting order, and whether they are held."""
        script = self._next_callback_script()
        steps = list(script.steps) if script.steps is not None else twilio_status_callbacks.default_steps(channel)
        in_order = [
            twilio_status_callbacks.status_callback(message, step, url=url, auth_token=auth_token) for step in steps
        ]
        per_step = 2 if script.duplicate else 1
        # The resource follows the steps in their own order, one per post, however the posts are arranged.
        posts = [
            dataclasses.replace(callback, prepare=partial(self._move, message["sid"], steps[i // per_step]))
            for i, callback in enumerate(script.arrange(in_order))
        ]
        return posts, script.hold

    def _move(self, sid: str, step: dict[str, Any], callback: Callback) -> Callback:
        error_code = step.get("error_code")
        with self._lock:
            for m in self._messages:
                if m["sid"] == sid:
                    m["status"] = step["status"]
                    m["date_updated"] = format_datetime(datetime.now(UTC), usegmt=True)
                    m["error_code"] = error_code
                    m["error_message"] = _MESSAGES.get(error_code) if error_code else None
        return callback

    def _list(self, request: RecordedRequest, match: re.Match[str], _authorization: str | None) -> Reply:
        query = request.query
        try:
            bounds = [(op, _parse_date(query[f"DateSent{op}"])) for op in (">", "<", "") if query.get(f"DateSent{op}")]
            page_size = int(query.get("PageSize", 50))
        except ValueError:
            return _error(400, 20001, "Invalid DateSent or PageSize filter.")
        with self._lock:
            stored = [m for m in self._messages if m["account_sid"] == match["account"]]
        found = [
            {k: v for k, v in m.items() if k != "_sent"}
            for m in reversed(stored)  # newest first, as Twilio lists
            if query.get("To", m["to"]) == m["to"]
            and query.get("From", m["from"]) == m["from"]
            and all(_sent_matches(m["_sent"], op, bound) for op, bound in bounds)
        ][:page_size]
        uri = f"{request.path}?PageSize={page_size}&Page=0"
        return Reply(
            200,
            {
                "messages": found,
                "end": max(len(found) - 1, 0),
                "first_page_uri": uri,
                "next_page_uri": None,
                "page": 0,
                "page_size": page_size,
                "previous_page_uri": None,
                "start": 0,
                "uri": uri,
            },
        )

    def _fetch(self, request: RecordedRequest, match: re.Match[str], _authorization: str | None) -> Reply:
        with self._lock:
            for m in self._messages:
                if m["sid"] == match["sid"] and m["account_sid"] == match["account"]:
                    return Reply(200, {k: v for k, v in m.items() if k != "_sent"})
        return _error(404, 20404)
