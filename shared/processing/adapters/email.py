"""Email via SendGrid: the AI's subject and plain-text body, from the company's address."""

from __future__ import annotations

import html
from typing import ClassVar

from shared.channels import Channel
from shared.events.status_updates import CONVERSATION_ARG
from shared.models.context import ContextMessage
from shared.processing.adapters import ChannelAdapter
from shared.processing.credentials import SendGridCredentials
from shared.processing.errors import MalformedMessage
from shared.processing.senders import Outgoing, Sender
from shared.processing.senders.sendgrid_mail import SendGridMail
from shared.processing.settings import ProcessorSettings


class EmailChannel(ChannelAdapter):
    channel: ClassVar[Channel] = Channel.EMAIL
    credentials_shape: ClassVar[type] = SendGridCredentials

    @staticmethod
    def _email(message: ContextMessage) -> str:
        email = message.recipient_data.recipient_email
        if email is None:
            raise MalformedMessage("An email message needs recipient_email")
        return email

    def reply_index_attributes(self, message: ContextMessage) -> dict[str, str]:
        return {"gsi_company_email": self.sender_address(message), "gsi_recipient_email": self._email(message)}

    def outgoing(self, message: ContextMessage, content: dict[str, str], credentials: SendGridCredentials) -> Outgoing:
        return Outgoing(
            to=self._email(message),
            sender=self.sender_address(message),
            sender_name=message.project.company_name,
            subject=content["subject"],
            text=content["body"],
            html=as_html(content["body"]),
            # SendGrid's Event Webhook URL is set once per account; its events name the conversation by these.
            custom_args={
                CONVERSATION_ARG: message.conversation_id,
                "company_id": message.company_data.company_id,
                "project_id": message.company_data.project_id,
            },
        )

    def sender(self, credentials: SendGridCredentials, settings: ProcessorSettings) -> Sender:
        return SendGridMail(
            credentials, host=settings.sendgrid_api_host, timeout_seconds=settings.provider_timeout_seconds
        )


def as_html(text: str) -> str:
    """The plain body as simple HTML (escaped; blank lines make paragraphs), for mail clients that prefer it."""
    paragraphs = [p.strip() for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]
    return "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs)
