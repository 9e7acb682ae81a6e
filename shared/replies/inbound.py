"""The person's message, read from a verified inbound webhook (Twilio's form, SendGrid Inbound Parse).

``parse_inbound`` turns a ``ProviderEvent`` of kind ``twilio_inbound`` / ``sendgrid_inbound`` into
an ``InboundMessage``: the channel, the provider's id of the message (what makes recording it
idempotent), the person's address, the company address it reached, the text the thread keeps and
what the matcher needs (the email's recipients and threading headers). A payload that cannot be one
(no sender, no id) raises ``MalformedEvent``: no receive could ever apply it.

Email text is the new part only: lines quoted with ``>`` and everything from an ``On … wrote:``
line (or Outlook's ``-----Original Message-----``) on are the history the thread already holds.

A message that is a consent keyword (STOP, START, HELP…: ``shared.consent.keywords``) says so in
``consent_keyword``; Twilio's ``OptOutType`` wins over the text.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC
from email.message import Message
from email.parser import HeaderParser
from email.policy import default as default_policy
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from html.parser import HTMLParser

from shared.channels import Channel
from shared.consent.keywords import ConsentKeyword, classify, classify_email
from shared.events.envelope import EventKind, ProviderEvent
from shared.events.status_updates import MalformedEvent
from shared.identifiers import is_e164

# The thread keeps the person's words, not a whole mailbox: enough for any reply, small in the record.
MAX_TEXT_CHARS = 4000
MAX_SUBJECT_CHARS = 300
# A sender may list many recipients; the matcher looks at the first few only.
MAX_RECIPIENTS = 10
_WHATSAPP = "whatsapp:"
_WROTE = re.compile(r"^\s*On\b.*\bwrote:\s*$", re.IGNORECASE)
_ORIGINAL = re.compile(r"^\s*-{2,}\s*Original Message\s*-{2,}\s*$", re.IGNORECASE)
_BLANK_RUNS = re.compile(r"\n{3,}")


@dataclass(frozen=True)
class InboundMessage:
    channel: Channel
    provider: str  # "twilio" | "sendgrid"
    # Twilio's MessageSid; an email's Message-ID header (or a digest of it when absent).
    inbound_id: str
    sender: str  # the person: E.164, or a lower-case email address
    # The company number it reached (phones); None for email, whose recipients say it.
    company_address: str | None
    text: str
    # The provider's time of the message when it gives one (an email's Date), ISO 8601 UTC.
    sent_at: str | None = None
    media_count: int = 0
    media_types: tuple[str, ...] = ()
    subject: str | None = None
    email_message_id: str | None = None
    in_reply_to: str | None = None
    references: str | None = None
    # Email: every address it was sent to (To, Cc, the envelope's to), once each, as written.
    recipients: tuple[str, ...] = ()
    consent_keyword: ConsentKeyword | None = None
    # Only Twilio's OptOutType said it (the tenant's own keyword): the text alone is no keyword.
    keyword_from_provider: bool = False

    @property
    def reference(self) -> str:
        """What logs and the suppression list's ``source`` name the message by: Twilio's sid as is;
        an email's Message-ID (which can carry the sender's address) only as a digest."""
        return (
            self.inbound_id if self.provider == "twilio" else hashlib.sha256(self.inbound_id.encode()).hexdigest()[:16]
        )


def parse_inbound(event: ProviderEvent) -> InboundMessage:
    if event.kind is EventKind.TWILIO_INBOUND:
        return _twilio(event.payload)
    if event.kind is EventKind.SENDGRID_INBOUND:
        return _sendgrid(event.payload)
    raise MalformedEvent(f"{event.kind} is not an inbound message")


def _twilio(payload: dict) -> InboundMessage:
    sid = _text(payload, "MessageSid") or _text(payload, "SmsMessageSid")
    if not sid:
        raise MalformedEvent("The inbound message has no MessageSid")
    sender, to = _text(payload, "From"), _text(payload, "To")
    if not sender or not to:
        raise MalformedEvent("The inbound message has no From or To")
    whatsapp = sender.startswith(_WHATSAPP) or to.startswith(_WHATSAPP)
    person, company = sender.removeprefix(_WHATSAPP), to.removeprefix(_WHATSAPP)
    if not is_e164(person) or not is_e164(company):
        raise MalformedEvent("From and To of an inbound message must be E.164 numbers")
    count = _count(payload.get("NumMedia"))
    types = tuple(t for n in range(count) if (t := _text(payload, f"MediaContentType{n}")))
    body = _text(payload, "Body")
    keyword = classify(body, _text(payload, "OptOutType"))
    return InboundMessage(
        channel=Channel.WHATSAPP if whatsapp else Channel.SMS,
        provider="twilio",
        inbound_id=sid,
        sender=person,
        company_address=company,
        text=(body or "")[:MAX_TEXT_CHARS],
        media_count=count,
        media_types=types,
        consent_keyword=keyword,
        keyword_from_provider=keyword is not None and classify(body) is not keyword,
    )


def _sendgrid(payload: dict) -> InboundMessage:
    _, sender = parseaddr(_text(payload, "from") or "")
    if "@" not in sender:
        raise MalformedEvent("The inbound email has no sender address")
    sender = sender.strip().lower()
    headers = HeaderParser(policy=default_policy).parsestr(_text(payload, "headers") or "")
    subject = _header(headers, "Subject") or _text(payload, "subject")
    text = _text(payload, "text") or html_to_text(_text(payload, "html") or "")
    content = strip_quoted(text)[:MAX_TEXT_CHARS]
    date = _header(headers, "Date")
    message_id = _header(headers, "Message-ID")
    inbound_id = message_id or _digest(sender, date, subject, text)
    media_types = _attachment_types(_text(payload, "attachment-info"))
    return InboundMessage(
        channel=Channel.EMAIL,
        provider="sendgrid",
        inbound_id=inbound_id,
        sender=sender,
        company_address=None,
        text=content,
        sent_at=_iso_date(date),
        media_count=max(_count(payload.get("attachments")), len(media_types)),
        media_types=media_types,
        subject=subject[:MAX_SUBJECT_CHARS] if subject else None,
        email_message_id=message_id,
        in_reply_to=_header(headers, "In-Reply-To"),
        references=_header(headers, "References"),
        recipients=_recipients(payload, headers),
        consent_keyword=classify_email(content, subject),
    )


def strip_quoted(text: str) -> str:
    """The new part of an email: quoted lines and everything from the quote's heading on removed."""
    kept: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if _WROTE.match(line) or _ORIGINAL.match(line):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line.rstrip())
    return _BLANK_RUNS.sub("\n\n", "\n".join(kept)).strip()


