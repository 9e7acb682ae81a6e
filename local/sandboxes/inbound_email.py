"""SendGrid Inbound Parse: the ``multipart/form-data`` post of an email the person sends to the
tenant's inbound domain (what ``local.sandboxes.person`` sends for the person).

The person answers the engine's last email to them, as a mail client does: to its ``Reply-To``
(else its sender), subject ``Re: <its subject>`` (never ``Re: Re:``), ``In-Reply-To`` its
``Message-ID`` and ``References`` its references plus that id, the answer above an ``On …, …
wrote:`` line and the engine's text quoted with ``>``. Fields as Inbound Parse posts them
(default, not "raw"): ``headers`` (the raw header block), ``dkim``, ``to``, ``from``, ``subject``,
``text``, ``sender_ip``, ``envelope`` (JSON), ``attachments`` (a count), ``attachment-info``
(JSON) with one file part per attachment, ``charsets`` (JSON), ``SPF``.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import quote

from local.sandboxes.callbacks import Callback
from shared.webhooks.routes import SENDGRID_INBOUND

SENDER_IP = "192.0.2.25"  # TEST-NET-1: documentation only


@dataclass(frozen=True)
class InboundMail:
    sender: str  # the person's address
    sender_name: str
    to: str
    subject: str
    text: str
    message_id: str
    in_reply_to: str | None
    references: str | None
    media: tuple[str, ...]


def last_mail_to_person(outbox: list[dict[str, Any]], record: dict[str, Any]) -> dict[str, Any] | None:
    """The engine's latest email of this conversation in the sandbox's outbox: the record's latest
    message, else the newest mail from the company's address to the person."""
    latest = record.get("provider_message_id")
    for mail in reversed(outbox):
        if latest and mail.get("message_id") == latest:
            return mail
    person, company = str(record.get("recipient_email") or "").lower(), str(record.get("company_sender") or "").lower()
    for mail in reversed(outbox):
        if str(mail.get("from", "")).lower() == company and person in [str(to).lower() for to in mail.get("to", [])]:
            return mail
    return None


def answer_to(
    mail: dict[str, Any], record: dict[str, Any], *, text: str, message_id: str | None, media: tuple[str, ...]
) -> InboundMail:
    headers = {name.lower(): value for name, value in (mail.get("headers") or {}).items()}
    parent = headers.get("message-id")
    references = " ".join(part for part in (headers.get("references"), parent) if part) or None
    subject = str(mail.get("subject") or "")
    person = str(record["recipient_email"])
    name = " ".join(str(record[f]) for f in ("recipient_first_name", "recipient_last_name") if record.get(f))
    return InboundMail(
        sender=person,
        sender_name=name,
        to=str(mail.get("reply_to") or mail["from"]),
        subject=subject if subject.lower().startswith("re:") else f"Re: {subject}",
        text=f"{text}\n\n{_quoted(mail)}",
        message_id=message_id or f"<person-{secrets.token_hex(12)}@{person.rpartition('@')[2]}>",
        in_reply_to=parent,
        references=references,
        media=media,
    )


def _quoted(mail: dict[str, Any]) -> str:
    """What a mail client puts under the answer: who wrote the mail it answers, then its text quoted."""
    sender = f"{mail['from_name']} <{mail['from']}>" if mail.get("from_name") else mail["from"]
    when = (
        datetime.fromisoformat(mail["created_at"]).strftime("%a, %d %b %Y at %H:%M") if mail.get("created_at") else ""
    )
    lines = str(mail.get("text") or "").splitlines() or [""]
    return f"On {when}, {sender} wrote:\n" + "\n".join(f"> {line}" for line in lines)


def inbound_callback(api_url: str, record: dict[str, Any], mail: InboundMail, *, token: str) -> Callback:
    route = SENDGRID_INBOUND.url(api_url, str(record["company_id"]), str(record["project_id"]))
    fields = _fields(mail)
    body, content_type = multipart(fields, _files(mail))
    return Callback(
        message_id=mail.message_id,
        url=f"{route}?token={quote(token, safe='')}",
        body=body,
        headers={"Content-Type": content_type, "User-Agent": "Sendlib/1.0 inbound-parse-sandbox"},
        label="inbound",
        content=fields,
    )


def _fields(mail: InboundMail) -> dict[str, str]:
    sender = f"{mail.sender_name} <{mail.sender}>" if mail.sender_name else mail.sender
    header_lines = [
        f"Received: from mail.example.com ({SENDER_IP}) by mx.sendgrid.net with ESMTP id {secrets.token_hex(8)}",
        f"From: {sender}",
        f"To: {mail.to}",
        f"Subject: {mail.subject}",
        f"Date: {format_datetime(datetime.now(UTC))}",
        f"Message-ID: {mail.message_id}",
        *([f"In-Reply-To: {mail.in_reply_to}"] if mail.in_reply_to else []),
        *([f"References: {mail.references}"] if mail.references else []),
        "MIME-Version: 1.0",
        'Content-Type: text/plain; charset="UTF-8"',
    ]
    domain = mail.sender.rpartition("@")[2]
    fields = {
        "headers": "\n".join(header_lines) + "\n",
        "dkim": f"{{@{domain} : pass}}",
        "to": mail.to,
        "from": sender,
        "subject": mail.subject,
        "text": mail.text,
        "sender_ip": SENDER_IP,
        "envelope": json.dumps({"to": [mail.to], "from": mail.sender}),
        "attachments": str(len(mail.media)),
        "charsets": json.dumps({"to": "UTF-8", "from": "UTF-8", "subject": "UTF-8", "text": "UTF-8"}),
        "SPF": "pass",
    }
    if mail.media:
        fields["attachment-info"] = json.dumps(
            {
                f"attachment{i}": {"filename": f"attachment{i}", "name": f"attachment{i}", "type": content_type}
                for i, content_type in enumerate(mail.media, start=1)
            }
        )
    return fields


def _files(mail: InboundMail) -> list[tuple[str, str, str, bytes]]:
    """One small file per attachment: (field name, file name, content type, bytes)."""
    return [
        (f"attachment{i}", f"attachment{i}", content_type, f"sandbox attachment {i}\n".encode())
        for i, content_type in enumerate(mail.media, start=1)
    ]


def multipart(fields: dict[str, str], files: Sequence[tuple[str, str, str, bytes]] = ()) -> tuple[bytes, str]:
    """A ``multipart/form-data`` body (text fields in UTF-8, then files) and its Content-Type."""
    boundary = "xYzZY" + secrets.token_hex(12)  # SendGrid's own boundaries start so
    parts: list[bytes] = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value.encode() + b"\r\n"
        )
    for name, filename, content_type, data in files:
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        )
        parts.append(head.encode() + data + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"
