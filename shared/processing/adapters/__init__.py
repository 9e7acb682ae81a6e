"""What differs between channels, and nothing else: where the credentials are, how the message to
the provider is built from the AI's content, which sender takes it, which reply index it joins.

The pipeline (``shared.processing.pipeline``) is written once against ``ChannelAdapter``. Each
channel's module imports only its own provider SDK, so a function bundles only what it uses.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from shared.channels import Channel
from shared.models.context import ContextMessage
from shared.processing.senders import Outgoing, Sender
from shared.processing.settings import ProcessorSettings


class ChannelAdapter(ABC):
    channel: ClassVar[Channel]
    credentials_shape: ClassVar[type]

    @abstractmethod
    def credentials_secret_id(self, message: ContextMessage) -> str: ...

    @abstractmethod
    def sender_address(self, message: ContextMessage) -> str:
        """The company's address on this channel (as the company record writes it)."""

    @abstractmethod
    def reply_index_attributes(self, message: ContextMessage) -> dict[str, str]:
        """The sparse ``gsi_*`` attributes that put the record in this channel's reply index."""

    def check_ready(self, message: ContextMessage, credentials: Any) -> None:  # noqa: B027 - optional hook
        """Raise a permanent failure when the message could never be sent (before AI tokens are spent)."""

    @abstractmethod
    def outgoing(self, message: ContextMessage, content: dict[str, str], credentials: Any) -> Outgoing: ...

    @abstractmethod
    def sender(self, credentials: Any, settings: ProcessorSettings) -> Sender: ...
