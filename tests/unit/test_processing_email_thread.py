"""How an engine email joins the person's thread (issue 11): subject, Reply-To, Message-ID,
In-Reply-To and References."""

from __future__ import annotations

import pytest

from shared.models.conversation import ConversationRecord, MessageEntry
from shared.processing.replies.email_thread import first_message_threading, reply_subject, reply_threading
from shared.replies.reply_address import token_in_message_ids

TOKEN = "abcdefghijklmnopqrstuvwxyz"
DOMAIN = "reply.example.test"


def _record(*messages: MessageEntry, references: list[str] | None = None) -> ConversationRecord:
    return ConversationRecord(
        primary_channel="alex@example.com", conversation_id="c#p#r#e", company_id="c", project_id="p",
        request_id="r", channel_method="email", conversation_status="reply_generated", created_at="t",
        updated_at="t", ai_content={"subject": "The Porter role", "body": "Hi"}, messages=list(messages),
        gsi_reply_token=TOKEN, email_references=references or [],
    )  # fmt: skip


def _mail(role: str, *, subject: str | None = None, message_id: str | None = None) -> MessageEntry:
    return MessageEntry(
        message_id=message_id or role,
        timestamp="t",
        role=role,
        content="x",
        subject=subject,
        email_message_id=message_id,
    )


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Re: The Porter role", "Re: The Porter role"),
        ("RE: re : Re:The Porter role", "Re: The Porter role"),
        ("Question about hours", "Re: Question about hours"),
        (None, "Re: The Porter role"),  # no subject of theirs: the first message's
    ],
)
def test_the_subject_is_re_of_the_persons_latest_email_without_double_re(subject, expected):
    record = _record(_mail("assistant"), _mail("user", subject="An older subject"), _mail("user", subject=subject))
    if subject is None:
        record = _record(_mail("assistant"), _mail("user"))

    assert reply_subject(record) == expected


def test_the_reply_names_the_next_message_id_and_answers_the_persons_latest_email():
    ours = f"<reply-{TOKEN}.0@{DOMAIN}>"
    record = _record(
        _mail("assistant", message_id=ours),
        _mail("user", message_id="<one@mail.example>"),
        _mail("user", message_id="<two@mail.example>"),
        references=[ours, "<one@mail.example>"],
    )

    threading = reply_threading(record, DOMAIN)

    assert threading.reply_to == f"reply+{TOKEN}@{DOMAIN}"
    assert threading.headers == {
        "Message-ID": f"<reply-{TOKEN}.1@{DOMAIN}>",
        "In-Reply-To": "<two@mail.example>",
        "References": f"{ours} <one@mail.example> <two@mail.example>",
    }
    assert token_in_message_ids(threading.headers["Message-ID"]) == TOKEN


def test_without_a_reply_domain_only_the_thread_headers_are_kept():
    record = _record(_mail("assistant"), _mail("user", message_id="<one@mail.example>"))

    threading = reply_threading(record, None)

    assert threading.reply_to is None
    assert threading.headers == {"In-Reply-To": "<one@mail.example>", "References": "<one@mail.example>"}
    assert first_message_threading(record, None).headers == {}


def test_the_first_email_is_message_zero_of_the_records_token():
    threading = first_message_threading(_record(), DOMAIN)

    assert threading.reply_to == f"reply+{TOKEN}@{DOMAIN}"
    assert threading.message_id == f"<reply-{TOKEN}.0@{DOMAIN}>"
