"""What differs between channels, and nothing else: where the credentials are, how the message to
the provider is built from the AI's content, which sender takes it, which reply index it joins.

The pipeline (``shared.processing.pipeline``) is written once against ``ChannelAdapter``. Each
channel's module imports only its own provider SDK, so a function bundles only what it uses.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from shared.channels import Channel
from shared.models.company import ChannelConfigBase
from shared.models.context import ContextMessage
from shared.processing.errors import CredentialsMissing, MalformedMessage
from shared.processing.senders import Outgoing, Sender
from shared.processing.settings import ProcessorSettings


class ChannelAdapter(ABC):
    channel: ClassVar[Channel]
    credentials_shape: ClassVar[type]

    def _config(self, message: ContextMessage) -> ChannelConfigBase:
        config = message.project.channel_config
        if config.channel is not self.channel:
            raise MalformedMessage(f"The message carries no {self.channel} channel configuration")
        return config

    def sender_address(self, message: ContextMessage) -> str:
        """The company's address on this channel (as the company record writes it)."""
        return self._config(message).sender_address

    def credentials_secret_id(self, message: ContextMessage, env: str) -> str:
        """The provider secret the record names, refused (before it is read) unless it is the
        message's own project's in this environment: a copy-pasted id must not send through
        another tenant's account."""
        config = self._config(message)
        problem = config.credentials_problem(message.company_data.company_id, message.company_data.project_id, env)
        if problem is not None:
            raise CredentialsMissing(problem)
        return config.credentials_secret_id

    def openai_secret_id(self, message: ContextMessage, env: str) -> str:
        """The channel's shared OpenAI key, refused (before it is read) if the record names another secret."""
        problem = message.project.ai_config.key_problem(self.channel, env)
        if problem is not None:
            raise CredentialsMissing(problem)
        return message.project.ai_config.api_key_reference

    @abstractmethod
    def reply_index_attributes(self, message: ContextMessage) -> dict[str, str]:
        """The sparse ``gsi_*`` attributes that put the record in this channel's reply index."""

    def check_ready(self, message: ContextMessage, credentials: Any) -> None:  # noqa: B027 - optional hook
        """Raise a permanent failure when the message could never be sent (before AI tokens are spent)."""

    @abstractmethod
    def outgoing(self, message: ContextMessage, content: dict[str, str], credentials: Any) -> Outgoing: ...

    @abstractmethod
    def sender(self, credentials: Any, settings: ProcessorSettings) -> Sender: ...
