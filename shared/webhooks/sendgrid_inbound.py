"""SendGrid Inbound Parse: an email the person sent to the project's reply domain, posted as
``multipart/form-data``.

Inbound Parse cannot sign a request, so the project's URL carries a random token (``?token=…``,
the ``sendgrid_inbound_token`` of the project's email credentials secret), compared in constant
time (``hmac.compare_digest``). No other query parameter is accepted.

The queued payload is the form's text fields only (docs/decisions.md, "the inbound routes"):
each decoded by the charset Inbound Parse names for it in ``charsets`` (UTF-8 otherwise, bad bytes
replaced), ``html`` dropped when ``text`` has content, long fields cut, attachments counted and
never queued. In raw mode (the whole MIME message as ``email``) the same fields are read from it.
"""

from __future__ import annotations

import codecs
import hmac
import json
from collections.abc import Callable, Mapping
from email import policy
from email.errors import MessageError
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

from shared.events.envelope import Provider
from shared.processing.credentials import SendGridCredentials
from shared.webhooks import responses
from shared.webhooks.multipart_form import FormField, read_form
from shared.webhooks.refusals import BodyInvalid, SignatureRefused
from shared.webhooks.request import WebhookRequest
from shared.webhooks.settings import WebhookSettings
from shared.webhooks.verification_keys import KeyUnusable

TOKEN_PARAMETER = "token"
# A token shorter than this is guessable: the project's secret is treated as holding none.
MIN_TOKEN_LENGTH = 16
# The fields queued, as Inbound Parse names them; anything else it posts (sender_ip, the
# attachments' bytes) stays out of the queue.
QUEUED_FIELDS = (
    "from",
    "to",
    "cc",
    "subject",
    "text",
    "html",
    "headers",
    "envelope",
    "charsets",
    "SPF",
    "dkim",
    "spam_score",
    "attachments",
    "attachment-info",
)
# Characters kept of the long fields: a reply is read by the AI, not archived, and one queue
# message (256 KiB) must hold the event whatever the person quoted below their answer.
FIELD_CAPS = {"text": 20_000, "html": 20_000, "headers": 16_000}
RAW_MESSAGE_FIELD = "email"
DEFAULT_CHARSET = "utf-8"


def inbound_token(credentials: SendGridCredentials) -> str:
    """The project's Inbound Parse token; ``KeyUnusable`` (naming the field) when there is none or
    it is too short to be unguessable. ``comms secrets`` applies it too."""
    expected = credentials.sendgrid_inbound_token
    if expected is None:
        raise KeyUnusable("the email credentials hold no sendgrid_inbound_token")
    value = expected.get_secret_value()
    if len(value) < MIN_TOKEN_LENGTH:
        raise KeyUnusable(f"sendgrid_inbound_token is shorter than {MIN_TOKEN_LENGTH} characters")
    return value


class SendGridInboundWebhook:
    provider = Provider.SENDGRID
    credentials = SendGridCredentials
    media_type = "multipart/form-data"

    def max_body_bytes(self, settings: WebhookSettings) -> int:
        return settings.sendgrid_inbound_max_body_bytes

    def payloads(self, request: WebhookRequest, body: bytes) -> list[dict[str, Any]]:
        """The one payload of the posted email; ``BodyInvalid`` unless an Inbound Parse form."""
        fields = read_form(body, request.header("content-type") or "")
        return [inbound_payload(fields)]

    def signature_check(
        self, request: WebhookRequest, url: str, body: bytes, payloads: list[dict[str, Any]], now: float
    ) -> Callable[[SendGridCredentials], bool]:
        """Whether a project's email credentials hold the URL's token; refused at once (before any
        read) without exactly one non-empty ``token``, or with any other query parameter."""
        others = set(request.query) - {TOKEN_PARAMETER}
        if others:
            raise SignatureRefused(f"{len(others)} query parameter(s) other than {TOKEN_PARAMETER}")
        tokens = request.query.get(TOKEN_PARAMETER, ())
        if len(tokens) != 1 or not tokens[0]:
            raise SignatureRefused(f"not exactly one non-empty {TOKEN_PARAMETER} query parameter")
        # Bytes, so any guess compares (compare_digest refuses non-ASCII str), lone surrogates included.
        given = tokens[0].encode("utf-8", "surrogatepass")

        def verifies(credentials: SendGridCredentials) -> bool:
            # Constant time: how much of a guess matches must not show in the answer's timing.
            return hmac.compare_digest(given, inbound_token(credentials).encode("utf-8"))

        return verifies

    def accepted(self) -> dict[str, Any]:
        return responses.bare(200)