class _HtmlText(HTMLParser):
    """Text of an HTML body: blocks become lines; scripts, styles and quoted replies are skipped."""

    _BLOCKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6"})
    _SKIPPED = frozenset({"script", "style", "head", "blockquote"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in self._SKIPPED:
            self._skip += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIPPED:
            self._skip = max(self._skip - 1, 0)
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).split("\n"))
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip()


def _recipients(payload: dict, headers: Message) -> tuple[str, ...]:
    values = [_text(payload, "to"), _text(payload, "cc"), _header(headers, "To"), _header(headers, "Cc")]
    addresses = [address for _, address in getaddresses([v for v in values if v])]
    try:
        envelope = json.loads(_text(payload, "envelope") or "{}")
    except ValueError:
        envelope = {}
    to = envelope.get("to") if isinstance(envelope, dict) else None
    if isinstance(to, str):
        to = [to]
    addresses += [a for a in to or [] if isinstance(a, str)]
    seen: dict[str, str] = {}  # lower-case → as written (the first spelling)
    for address in addresses:
        address = address.strip()
        if "@" in address:
            seen.setdefault(address.lower(), address)
    return tuple(seen.values())[:MAX_RECIPIENTS]


def _attachment_types(info: str | None) -> tuple[str, ...]:
    try:
        parsed = json.loads(info or "{}")
    except ValueError:
        return ()
    if not isinstance(parsed, dict):
        return ()
    return tuple(
        str(entry["type"])
        for _, entry in sorted(parsed.items())
        if isinstance(entry, dict) and isinstance(entry.get("type"), str)
    )


def _digest(*parts: str | None) -> str:
    """A stable id for an email without a Message-ID: the same re-posted email gives the same one."""
    joined = "\x1f".join(part or "" for part in parts)
    return "sha256:" + hashlib.sha256(joined.encode("utf-8")).hexdigest()


def _iso_date(value: str | None) -> str | None:
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _header(headers: Message, name: str) -> str | None:
    try:
        value = headers.get(name)
    except (TypeError, ValueError, IndexError):  # a header the policy cannot parse is as good as absent
        return None
    text = " ".join(str(value).split()) if value is not None else ""
    return text or None


def _text(payload: dict, name: str) -> str | None:
    value = payload.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedEvent(f"The inbound field {name} is not text")
    return value.strip() or None


def _count(value: object) -> int:
    try:
        return max(int(str(value)), 0) if value not in (None, "") else 0
    except ValueError:
        return 0
