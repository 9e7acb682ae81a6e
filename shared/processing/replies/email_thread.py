"""How an engine email joins the person's mail thread: its subject, Reply-To and RFC 5322 headers.

Every email of a conversation carries ``Message-ID: <reply-<token>.<n>@<reply_domain>>`` (n = the
engine emails before it: 0 for the first message) and ``Reply-To: reply+<token>@<reply_domain>``,
so the answer comes back to the engine and names its conversation (``shared.replies.reply_address``).
A reply also says ``In-Reply-To`` the person's latest email and ``References`` the whole thread.
Without a ``reply_domain`` an email carries none of these: replies are matched by address only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.models.conversation import ConversationRecord
from shared.replies.reply_address import message_id, reply_address

# "Re:", "RE :", "re:" repeated: the subject of a reply carries exactly one.
_REPLY_PREFIX = re.compile(r"^(?:\s*re\s*:\s*)+", re.IGNORECASE)


@dataclass(frozen=True)
class Threading:
    reply_to: str | None
    headers: dict[str, str]

    @property
    def message_id(self) -> str | None:
        return self.headers.get("Message-ID")


def reply_subject(record: ConversationRecord) -> str:
    """``Re: <subject of the person's latest email, or of the first message>``, never ``Re: Re:``."""
    latest = next((m.subject for m in reversed(record.messages) if m.role == "user" and m.subject), None)
    subject = latest or (record.ai_content or {}).get("subject") or ""
    return f"Re: {_REPLY_PREFIX.sub('', subject).strip()}".rstrip()


def engine_emails(record: ConversationRecord) -> int:
    """How many emails the engine sent in this conversation (the next one's Message-ID number)."""
    return sum(1 for m in record.messages if m.role == "assistant")


def person_latest_email(record: ConversationRecord) -> str | None:
    """The Message-ID of the person's latest email: what a reply is ``In-Reply-To``. Only ``user``
    entries count: when the person wrote while a turn ran, the engine's reply to the earlier
    messages is appended after their email, and the next reply must not answer our own message."""
    emails = (m.email_message_id for m in reversed(record.messages) if m.role == "user")
    return next((email for email in emails if email), None)


def first_message_threading(record: ConversationRecord | None, reply_domain: str | None) -> Threading:
    if record is None or reply_domain is None or record.gsi_reply_token is None:
        return Threading(reply_to=None, headers={})
    token = record.gsi_reply_token
    return Threading(
        reply_to=reply_address(token, reply_domain), headers={"Message-ID": message_id(token, 0, reply_domain)}
    )


def reply_threading(record: ConversationRecord, reply_domain: str | None) -> Threading:
    headers: dict[str, str] = {}
    reply_to = None
    if reply_domain is not None and record.gsi_reply_token is not None:
        token = record.gsi_reply_token
        reply_to = reply_address(token, reply_domain)
        headers["Message-ID"] = message_id(token, engine_emails(record), reply_domain)
    parent = person_latest_email(record)
    references = list(record.email_references)
    if parent is not None:
        headers["In-Reply-To"] = parent
        if parent not in references:
            references.append(parent)
    if references:
        headers["References"] = " ".join(references)
    return Threading(reply_to=reply_to, headers=headers)
