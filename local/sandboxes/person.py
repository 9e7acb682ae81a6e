"""The person at the other end: answers a conversation the way their provider would deliver it.

``POST /_sandbox/person/reply`` on the sandbox of the conversation's provider (Twilio for WhatsApp
and SMS, SendGrid for email; ``make reply`` picks it) with::

    {"conversation_id": "…", "text": "…",
     "media": ["image/jpeg", …],   # optional: attachments, as content types (noted, never fetched)
     "message_id": "…",            # optional: repeat that delivery (a provider's retry)
     "times": 3}                   # optional: post the same delivery this many times (1-10)

The person answers the engine's latest message of the conversation (its record in the emulator):

- WhatsApp / SMS: Twilio's inbound form (``From`` the person, ``whatsapp:``-prefixed on WhatsApp,
  ``To`` the company's sender, ``Body``, a new ``MessageSid`` ``SM…``, ``NumMedia``, ``AccountSid``,
  …) signed ``X-Twilio-Signature`` with the tenant's auth token over ``TWILIO_INBOUND.url(...)``.
  The Twilio sandbox then knows the person wrote: a free-form WhatsApp answer may follow for 24 h.
- Email: SendGrid Inbound Parse's ``multipart/form-data`` (``from`` the person, ``to`` the Reply-To
  of the engine's last email to them, ``subject`` ``Re: …``, ``text``, ``headers`` with Message-ID,
  In-Reply-To and References, ``envelope``, ``charsets``, ``SPF``, ``dkim``; one small file part
  per medium) to ``SENDGRID_INBOUND.url(...)?token=<the project's inbound token>``.

The answer says what was posted (``message_id``, ``from``, ``to``) and each post's ``http_status``.
Each post is in the sandbox's callback log (label ``inbound``), the token masked in its URL.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from local.sandboxes import inbound_email, inbound_twilio
from local.sandboxes.callbacks import Callback
from local.sandboxes.outcomes import InvalidOutcome

if TYPE_CHECKING:
    from local.sandboxes.callback_sandbox import CallbackSandbox

MAX_TIMES = 10
_FIELDS = {"conversation_id", "text", "media", "message_id", "times"}
_CONTENT_TYPE = re.compile(r"[a-z]+/[a-z0-9.+-]+")


class NoSuchConversation(LookupError):
    """The emulator has no conversation with that id."""


class Directory(Protocol):
    """Where the person reads what they know: the conversation's record and the tenant's secrets."""

    def conversation(self, conversation_id: str) -> dict[str, Any] | None: ...

    def provider_credentials(self, record: dict[str, Any]) -> dict[str, Any]:
        """The tenant's provider secret for the record's channel (as the engine reads it)."""
        ...


@dataclass(frozen=True)
class ReplyRequest:
    conversation_id: str
    text: str
    media: tuple[str, ...] = ()
    message_id: str | None = None
    times: int = 1

    @classmethod
    def from_json(cls, body: Any) -> ReplyRequest:
        usage = (
            'takes {"conversation_id": "<id>", "text": "<what the person writes>", optional "media": '
            f'["image/jpeg", ...], "message_id": "<repeat a delivery>", "times": 1-{MAX_TIMES}}}'
        )
        if not isinstance(body, dict) or set(body) - _FIELDS:
            raise InvalidOutcome(usage)
        conversation_id, text = body.get("conversation_id"), body.get("text", "")
        media, message_id, times = body.get("media") or [], body.get("message_id"), body.get("times", 1)
        valid = (
            isinstance(conversation_id, str)
            and conversation_id
            and isinstance(text, str)
            and isinstance(media, list)
            and all(isinstance(m, str) and _CONTENT_TYPE.fullmatch(m) for m in media)
            and (message_id is None or (isinstance(message_id, str) and message_id))
            and isinstance(times, int)
            and not isinstance(times, bool)
            and 1 <= times <= MAX_TIMES
        )
        if not valid or not (text or media):
            raise InvalidOutcome(usage)
        return cls(conversation_id, text, tuple(media), message_id, times)


class Person:
    """Plays the person for the channels of one provider sandbox; the local stack attaches it."""

    def __init__(self, sandbox: CallbackSandbox, directory: Directory, api_url: str) -> None:
        self.sandbox = sandbox
        self.directory = directory
        self.api_url = api_url

    def reply(self, ask: ReplyRequest) -> dict[str, Any]:
        record = self.directory.conversation(ask.conversation_id)
        if record is None:
            raise NoSuchConversation(f"no conversation {ask.conversation_id}")
        channel = record.get("channel_method")
        if channel not in self.channels:
            other = "the Twilio sandbox" if channel in ("whatsapp", "sms") else "the SendGrid sandbox"
            raise InvalidOutcome(f"conversation {ask.conversation_id} is on {channel}: {other} plays that person")
        credentials = self.directory.provider_credentials(record)
        delivery = self.delivery(record, ask, credentials)
        posts = [self.sandbox.post_inbound(delivery.callback) for _ in range(ask.times)]
        return {
            "channel": channel,
            "conversation_id": ask.conversation_id,
            **delivery.described,
            "posts": [{"http_status": p.http_status, "error": p.error} for p in posts],
        }

    # -- what each provider's person supplies ----------------------------------------------------------
    channels: frozenset[str] = frozenset()

    def delivery(self, record: dict[str, Any], ask: ReplyRequest, credentials: dict[str, Any]) -> Delivery:
        raise NotImplementedError


@dataclass(frozen=True)
class Delivery:
    callback: Callback  # the post, signed
    described: dict[str, Any]  # what the answer shows: message_id, from, to (never a secret)


class TwilioPerson(Person):
    channels = frozenset({"whatsapp", "sms"})

    def delivery(self, record: dict[str, Any], ask: ReplyRequest, credentials: dict[str, Any]) -> Delivery:
        sid = ask.message_id or "SM" + secrets.token_hex(16)
        person, company = inbound_twilio.addresses(record)
        callback = inbound_twilio.inbound_callback(
            self.api_url,
            record,
            sid=sid,
            person=person,
            company=company,
            text=ask.text,
            media=ask.media,
            account_sid=str(credentials.get("twilio_account_sid", "")),
            auth_token=str(credentials.get("twilio_auth_token", "")),
        )
        note = getattr(self.sandbox, "note_inbound", None)
        if note is not None and person.startswith("whatsapp:"):
            note(person, company)  # Twilio saw the person write, whatever the engine answers
        return Delivery(callback, {"message_id": sid, "from": person, "to": company})


class EmailPerson(Person):
    channels = frozenset({"email"})

    def delivery(self, record: dict[str, Any], ask: ReplyRequest, credentials: dict[str, Any]) -> Delivery:
        last = inbound_email.last_mail_to_person(self.sandbox.outbox, record)
        if last is None:
            raise InvalidOutcome(f"the engine has not emailed the person of {ask.conversation_id} yet")
        token = credentials.get("sendgrid_inbound_token")
        if not token:
            raise InvalidOutcome("the project's email secret has no sendgrid_inbound_token (restart make local)")
        mail = inbound_email.answer_to(last, record, text=ask.text, message_id=ask.message_id, media=ask.media)
        callback = inbound_email.inbound_callback(self.api_url, record, mail, token=str(token))
        return Delivery(
            callback,
            {"message_id": mail.message_id, "from": mail.sender, "to": mail.to, "subject": mail.subject},
        )


def answer(person: Person | None, body: Any) -> tuple[int, dict[str, Any]]:
    """The control endpoint's (status, body)."""
    if person is None:
        return 409, {"error": "no person here: the local stack attaches one to the Twilio and SendGrid sandboxes"}
    try:
        return 200, person.reply(ReplyRequest.from_json(body))
    except LookupError as missing:  # no such conversation, project or channel configuration
        return 404, {"error": str(missing).strip("'")}
