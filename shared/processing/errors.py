"""The failures a channel processor can meet, each mapped once to a record status and a retry decision.

A *transient* failure leaves the record where its last durable step put it and reports the SQS
record as a batch item failure, so SQS delivers it again (and the DLQ takes it after
``maxReceiveCount``). A *permanent* failure writes its ``failed_*`` status with a reason and lets the
message be deleted: retrying it could only fail the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.log_masking import mask_text
from shared.models.conversation import ConversationStatus


@dataclass(frozen=True)
class Disposition:
    status: ConversationStatus | None  # what the record becomes; None leaves it as it is
    retry: bool  # report the SQS record as a batch item failure


class ProcessingFailure(Exception):
    """Base of every named failure; ``reason`` is safe to log and to store (addresses masked)."""

    def __init__(self, reason: str, *, retry_after_seconds: float | None = None):
        self.reason = mask_text(reason)
        # The earliest a retry can learn more (a send still settling at the provider); None: the
        # usual backoff. A retry that comes sooner only spends one of the message's receives.
        self.retry_after_seconds = retry_after_seconds
        super().__init__(self.reason)

    @property
    def disposition(self) -> Disposition:
        return DISPOSITIONS[type(self)]


class MalformedMessage(ProcessingFailure):
    """The queue message is not a context message this processor can act on."""


class RecordStoreUnavailable(ProcessingFailure):
    """DynamoDB throttled, timed out or failed."""


class RecordConflict(ProcessingFailure):
    """Another delivery of the same conversation moved the record on first; it owns the work."""


class SecretsUnavailable(ProcessingFailure):
    """Secrets Manager throttled, timed out or failed."""


class CredentialsMissing(ProcessingFailure):
    """A secret does not exist, may not be read, or lacks a field the channel needs."""


class AiConfigurationInvalid(ProcessingFailure):
    """The project's AI or template configuration cannot produce a message (e.g. legacy Assistants)."""


class AiUnavailable(ProcessingFailure):
    """OpenAI throttled, timed out or failed after the SDK's own retries."""


class AiRejected(ProcessingFailure):
    """OpenAI refused the request (bad request, unknown model, no access)."""


class AiCredentialsRejected(AiRejected):
    """OpenAI refused the API key (401/403): re-read the secret once, then give up."""


class AiOutputInvalid(ProcessingFailure):
    """The model's output did not satisfy the channel's output contract, on every attempt."""


class ContentCheckFailed(ProcessingFailure):
    """The AI's message names a link, phone number or email address the project did not supply."""


class ProviderUnavailable(ProcessingFailure):
    """The provider answered that it did not take the message but may later (429, 5xx), or was unreachable."""


class ProviderRejected(ProcessingFailure):
    """The provider refused the message for good (invalid number, rejected template, bad sender)."""

    def __init__(self, reason: str, *, provider_code: str | None = None):
        super().__init__(reason)
        # The provider's error code (Twilio's), which may say the address must not be contacted
        # again (shared/consent/provider_signals.py).
        self.provider_code = provider_code


class WhatsAppWindowClosed(ProviderRejected):
    """A free-form WhatsApp reply outside the 24 hours after the person's last message (Twilio 63016):
    it can never go out, so the turn gives the messages up (``answered_through`` advances)."""


class ProviderCredentialsRejected(ProviderRejected):
    """The provider refused the credentials: re-read the secret once, then give up."""


class SendOutcomeUnknown(ProcessingFailure):
    """The send may have reached the provider (no answer in time); reconcile on redelivery."""


class WakeupUnavailable(ProcessingFailure):
    """The wake-up of a scheduled first message could not be armed (SQS or EventBridge Scheduler
    failed or refused): the record stays ``scheduled`` and the redelivery arms it again."""


class SendUnconfirmed(ProcessingFailure):
    """The send may have reached the provider, and the provider cannot be asked: alarm, never resend."""


_S = ConversationStatus
DISPOSITIONS: dict[type[ProcessingFailure], Disposition] = {
    MalformedMessage: Disposition(status=None, retry=False),
    RecordStoreUnavailable: Disposition(status=None, retry=True),
    # Retried unless the record is already final (settlement): the delivery that moved it on may
    # still die, and the message must then be there to resume the record.
    RecordConflict: Disposition(status=None, retry=True),
    SecretsUnavailable: Disposition(status=None, retry=True),
    CredentialsMissing: Disposition(status=_S.FAILED_SECRETS_FETCH, retry=False),
    AiConfigurationInvalid: Disposition(status=_S.FAILED_TO_PROCESS_AI, retry=False),
    AiUnavailable: Disposition(status=None, retry=True),
    AiRejected: Disposition(status=_S.FAILED_TO_PROCESS_AI, retry=False),
    AiCredentialsRejected: Disposition(status=_S.FAILED_TO_PROCESS_AI, retry=False),
    AiOutputInvalid: Disposition(status=_S.FAILED_TO_PROCESS_AI, retry=False),
    # Not retried: the same request would steer the model the same way.
    ContentCheckFailed: Disposition(status=_S.FAILED_CONTENT_CHECK, retry=False),
    ProviderUnavailable: Disposition(status=None, retry=True),
    ProviderRejected: Disposition(status=_S.FAILED_TO_SEND_MESSAGE, retry=False),
    ProviderCredentialsRejected: Disposition(status=_S.FAILED_TO_SEND_MESSAGE, retry=False),
    WhatsAppWindowClosed: Disposition(status=_S.FAILED_TO_SEND_MESSAGE, retry=False),
    SendOutcomeUnknown: Disposition(status=None, retry=True),
    SendUnconfirmed: Disposition(status=_S.SEND_UNCONFIRMED, retry=False),
    # Retried whatever the cause (a refusal too): ``scheduled`` has no failed status to end in,
    # and a message that never arms reaches the DLQ, whose alarm calls an operator.
    WakeupUnavailable: Disposition(status=None, retry=True),
}