def inbound_payload(fields: Mapping[str, FormField]) -> dict[str, str]:
    """The queued text fields of an Inbound Parse form (see the module's docstring)."""
    charsets = _charsets(fields.get("charsets"))
    payload = {
        name: _decode(field.value, charsets.get(name))
        for name in QUEUED_FIELDS
        if (field := fields.get(name)) is not None and field.filename is None
    }
    files = sum(1 for field in fields.values() if field.filename is not None)
    raw = fields.get(RAW_MESSAGE_FIELD)
    if raw is not None and not payload.get("text"):
        derived = _from_raw_message(raw.value)
        files += int(derived.pop("attachments"))
        payload.update(derived)
    if files and "attachments" not in payload:
        payload["attachments"] = str(files)
    if payload.get("text"):
        payload.pop("html", None)
    if not payload.get("from") or not payload.get("to"):
        raise BodyInvalid("the form names no sender (from) or no recipient (to): not an Inbound Parse post")
    return {name: value[: FIELD_CAPS[name]] if name in FIELD_CAPS else value for name, value in payload.items()}


def _charsets(field: FormField | None) -> dict[str, str]:
    """Inbound Parse's ``charsets`` (JSON: field name → charset); unusable → every field UTF-8."""
    if field is None:
        return {}
    try:
        found = json.loads(field.value.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return {}
    if not isinstance(found, dict):
        return {}
    return {name: value for name, value in found.items() if isinstance(name, str) and isinstance(value, str)}


def _decode(value: bytes, charset: str | None) -> str:
    return value.decode(_codec(charset), errors="replace")


def _codec(charset: str | None) -> str:
    if not charset:
        return DEFAULT_CHARSET
    try:
        return codecs.lookup(charset.strip()).name
    except (LookupError, ValueError):
        return DEFAULT_CHARSET


def _from_raw_message(raw: bytes) -> dict[str, str]:
    """from/to/cc/subject/text/html/headers (and the attachment count) of a whole MIME message."""
    # policy.default builds EmailMessage (get_body, iter_attachments), and the parser's type says so.
    message = BytesParser(policy=policy.default).parsebytes(raw)
    # The raw header values, not the structured headers: the stdlib address parser raises
    # (IndexError, AttributeError) on some malformed addresses.
    raw_headers = {name.lower(): value for name, value in reversed(list(message.raw_items()))}
    derived = {name: _header_text(raw_headers[name]) for name in ("from", "to", "cc", "subject") if name in raw_headers}
    derived["headers"] = _header_block(raw)
    for name, subtype in (("text", "plain"), ("html", "html")):
        part = message.get_body(preferencelist=(subtype,))
        if isinstance(part, EmailMessage):
            derived[name] = _part_text(part)
    derived["attachments"] = str(sum(1 for _ in message.iter_attachments()))
    return derived


def _header_text(value: str) -> str:
    """A raw header value, unfolded, with RFC 2047 encoded words decoded (as it stands when they are
    broken). Raw 8-bit bytes come from the parser surrogate-escaped: read as UTF-8, bad ones replaced."""
    text = value.encode("utf-8", "surrogateescape").decode("utf-8", errors="replace")
    unfolded = " ".join(line.strip() for line in text.splitlines()).strip()
    try:
        return str(make_header(decode_header(unfolded)))
    except (MessageError, LookupError, ValueError):
        return unfolded


def _header_block(raw: bytes) -> str:
    ends = [index for index in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if index >= 0]
    return raw[: min(ends) if ends else len(raw)].decode("utf-8", errors="replace")


def _part_text(part: EmailMessage) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    return _decode(payload, part.get_content_charset())
