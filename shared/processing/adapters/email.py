"""Email via SendGrid: the AI's subject and plain-text body, from the company's address, with the
one-click unsubscribe headers (issue 12) on every email, first or reply."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import ClassVar

from shared.channels import Channel
from shared.consent.address_hash import AddressHasher
from shared.consent.list_unsubscribe import list_unsubscribe_headers
from shared.events.status_updates import CONVERSATION_ARG
from shared.models.company import EmailConfig
from shared.models.context import ContextMessage, ProjectSlice
from shared.models.conversation import ConversationRecord
from shared.processing.adapters import ChannelAdapter, ReplyIndexAttributes
from shared.processing.credentials import SendGridCredentials
from shared.processing.errors import CredentialsMissing, MalformedMessage
from shared.processing.replies.email_thread import first_message_threading, reply_subject, reply_threading
from shared.processing.senders import Outgoing, Sender
from shared.processing.senders.sendgrid_mail import SendGridMail
from shared.processing.settings import ProcessorSettings
from shared.replies.reply_address import new_reply_token
from shared.replies.reply_job import ReplyJob

# The ``reply`` field of ``email_reply`` (common contract of issue 11).
EMAIL_REPLY_MAX_LENGTH = 10_000


class EmailChannel(ChannelAdapter):
    channel: ClassVar[Channel] = Channel.EMAIL
    credentials_shape: ClassVar[type] = SendGridCredentials

    def __init__(self) -> None:
        self._consent_key: Callable[[], AddressHasher] | None = None

    def use_consent_key(self, load: Callable[[], AddressHasher]) -> None:
        self._consent_key = load

    @staticmethod
    def _email(message: ContextMessage) -> str:
        email = message.recipient_data.recipient_email
        if email is None:
            raise MalformedMessage("An email message needs recipient_email")
        return email

    def reply_index_attributes(self, message: ContextMessage) -> ReplyIndexAttributes:
        # The token is drawn for the record's creation only: a redelivery finds the record created
        # and sends with the record's token, never this one.
        return {
            "gsi_company_email": self.sender_address(message),
            "gsi_recipient_email": self._email(message),
            "gsi_reply_token": new_reply_token(),
        }

    def outgoing(
        self,
        message: ContextMessage,
        content: dict[str, str],
        credentials: SendGridCredentials,
        *,
        record: ConversationRecord | None = None,
    ) -> Outgoing:
        threading = first_message_threading(record, self._reply_domain(message.project))
        to = self._email(message)
        company_id, project_id = message.company_data.company_id, message.company_data.project_id
        unsubscribe = self._unsubscribe_headers(
            message.project, message.metadata.callback_base_url, company_id, project_id, to
        )
        return Outgoing(
            to=to,
            sender=self.sender_address(message),
            sender_name=message.project.company_name,
            subject=content["subject"],
            text=content["body"],
            html=as_html(content["body"]),
            custom_args=_custom_args(message.conversation_id, company_id, project_id),
            reply_to=threading.reply_to,
            headers={**threading.headers, **unsubscribe} or None,
        )

    def reply_max_length(self, project: ProjectSlice) -> int:
        return EMAIL_REPLY_MAX_LENGTH

    def reply_outgoing(
        self, job: ReplyJob, record: ConversationRecord, reply: str, credentials: SendGridCredentials
    ) -> Outgoing:
        if record.recipient_email is None:
            raise MalformedMessage("The conversation has no recipient_email to answer")
        threading = reply_threading(record, self._reply_domain(job.project))
        unsubscribe = self._unsubscribe_headers(
            job.project, job.metadata.callback_base_url, record.company_id, record.project_id, record.recipient_email
        )
        return Outgoing(
            to=record.recipient_email,
            sender=self.project_config(job.project).sender_address,
            sender_name=job.project.company_name,
            subject=reply_subject(record),
            text=reply,
            html=as_html(reply),
            custom_args=_custom_args(record.conversation_id, record.company_id, record.project_id),
            reply_to=threading.reply_to,
            headers={**threading.headers, **unsubscribe} or None,
        )

    def _unsubscribe_headers(
        self, project: ProjectSlice, base_url: str | None, company_id: str, project_id: str, recipient: str
    ) -> dict[str, str]:
        if self._consent_key is None:  # a wiring fault: never send an email without its unsubscribe link
            raise CredentialsMissing("The email channel was given no consent key to sign unsubscribe links")
        return list_unsubscribe_headers(
            self._consent_key(),
            base_url=base_url,
            company_id=company_id,
            project_id=project_id,
            recipient=recipient,
            mailto=project.consent.unsubscribe_mailto,
        )

    def _reply_domain(self, project: ProjectSlice) -> str | None:
        config = self.project_config(project)
        assert isinstance(config, EmailConfig)  # project_config checked the channel
        return config.reply_domain

    def sender(self, credentials: SendGridCredentials, settings: ProcessorSettings) -> Sender:
        return SendGridMail(
            credentials, host=settings.sendgrid_api_host, timeout_seconds=settings.provider_timeout_seconds
        )


def _custom_args(conversation_id: str, company_id: str, project_id: str) -> dict[str, str]:
    # SendGrid's Event Webhook URL is set once per account; its events name the conversation by these.
    return {CONVERSATION_ARG: conversation_id, "company_id": company_id, "project_id": project_id}


def as_html(text: str) -> str:
    """The plain body as simple HTML (escaped; blank lines make paragraphs), for mail clients that prefer it."""
    paragraphs = [p.strip() for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]
    return "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs)
