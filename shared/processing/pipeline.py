"""The one processing pipeline of every channel: validate → claim or resume the record → credentials →
AI → send → record the outcome (DESIGN §7).

The conversation record is the state machine. Each step starts from a status and ends by writing
the next one with a conditional update, so a redelivered message resumes from the last durable
step: ``processing`` writes the message, ``ai_generated`` sends the stored content, ``sending`` asks
the provider what happened before anything is sent again, and a final status ends the work.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from shared import json_codec
from shared.log_masking import mask_address, mask_text
from shared.models.context import ContextMessage
from shared.models.conversation import ConversationRecord, ConversationStatus, MessageEntry, TokenUsage
from shared.processing import metric_names
from shared.processing.adapters import ChannelAdapter
from shared.processing.ai_writer import AiWriter, responses_config
from shared.processing.content_policy import allowed_contacts, check_content
from shared.processing.conversation_repository import ConversationKey, ConversationRepository, key_of
from shared.processing.credentials import Fetched, OpenAiCredentials, SecretReader
from shared.processing.errors import (
    AiCredentialsRejected,
    ContentCheckFailed,
    MalformedMessage,
    ProcessingFailure,
    ProviderCredentialsRejected,
    ProviderRejected,
    ProviderUnavailable,
    RecordConflict,
    RecordStoreUnavailable,
    SendOutcomeUnknown,
    SendUnconfirmed,
)
from shared.processing.output_contracts import contract_for
from shared.processing.senders import Outgoing, Sender, SendReceipt
from shared.processing.settings import ProcessorSettings

_S = ConversationStatus
T = TypeVar("T")


@dataclass(frozen=True)
class RecordOutcome:
    retry: bool  # report the SQS record as a batch item failure
    status: ConversationStatus | None  # the record's status afterwards, when known
    reason: str | None = None
    dead_letter: bool = False  # move the message to the DLQ now: no delivery can ever process it


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_message(body: str, attributes: Mapping[str, Any], adapter: ChannelAdapter) -> ContextMessage:
    """The queue body as a context message this processor can act on, or ``MalformedMessage``."""
    try:
        message = ContextMessage.model_validate(json_codec.loads(body))
    except ValueError as error:  # ValidationError is a ValueError; so is bad JSON
        where = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['type']}"
            for e in (error.errors() if isinstance(error, ValidationError) else [])
        )
        raise MalformedMessage(f"The body is not a context message ({where or 'not JSON'})") from None
    if message.channel is not adapter.channel:
        raise MalformedMessage(f"A {message.channel} message reached the {adapter.channel} processor")
    attribute = (attributes.get("channel") or {}).get("stringValue")
    if attribute is not None and attribute != adapter.channel.value:
        raise MalformedMessage(f"The message attribute channel={attribute!r} contradicts the body")
    recipient = message.recipient_data
    if (recipient.recipient_tel if message.channel.uses_phone_number else recipient.recipient_email) is None:
        raise MalformedMessage(f"The message has no recipient address for the {message.channel} channel")
    adapter.sender_address(message)  # raises when the channel configuration is not this channel's
    return message


class Pipeline:
    def __init__(
        self,
        *,
        adapter: ChannelAdapter,
        settings: ProcessorSettings,
        repository: ConversationRepository,
        secrets: SecretReader,
        ai: AiWriter,
        logger: Any,
        metrics: Any,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self.adapter = adapter
        self.settings = settings
        self.repository = repository
        self.secrets = secrets
        self.ai = ai
        self.logger = logger
        self.metrics = metrics
        self.clock = clock
        self._steps: dict[ConversationStatus, Callable[[ContextMessage, ConversationRecord], ConversationRecord]] = {
            _S.PROCESSING: self._write_message,
            _S.AI_GENERATED: self._send,
            _S.SENDING: self._reconcile,
        }

    # -- one SQS record ---------------------------------------------------------------------------
    def handle(self, body: str, *, message_id: str, attributes: Mapping[str, Any]) -> RecordOutcome:
        try:
            message = parse_message(body, attributes, self.adapter)
        except MalformedMessage as failure:
            # Permanent: the same bytes will never parse, so no retry; the DLQ keeps them as evidence.
            self.logger.error(
                "malformed message moved to the DLQ", extra={"sqs_message_id": message_id, "reason": failure.reason}
            )
            self._count(metric_names.MALFORMED_MESSAGES)
            return RecordOutcome(retry=False, status=None, reason=failure.reason, dead_letter=True)
        self.logger.thread_safe_append_keys(
            conversation_id=message.conversation_id,
            request_id=message.request_data.request_id,
            recipient=mask_address(message.recipient_address),
            correlation_id=getattr(message.metadata, "correlation_id", None),
        )
        try:
            record = self.process(message)
        except ProcessingFailure as failure:
            return self._settle(ConversationKey(message.recipient_address, message.conversation_id), failure)
        return RecordOutcome(retry=False, status=record.conversation_status)

    def handle_unexpected(self, body: str, error: BaseException) -> RecordOutcome:
        """An exception nobody named (a bug, a provider breaking its contract): ``failed_unknown``.

        Only from ``processing`` or ``ai_generated``; a record in ``sending`` is left for the
        redelivery to reconcile, because the send may have happened.
        """
        reason = mask_text(f"{type(error).__name__}: {error}")[:500]
        self._count(metric_names.UNEXPECTED_FAILURES)
        try:
            message = parse_message(body, {}, self.adapter)
            key = ConversationKey(message.recipient_address, message.conversation_id)
            self.repository.transition(
                key, _S.FAILED_UNKNOWN, now=iso(self.clock()), fields={"failure_reason": reason, "last_error": reason}
            )
        except (ProcessingFailure, ClientError, BotoCoreError) as failure:
            self.logger.warning("failed_unknown not recorded; the message will be retried", extra={"why": str(failure)})
            return RecordOutcome(retry=True, status=None, reason=reason)
        return RecordOutcome(retry=False, status=_S.FAILED_UNKNOWN, reason=reason)

    # -- the state machine ------------------------------------------------------------------------
    def process(self, message: ContextMessage) -> ConversationRecord:
        record, created = self.repository.claim(self._new_record(message))
        if not created:
            self.logger.info("record exists; resuming", extra={"status": record.conversation_status.value})
        while not record.conversation_status.is_final:
            record = self._steps[record.conversation_status](message, record)
        return record

    def _write_message(self, message: ContextMessage, record: ConversationRecord) -> ConversationRecord:
        responses_config(message.project.ai_config, message.channel.value)  # legacy configs stop here
        contract = contract_for(message)
        ai_key = self.secrets.read(self.adapter.openai_secret_id(message, self.settings.environment), OpenAiCredentials)
        # The provider's credentials are checked before AI tokens are spent on a message that cannot go out.
        provider = self._provider_credentials(message)
        self.adapter.check_ready(message, provider.value)

        def write(credentials: OpenAiCredentials) -> Any:
            return self.ai.write(message, contract, api_key=credentials.ai_api_key.get_secret_value())

        draft = self._once_more_with_fresh_credentials(ai_key, AiCredentialsRejected, write)
        try:  # before the content is stored, so no later step can send it
            check_content(draft.content, allowed_contacts(message))
        except ContentCheckFailed:
            self._count(metric_names.CONTENT_CHECK_FAILURES)
            raise
        self.logger.info("message written", extra={"ai_response_id": draft.response_id, "model": draft.model})
        return self.repository.transition(
            key_of(record),
            _S.AI_GENERATED,
            now=iso(self.clock()),
            fields={
                "ai_content": draft.content,
                "ai_response_id": draft.response_id,
                "ai_model": draft.model,
                "prompt_version": draft.prompt_version,
                "ai_usage": draft.usage,
                "last_error": None,
            },
        )

    def _send(self, message: ContextMessage, record: ConversationRecord) -> ConversationRecord:
        provider = self._provider_credentials(message)
        outgoing = self.adapter.outgoing(message, record.ai_content or {}, provider.value)
        record = self.repository.transition(
            key_of(record), _S.SENDING, now=iso(self.clock()), fields={"send_started_at": iso(self.clock())}
        )
        return self._deliver(record, outgoing, provider)

    def _deliver(self, record: ConversationRecord, outgoing: Outgoing, provider: Fetched[Any]) -> ConversationRecord:
        sender = self._sender(provider.value)
        try:
            receipt = self._once_more_with_fresh_credentials(
                provider, ProviderCredentialsRejected, lambda credentials: self._sender(credentials).send(outgoing)
            )
        except ProviderUnavailable as failure:
            # The provider answered "not taken": back to ai_generated so the retry sends the stored content.
            self.repository.transition(
                key_of(record),
                _S.AI_GENERATED,
                now=iso(self.clock()),
                fields={"send_started_at": None, "last_error": failure.reason},
            )
            raise
        except SendOutcomeUnknown as failure:
            if sender.can_reconcile:
                raise  # stays ``sending``; the redelivery asks the provider
            raise SendUnconfirmed(f"{failure.reason}; {sender.provider} cannot be asked whether it went out") from None
        self.logger.info("message sent", extra={"provider_message_id": receipt.provider_message_id})
        return self._record_sent(record, receipt, outgoing)

    def _reconcile(self, message: ContextMessage, record: ConversationRecord) -> ConversationRecord:
        """A previous delivery marked the record ``sending`` and never recorded the outcome."""
        provider = self._provider_credentials(message)
        outgoing = self.adapter.outgoing(message, record.ai_content or {}, provider.value)
        sender = self.adapter.sender(provider.value, self.settings)
        now = self.clock()
        started = _parse_time(record.send_started_at) or now
        in_flight = (now - started).total_seconds() < self.settings.send_settle_seconds
        if not sender.can_reconcile:
            if in_flight:
                raise SendOutcomeUnknown("Another delivery's send started moments ago and may still succeed")
            raise SendUnconfirmed(
                f"A send started {(now - started).total_seconds():.0f} s earlier has no recorded outcome and "
                f"{sender.provider} cannot be asked whether it went out (see send_started_at)"
            )
        found = self._ours_at_the_provider(message, outgoing, provider, started)
        if found is not None:
            self.logger.info(
                "provider had the message; recording it", extra={"provider_message_id": found.provider_message_id}
            )
            self._count(metric_names.SENDS_RECONCILED)
            return self._record_sent(record, found, outgoing)
        if in_flight:
            raise SendOutcomeUnknown(
                f"{sender.provider} lists no message yet, but the send started "
                f"{(now - started).total_seconds():.1f} s ago and may still land"
            )
        self.logger.info(
            "provider has no such message; sending again", extra={"send_started_at": record.send_started_at}
        )
        expect = {"send_started_at": record.send_started_at} if record.send_started_at else None
        record = self.repository.transition(
            key_of(record), _S.SENDING, now=iso(now), fields={"send_started_at": iso(now)}, expect=expect
        )
        return self._deliver(record, outgoing, provider)

    def _ours_at_the_provider(
        self, message: ContextMessage, outgoing: Outgoing, provider: Fetched[Any], started: datetime
    ) -> SendReceipt | None:
        """The provider's message this conversation's unanswered send created, if there is one.

        Messages another conversation of the recipient already recorded are not ours. If the
        provider refuses the lookup, or several messages could be ours, nobody can tell: the
        send is unconfirmed rather than guessed at (and never resent).
        """
        try:
            candidates = self._once_more_with_fresh_credentials(
                provider,
                ProviderCredentialsRejected,
                lambda credentials: self._sender(credentials).find_sent(outgoing, started),
            )
        except ProviderRejected as refused:
            raise SendUnconfirmed(
                f"The provider could not be asked whether the send went out: {refused.reason}"
            ) from None
        if not candidates:
            return None
        taken = self.repository.provider_ids_of_other_conversations(
            ConversationKey(message.recipient_address, message.conversation_id)
        )
        ours = [receipt for receipt in candidates if receipt.provider_message_id not in taken]
        if len(ours) > 1:
            raise SendUnconfirmed(
                f"{len(ours)} messages to the recipient since the send started could be this conversation's"
            )
        return ours[0] if ours else None

    def _record_sent(self, record: ConversationRecord, receipt: SendReceipt, outgoing: Outgoing) -> ConversationRecord:
        now = self.clock()
        usage = record.ai_usage or TokenUsage()
        created = _parse_time(record.created_at) or now
        entry = MessageEntry(
            message_id=receipt.provider_message_id,
            timestamp=iso(now),
            role="assistant",
            content=outgoing.text,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            total_tokens=usage.total_tokens,
        )
        record = self.repository.transition(
            key_of(record),
            _S.INITIAL_MESSAGE_SENT,
            now=iso(now),
            fields={
                "provider_message_id": receipt.provider_message_id,
                "sent_at": iso(now),
                "initial_processing_time_ms": int((now - created).total_seconds() * 1000),
                "last_error": None,
            },
            append=entry,
        )
        self._count(metric_names.MESSAGES_SENT)
        return record

    # -- helpers ----------------------------------------------------------------------------------
    def _new_record(self, message: ContextMessage) -> ConversationRecord:
        now = iso(self.clock())
        recipient = message.recipient_data
        return ConversationRecord(
            primary_channel=message.recipient_address,
            conversation_id=message.conversation_id,
            company_id=message.company_data.company_id,
            project_id=message.company_data.project_id,
            request_id=message.request_data.request_id,
            channel_method=message.channel,
            conversation_status=_S.PROCESSING,
            created_at=now,
            updated_at=now,
            recipient_first_name=recipient.recipient_first_name,
            recipient_last_name=recipient.recipient_last_name,
            recipient_tel=recipient.recipient_tel,
            recipient_email=recipient.recipient_email,
            comms_consent=recipient.comms_consent,
            project_data=message.project_data,
            company_name=message.project.company_name,
            project_name=message.project.project_name,
            company_sender=self.adapter.sender_address(message),
            initial_request_timestamp=iso(message.request_data.initial_request_timestamp),
            router_version=message.metadata.router_version,
            processor_version=self.settings.processor_version,
            context_schema_version=message.metadata.schema_version,
            **self.adapter.reply_index_attributes(message),
        )

    def _provider_credentials(self, message: ContextMessage) -> Fetched[Any]:
        secret_id = self.adapter.credentials_secret_id(message, self.settings.environment)
        return self.secrets.read(secret_id, self.adapter.credentials_shape)

    def _sender(self, credentials: Any) -> Sender:
        return self.adapter.sender(credentials, self.settings)

    def _once_more_with_fresh_credentials(
        self, fetched: Fetched[Any], rejected: type[ProcessingFailure], action: Callable[[Any], T]
    ) -> T:
        """Run ``action``; if the credentials were cached and are refused, re-read the secret and retry once.

        A refused request sent nothing, so the retry cannot send twice; credentials read fresh
        and still refused are a permanent failure.
        """
        try:
            return action(fetched.value)
        except rejected:
            if not fetched.from_cache:
                raise
            self.logger.info(
                "cached credentials refused; reading the secret again", extra={"secret": fetched.secret_id}
            )
            if isinstance(fetched.value, OpenAiCredentials):
                self.ai.forget(fetched.value.ai_api_key.get_secret_value())
            fresh = self.secrets.read(fetched.secret_id, type(fetched.value), fresh=True)
            return action(fresh.value)

    def _settle(self, key: ConversationKey, failure: ProcessingFailure) -> RecordOutcome:
        disposition = failure.disposition
        status = disposition.status
        if status is not None:
            try:
                self.repository.transition(
                    key,
                    status,
                    now=iso(self.clock()),
                    fields={"failure_reason": failure.reason, "last_error": failure.reason},
                )
            except RecordConflict as conflict:
                self.logger.warning("failure not recorded: the record moved on", extra={"why": conflict.reason})
                return RecordOutcome(retry=False, status=None, reason=failure.reason)
            except RecordStoreUnavailable as unavailable:
                # Unrecorded, the failure must be met again by a redelivery rather than forgotten.
                self.logger.warning("failure not recorded; retrying", extra={"why": unavailable.reason})
                return RecordOutcome(retry=True, status=None, reason=failure.reason)
            if status is _S.SEND_UNCONFIRMED:
                self._count(metric_names.SEND_UNCONFIRMED)
        elif disposition.retry:
            self.repository.note_error(key, failure.reason, now=iso(self.clock()))
        extra = {"failure": type(failure).__name__, "reason": failure.reason, "status": status and status.value}
        if disposition.retry:
            self.logger.warning("transient failure; SQS will deliver the message again", extra=extra)
            self._count(metric_names.TRANSIENT_FAILURES)
        elif isinstance(failure, RecordConflict):
            self.logger.info("another delivery owns this conversation", extra=extra)
        else:
            self.logger.error("permanent failure", extra=extra)
            self._count(metric_names.PERMANENT_FAILURES)
        return RecordOutcome(retry=disposition.retry, status=status, reason=failure.reason)

    def _count(self, name: str) -> None:
        self.metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
