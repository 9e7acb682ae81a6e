"""What differs between channels, and nothing else: where the credentials are, how the message to
the provider is built from the AI's content, which sender takes it, which reply index it joins.

The pipeline (``shared.processing.pipeline``) is written once against ``ChannelAdapter``. Each
channel's module imports only its own provider SDK, so a function bundles only what it uses.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar, TypedDict

from shared.channels import Channel
from shared.consent.address_hash import AddressHasher
from shared.models.company import ChannelConfigBase
from shared.models.context import ContextMessage, ProjectSlice
from shared.models.conversation import ConversationRecord
from shared.processing.errors import CredentialsMissing, MalformedMessage
from shared.processing.senders import Outgoing, Sender
from shared.processing.settings import ProcessorSettings
from shared.replies.reply_job import ReplyJob


class ReplyIndexAttributes(TypedDict, total=False):
    """The sparse ``gsi_*`` fields of a ``ConversationRecord`` a channel sets (only its own pair, and
    the reply token for email), named here so the record is built from them with their types checked."""

    gsi_company_whatsapp_number: str
    gsi_company_sms_number: str
    gsi_company_email: str
    gsi_recipient_tel: str
    gsi_recipient_email: str
    gsi_reply_token: str


class ChannelAdapter(ABC):
    channel: ClassVar[Channel]
    credentials_shape: ClassVar[type]

    def project_config(self, project: ProjectSlice) -> ChannelConfigBase:
        config = project.channel_config
        if config.channel is not self.channel:
            raise MalformedMessage(f"The message carries no {self.channel} channel configuration")
        return config

    def _config(self, message: ContextMessage) -> ChannelConfigBase:
        return self.project_config(message.project)

    def sender_address(self, message: ContextMessage) -> str:
        """The company's address on this channel (as the company record writes it)."""
        return self._config(message).sender_address

    def credentials_secret_id(self, message: ContextMessage, env: str) -> str:
        return self.project_credentials_secret_id(
            message.project, message.company_data.company_id, message.company_data.project_id, env
        )

    def project_credentials_secret_id(self, project: ProjectSlice, company_id: str, project_id: str, env: str) -> str:
        """The provider secret the record names, refused (before it is read) unless it is the
        project's own in this environment: a copy-pasted id must not send through another
        tenant's account."""
        config = self.project_config(project)
        problem = config.credentials_problem(company_id, project_id, env)
        if problem is not None:
            raise CredentialsMissing(problem)
        return config.credentials_secret_id

    def openai_secret_id(self, message: ContextMessage, env: str) -> str:
        return self.project_openai_secret_id(message.project, env)

    def project_openai_secret_id(self, project: ProjectSlice, env: str) -> str:
        """The channel's shared OpenAI key, refused (before it is read) if the record names another secret."""
        problem = project.ai_config.key_problem(self.channel, env)
        if problem is not None:
            raise CredentialsMissing(problem)
        return project.ai_config.api_key_reference

    def use_consent_key(self, load: Callable[[], AddressHasher]) -> None:  # noqa: B027 - optional hook
        """Channels whose messages carry a link signed with the consent key (email's one-click
        unsubscribe, issue 12) keep ``load``: the environment's key, read at the first send."""

    @abstractmethod
    def reply_index_attributes(self, message: ContextMessage) -> ReplyIndexAttributes:
        """The sparse ``gsi_*`` attributes that put the record in this channel's reply index."""

    def check_ready(self, message: ContextMessage, credentials: Any) -> None:  # noqa: B027 - optional hook
        """Raise a permanent failure when the message could never be sent (before AI tokens are spent)."""

    @abstractmethod
    def outgoing(
        self,
        message: ContextMessage,
        content: dict[str, str],
        credentials: Any,
        *,
        record: ConversationRecord | None = None,
    ) -> Outgoing: ...

    # -- replies (issue 11) -------------------------------------------------------------------------
    # The limit of the channel's reply (the ``reply`` field of the ``<channel>_reply`` schema).
    def reply_max_length(self, project: ProjectSlice) -> int:
        return 1600

    def check_reply_window(self, record: ConversationRecord, now: datetime) -> None:  # noqa: B027 - optional hook
        """Raise ``WhatsAppWindowClosed`` when the channel can no longer answer the person freely."""

    @abstractmethod
    def reply_outgoing(self, job: ReplyJob, record: ConversationRecord, reply: str, credentials: Any) -> Outgoing:
        """The turn's reply to the person, from the company's address on this channel."""

    @abstractmethod
    def sender(self, credentials: Any, settings: ProcessorSettings) -> Sender: ...
