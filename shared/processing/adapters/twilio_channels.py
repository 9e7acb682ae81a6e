"""WhatsApp (a Content template filled with the AI's variables) and SMS (the AI's body), both via Twilio."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import ClassVar

from shared.channels import Channel
from shared.models.company import WhatsAppConfig
from shared.models.context import ContextMessage, ProjectSlice
from shared.models.conversation import ConversationRecord
from shared.processing.adapters import ChannelAdapter, ReplyIndexAttributes
from shared.processing.credentials import TwilioCredentials
from shared.processing.errors import ContentCheckFailed, MalformedMessage, ProviderRejected, WhatsAppWindowClosed
from shared.processing.senders import Outgoing, Sender
from shared.processing.senders.twilio_messages import TwilioMessages
from shared.processing.settings import ProcessorSettings
from shared.processing.times import parse_time
from shared.replies.reply_job import ReplyJob
from shared.webhooks.routes import TWILIO_STATUS

WHATSAPP_WINDOW = timedelta(hours=24)
WINDOW_CLOSED_REASON = "outside WhatsApp's 24-hour window (Twilio 63016)"


class _TwilioChannel(ChannelAdapter):
    credentials_shape: ClassVar[type] = TwilioCredentials

    def sender(self, credentials: TwilioCredentials, settings: ProcessorSettings) -> Sender:
        return TwilioMessages(
            credentials, base_url=settings.twilio_api_base_url, timeout_seconds=settings.provider_timeout_seconds
        )

    @staticmethod
    def _status_callback(message: ContextMessage) -> str | None:
        return _status_callback(
            message.metadata.callback_base_url, message.company_data.company_id, message.company_data.project_id
        )

    @staticmethod
    def _reply_to_tel(record: ConversationRecord) -> str:
        if record.recipient_tel is None:
            raise MalformedMessage("The conversation has no recipient_tel to answer")
        return record.recipient_tel

    @staticmethod
    def _tel(message: ContextMessage) -> str:
        tel = message.recipient_data.recipient_tel
        if tel is None:
            raise MalformedMessage(f"A {message.channel} message needs recipient_tel")
        return tel


class WhatsAppChannel(_TwilioChannel):
    channel: ClassVar[Channel] = Channel.WHATSAPP

    def reply_index_attributes(self, message: ContextMessage) -> ReplyIndexAttributes:
        return {"gsi_company_whatsapp_number": self.sender_address(message), "gsi_recipient_tel": self._tel(message)}

    def content_sid(self, message: ContextMessage, credentials: TwilioCredentials) -> str:
        config = self._config(message)
        assert isinstance(config, WhatsAppConfig)  # _config checked the channel
        # The project's template wins over the older copy in the Twilio secret (seed/secrets.example.md).
        sid = config.content_template.content_sid or credentials.twilio_template_sid
        if not sid:
            raise ProviderRejected(
                "No WhatsApp Content template: set channel_config.whatsapp.content_template.content_sid "
                "(an approved template's HX... sid)"
            )
        return sid

    def check_ready(self, message: ContextMessage, credentials: TwilioCredentials) -> None:
        self.content_sid(message, credentials)

    def outgoing(
        self,
        message: ContextMessage,
        content: dict[str, str],
        credentials: TwilioCredentials,
        *,
        record: ConversationRecord | None = None,
    ) -> Outgoing:
        return Outgoing(
            to=f"whatsapp:{self._tel(message)}",
            sender=f"whatsapp:{self.sender_address(message)}",
            # The template's wording lives at Twilio; the history keeps what the engine chose to fill in.
            text=json.dumps(content, ensure_ascii=False, sort_keys=True),
            content_sid=self.content_sid(message, credentials),
            content_variables=dict(content),
            status_callback=self._status_callback(message),
        )

    def check_reply_window(self, record: ConversationRecord, now: datetime) -> None:
        """WhatsApp takes a free-form message only within 24 hours of the person's last message
        (after that only an approved template, which a reply is not): no send, the turn gives up."""
        last = parse_time(record.last_inbound_at)
        if last is None or now - last >= WHATSAPP_WINDOW:
            raise WhatsAppWindowClosed(WINDOW_CLOSED_REASON)

    def reply_outgoing(
        self, job: ReplyJob, record: ConversationRecord, reply: str, credentials: TwilioCredentials
    ) -> Outgoing:
        return Outgoing(
            to=f"whatsapp:{self._reply_to_tel(record)}",
            sender=f"whatsapp:{self.project_config(job.project).sender_address}",
            text=reply,  # free-form Body: inside the window no template is needed
            status_callback=_status_callback(job.metadata.callback_base_url, record.company_id, record.project_id),
        )


class SmsChannel(_TwilioChannel):
    channel: ClassVar[Channel] = Channel.SMS

    def reply_index_attributes(self, message: ContextMessage) -> ReplyIndexAttributes:
        return {"gsi_company_sms_number": self.sender_address(message), "gsi_recipient_tel": self._tel(message)}

    def outgoing(
        self,
        message: ContextMessage,
        content: dict[str, str],
        credentials: TwilioCredentials,
        *,
        record: ConversationRecord | None = None,
    ) -> Outgoing:
        return Outgoing(
            to=self._tel(message),
            sender=self.sender_address(message),
            text=content["body"],
            status_callback=self._status_callback(message),
        )

    def reply_max_length(self, project: ProjectSlice) -> int:
        return project.rate_limits.max_message_length

    def reply_outgoing(
        self, job: ReplyJob, record: ConversationRecord, reply: str, credentials: TwilioCredentials
    ) -> Outgoing:
        limit = self.reply_max_length(job.project)
        if len(reply) > limit:  # the schema said so; a model that ignored it is not sent on
            raise ContentCheckFailed(f"The reply has {len(reply)} characters, more than the SMS limit of {limit}")
        return Outgoing(
            to=self._reply_to_tel(record),
            sender=self.project_config(job.project).sender_address,
            text=reply,
            status_callback=_status_callback(job.metadata.callback_base_url, record.company_id, record.project_id),
        )


def _status_callback(base_url: str | None, company_id: str, project_id: str) -> str | None:
    """The project's status-callback URL; None for a message queued before the router knew its
    public base URL (sent without one: its delivery status stays unknown)."""
    if base_url is None:
        return None
    return TWILIO_STATUS.url(base_url, company_id, project_id)
