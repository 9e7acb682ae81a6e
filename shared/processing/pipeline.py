"""The one processing pipeline of every channel: validate → claim or resume the record → credentials →
AI → send → record the outcome (DESIGN §7).

The conversation record is the state machine. Each step starts from a status and ends by writing
the next one with a conditional update, so a redelivered message resumes from the last durable
step: ``processing`` writes the message, ``ai_generated`` sends the stored content, ``sending`` asks
the provider what happened before anything is sent again (``reconciliation``), and a final status
ends the work. Each delivery holds a ``Claim``: its writes expect the version it read, so of two
copies of one message exactly one moves each step. Failures end in ``settlement``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from shared import json_codec
from shared.consent.suppressions import SuppressionReason
from shared.events.provider_messages import ProviderMessages
from shared.log_masking import mask_address, mask_text
from shared.models.context import ContextMessage
from shared.models.conversation import ConversationRecord, ConversationStatus, MessageEntry, TokenUsage, project_key
from shared.processing import metric_names
from shared.processing.adapters import ChannelAdapter
from shared.processing.ai_writer import AiWriter, responses_config
from shared.processing.content_policy import allowed_contacts, check_content
from shared.processing.conversation_repository import Claim, ConversationKey, ConversationRepository, key_of
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
    SendOutcomeUnknown,
    SendUnconfirmed,
)
from shared.processing.output_contracts import contract_for
from shared.processing.recipient_consent import RecipientConsent
from shared.processing.reconciliation import find_our_send, unconfirmed_unless_retried
from shared.processing.senders import Outgoing, Sender, SendReceipt
from shared.processing.sent_messages import SentMessages
from shared.processing.settings import ProcessorSettings
from shared.processing.settlement import RecordOutcome, record_unexpected, settle
from shared.processing.telemetry import ProcessorTelemetry
from shared.processing.times import iso, parse_time
from shared.processing.wakeups import Wakeups, is_due, open_delivery, scheduled_for
from shared.retention import expires_at

_S = ConversationStatus
T = TypeVar("T")


__all__ = ["Pipeline", "RecordOutcome", "iso", "parse_message"]


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
        provider_messages: ProviderMessages,
        secrets: SecretReader,
        ai: AiWriter,
        consent: RecipientConsent,
        wakeups: Wakeups,
        logger: Any,
        metrics: Any,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        telemetry: ProcessorTelemetry | None = None,
    ):
        """``telemetry``: the latencies' clock and sink (by default ``metrics`` and ``time.monotonic``)."""
        self.adapter = adapter
        self.consent = consent
        self.wakeups = wakeups
        self.settings = settings
        self.repository = repository
        self.sent_messages = SentMessages(provider_messages, repository, logger)
        self.secrets = secrets
        self.ai = ai
        self.logger = logger
        self.metrics = metrics
        self.telemetry = telemetry or ProcessorTelemetry(metrics)
        self.clock = clock
        self._steps: dict[ConversationStatus, Callable[[ContextMessage, Claim], ConversationRecord]] = {
            _S.SCHEDULED: self._wake,
            _S.PROCESSING: self._write_message,
            _S.AI_GENERATED: self._send,
            _S.SENDING: self._reconcile,
        }

    # -- one SQS record ---------------------------------------------------------------------------
    def handle(self, body: str, *, message_id: str, attributes: Mapping[str, Any]) -> RecordOutcome:
        delivery = open_delivery(body)
        try:
            message = parse_message(delivery.body, attributes, self.adapter)
        except MalformedMessage as failure:
            # Permanent: the same bytes will never parse, so no retry; the DLQ keeps them as evidence.
            self.logger.error(
                "malformed message moved to the DLQ", extra={"sqs_message_id": message_id, "reason": failure.reason}
            )
            self.count(metric_names.MALFORMED_MESSAGES)
            return RecordOutcome(retry=False, status=None, reason=failure.reason, dead_letter=True)
        self.logger.thread_safe_append_keys(
            conversation_id=message.conversation_id,
            request_id=message.request_data.request_id,
            recipient=mask_address(message.recipient_address),
            correlation_id=getattr(message.metadata, "correlation_id", None),
        )
        claim = self._claim()
        try:
            record = self.process(message, claim, wakeup=delivery.wakeup)
        except ProcessingFailure as failure:
            key = ConversationKey(message.recipient_address, message.conversation_id)
            return settle(claim, key, failure, now=iso(self.clock()), logger=self.logger, count=self.count)
        if record is None:
            # Only the router's message creates a record: a wake-up for an erased conversation ends here.
            self.logger.info("wake-up for a conversation that no longer exists; nothing to do")
            return RecordOutcome(retry=False, status=None)
        return RecordOutcome(retry=False, status=record.conversation_status)

    def handle_unexpected(self, body: str, error: BaseException) -> RecordOutcome:
        """An exception nobody named (a bug, a provider breaking its contract): ``failed_unknown``.

        Only from ``processing`` or ``ai_generated``; a record in ``sending`` is left for the
        redelivery to reconcile, because the send may have happened.
        """
        reason = mask_text(f"{type(error).__name__}: {error}")[:500]
        self.count(metric_names.UNEXPECTED_FAILURES)
        try:
            message = parse_message(open_delivery(body).body, {}, self.adapter)
            key = ConversationKey(message.recipient_address, message.conversation_id)
            status = record_unexpected(self._claim(), key, reason, now=iso(self.clock()))
        except (ProcessingFailure, ClientError, BotoCoreError) as failure:
            self.logger.warning("failed_unknown not recorded; the message will be retried", extra={"why": str(failure)})
            return RecordOutcome(retry=True, status=None, reason=reason)
        if status is None:
            self.logger.warning("failed_unknown not recorded; the redelivery resumes the record")
            return RecordOutcome(retry=True, status=None, reason=reason)
        return RecordOutcome(retry=False, status=status, reason=reason)

    # -- the state machine ------------------------------------------------------------------------
    def process(self, message: ContextMessage, claim: Claim, *, wakeup: bool = False) -> ConversationRecord | None:
        """Run the record to a final status, or to ``scheduled`` with its wake-up armed; ``None``
        for a wake-up whose record is gone."""
        if wakeup:
            found = self.repository.get(ConversationKey(message.recipient_address, message.conversation_id))
            if found is None:
                return None
            record, created = found, False
        else:
            record, created = self.repository.claim(self._new_record(message, claim.token))
        claim.record = record
        if created and record.conversation_status is _S.SCHEDULED:
            self.count(metric_names.FIRST_MESSAGES_SCHEDULED)
        elif not created:
            self.logger.info("record exists; resuming", extra={"status": record.conversation_status.value})
        while not record.conversation_status.is_final:
            moment = scheduled_for(record) if record.conversation_status is _S.SCHEDULED else None
            if moment is not None and not is_due(moment, self.clock()):
                # Not yet (the first delivery, its redelivery, or an early wake-up): arm (again) and wait.
                self.wakeups.arm(message, moment, now=self.clock())
                return record
            record = self._steps[record.conversation_status](message, claim)
        return record

    def _wake(self, message: ContextMessage, claim: Claim) -> ConversationRecord:
        """The wait is over: of the wake-ups that hold ``scheduled``, one moves it on."""
        assert claim.record is not None
        self.logger.info("scheduled first message is due", extra={"scheduled_for": claim.record.scheduled_for})
        return claim.move(_S.PROCESSING, now=iso(self.clock()))

    def _write_message(self, message: ContextMessage, claim: Claim) -> ConversationRecord:
        if (suppressed := self.end_if_suppressed(claim)) is not None:  # no AI tokens for a suppressed person
            return suppressed
        responses_config(message.project.ai_config, message.channel.value)  # legacy configs stop here
        contract = contract_for(message)
        ai_key = self.secrets.read(self.adapter.openai_secret_id(message, self.settings.environment), OpenAiCredentials)
        # The provider's credentials are checked before AI tokens are spent on a message that cannot go out.
        provider = self._provider_credentials(message)
        self.adapter.check_ready(message, provider.value)

        def write(credentials: OpenAiCredentials) -> Any:
            return self.ai.write(message, contract, api_key=credentials.ai_api_key.get_secret_value())

        draft = self.with_fresh_credentials(ai_key, AiCredentialsRejected, write)
        self.logger.info("message written", extra={"ai_response_id": draft.response_id, "model": draft.model})
        return claim.move(
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

    def _send(self, message: ContextMessage, claim: Claim) -> ConversationRecord:
        self._check_content(message, claim)
        provider = self._provider_credentials(message)
        outgoing = self._outgoing(message, claim, provider)
        if (suppressed := self.end_if_suppressed(claim)) is not None:
            return suppressed
        # The exclusive step: of two deliveries holding ai_generated, only one moves it to sending.
        claim.move(_S.SENDING, now=iso(self.clock()), fields={"send_started_at": iso(self.clock())})
        return self._deliver(claim, outgoing, provider)

    def _deliver(self, claim: Claim, outgoing: Outgoing, provider: Fetched[Any]) -> ConversationRecord:
        sender = self.sender(provider.value)
        try:
            receipt = self.with_fresh_credentials(
                provider, ProviderCredentialsRejected, lambda credentials: self.send(credentials, outgoing)
            )
        except ProviderUnavailable as failure:
            # The provider answered "not taken": back to ai_generated so the retry sends the stored content.
            claim.move(
                _S.AI_GENERATED,
                now=iso(self.clock()),
                fields={"send_started_at": None, "last_error": failure.reason},
            )
            raise
        except SendOutcomeUnknown as failure:
            if sender.can_reconcile:  # stays ``sending``; the redelivery asks the provider once it settled
                raise SendOutcomeUnknown(
                    failure.reason, retry_after_seconds=self.settings.send_settle_seconds
                ) from None
            raise SendUnconfirmed(f"{failure.reason}; {sender.provider} cannot be asked whether it went out") from None
        except ProviderRejected as refusal:
            self.suppress_refused(claim, sender.provider, refusal)
            raise
        self.logger.info("message sent", extra={"provider_message_id": receipt.provider_message_id})
        return self._record_sent(claim, receipt, outgoing, sender.provider)

    def _reconcile(self, message: ContextMessage, claim: Claim) -> ConversationRecord:
        """A previous delivery marked the record ``sending`` and never recorded the outcome."""
        record = claim.record
        assert record is not None
        try:
            provider = self._provider_credentials(message)
            outgoing = self._outgoing(message, claim, provider)
            sender = self.sender(provider.value)
            now = self.clock()
            started = parse_time(record.send_started_at) or now
            found = find_our_send(
                record=record,
                provider=sender.provider,
                can_reconcile=sender.can_reconcile,
                now=now,
                started=started,
                settle_seconds=self.settings.send_settle_seconds,
                list_sent=lambda: self.with_fresh_credentials(
                    provider,
                    ProviderCredentialsRejected,
                    lambda credentials: self.sender(credentials).find_sent(outgoing, started),
                ),
                other_conversations=lambda: self.repository.others_of_recipient(key_of(record)),
            )
        except ProcessingFailure as failure:
            raise unconfirmed_unless_retried(failure, "A send") from None
        if found is not None:
            self.logger.info(
                "provider had the message; recording it", extra={"provider_message_id": found.provider_message_id}
            )
            self.count(metric_names.SENDS_RECONCILED)
            return self._record_sent(claim, found, outgoing, sender.provider)
        self.logger.info(
            "provider has no such message; sending again", extra={"send_started_at": record.send_started_at}
        )
        if (suppressed := self.end_if_suppressed(claim)) is not None:
            return suppressed
        claim.move(_S.SENDING, now=iso(now), fields={"send_started_at": iso(now)})
        return self._deliver(claim, outgoing, provider)

    def _record_sent(self, claim: Claim, receipt: SendReceipt, outgoing: Outgoing, provider: str) -> ConversationRecord:
        """The message's item first (so its delivery events find it), then the record: ``initial_message_sent``
        with the message's delivery state as the item holds it (events may have moved it already)."""
        record = claim.record
        assert record is not None
        now = self.clock()
        delivery = self.sent_messages.record(record, receipt, provider=provider, sent_at=iso(now))
        usage = record.ai_usage or TokenUsage()
        started = parse_time(record.created_at) or now
        waited_until = parse_time(record.scheduled_for)
        if waited_until is not None:  # the work of a scheduled message starts when its wait ends
            started = max(started, waited_until)
        entry = MessageEntry(
            message_id=receipt.provider_message_id,
            timestamp=iso(now),
            role="assistant",
            content=outgoing.text,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            total_tokens=usage.total_tokens,
        )
        fields = {
            "provider_message_id": receipt.provider_message_id,
            "sent_at": iso(now),
            "initial_processing_time_ms": int((now - started).total_seconds() * 1000),
            "last_error": None,
            **delivery.fields(),
        }
        if outgoing.headers and outgoing.headers.get("Message-ID"):  # the thread's first email
            fields["email_references"] = [outgoing.headers["Message-ID"]]
        try:
            record = claim.move(_S.INITIAL_MESSAGE_SENT, now=iso(now), fields=fields, append=entry)
        except RecordConflict:
            # Another delivery may have given this very send up as unconfirmed while it was in
            # flight; its success still settles the record (the same send_started_at: our send).
            current = self.repository.get(key_of(record))
            if not (
                current is not None
                and current.conversation_status is _S.SEND_UNCONFIRMED
                and current.send_started_at == record.send_started_at
            ):
                raise
            claim.record = current
            record = claim.move(_S.INITIAL_MESSAGE_SENT, now=iso(now), fields=fields, append=entry)
        self.count(metric_names.MESSAGES_SENT)
        self.sent_messages.catch_up(record, provider=provider, written=delivery)
        return record

    # -- helpers ----------------------------------------------------------------------------------
    def _claim(self) -> Claim:
        return Claim(self.repository, token=uuid.uuid4().hex)

    def _check_content(self, message: ContextMessage, claim: Claim) -> None:
        """Every first send goes out from the stored content through here, so content written by any
        processor version (a record resumed in ``ai_generated`` included) is checked before it leaves."""
        assert claim.record is not None
        try:
            check_content(claim.record.ai_content or {}, allowed_contacts(message))
        except ContentCheckFailed:
            self.count(metric_names.CONTENT_CHECK_FAILURES)
            raise

    def _outgoing(self, message: ContextMessage, claim: Claim, provider: Fetched[Any]) -> Outgoing:
        content = claim.record.ai_content if claim.record is not None else None
        outgoing = self.adapter.outgoing(message, content or {}, provider.value, record=claim.record)
        if outgoing.status_callback is None and outgoing.custom_args is None:
            # A message queued before the router knew the public base URL: sent, but never reported on.
            self.logger.warning("the provider is given no way to report this message's delivery status")
        return outgoing

    def _new_record(self, message: ContextMessage, token: str) -> ConversationRecord:
        moment = self.clock()
        now = iso(moment)
        recipient = message.recipient_data
        schedule = message.schedule
        waits = schedule is not None and not is_due(schedule.scheduled_for, moment)
        # A held first message is kept for the whole retention after it goes, not after it was queued.
        last_activity = max(moment, schedule.scheduled_for) if schedule else moment
        return ConversationRecord(
            primary_channel=message.recipient_address,
            conversation_id=message.conversation_id,
            company_id=message.company_data.company_id,
            project_id=message.company_data.project_id,
            request_id=message.request_data.request_id,
            channel_method=message.channel,
            gsi_project_key=project_key(message.company_data.company_id, message.company_data.project_id),
            conversation_status=_S.SCHEDULED if waits else _S.PROCESSING,
            scheduled_for=iso(schedule.scheduled_for) if schedule else None,
            schedule_reason=schedule.reason if schedule else None,
            recipient_timezone=schedule.recipient_timezone if schedule else None,
            version=1,
            written_by=token,
            created_at=now,
            updated_at=now,
            expires_at=expires_at(last_activity, self.settings.conversation_retention_days),
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

    # -- consent (issue 12) -----------------------------------------------------------------------
    def end_if_suppressed(self, claim: Claim) -> ConversationRecord | None:
        """Read the suppression list for the record's recipient on its channel; when they are
        suppressed, end the record ``suppressed`` (from the step it is in) and return it.

        The check right before a provider call is the linearisation point of an opt-out: a
        suppression written before it stops the send. A list that cannot be read raises a
        transient failure (the message is retried), so nothing is ever sent unchecked.
        """
        record = claim.record
        assert record is not None
        entry = self.consent.active_entry(record)
        return None if entry is None else self.end_suppressed(claim, entry.reason)

    def end_suppressed(self, claim: Claim, reason: SuppressionReason) -> ConversationRecord:
        """``suppressed`` from the step the record is in: final, nothing sent, not a failure."""
        record = claim.record
        assert record is not None
        self.logger.info(
            "the recipient is suppressed; nothing is sent",
            extra={"status": record.conversation_status.value, "suppression_reason": reason.value},
        )
        moved = claim.move(
            _S.SUPPRESSED, now=iso(self.clock()), fields={"suppression_reason": reason.value, "last_error": None}
        )
        self.count(metric_names.SENDS_SUPPRESSED)
        return moved

    def suppress_refused(self, claim: Claim, provider: str, refusal: ProviderRejected) -> None:
        """The provider refused the send for a reason about the person's address: suppress it, so
        no later request, reply or project contacts them there again. A write that fails is a
        transient failure: the redelivery finds nothing sent, sends again and meets the refusal again."""
        record = claim.record
        assert record is not None
        if self.consent.suppress_refused(record, provider, refusal):
            self.logger.info("the provider refused the address; recipient suppressed", extra={"reason": refusal.reason})
            self.count(metric_names.RECIPIENTS_SUPPRESSED_BY_PROVIDER)

    def _provider_credentials(self, message: ContextMessage) -> Fetched[Any]:
        secret_id = self.adapter.credentials_secret_id(message, self.settings.environment)
        return self.secrets.read(secret_id, self.adapter.credentials_shape)

    def sender(self, credentials: Any) -> Sender:
        return self.adapter.sender(credentials, self.settings)

    def send(self, credentials: Any, outgoing: Outgoing) -> SendReceipt:
        """One provider call (first message or reply), timed as ``ProviderLatency``."""
        with self.telemetry.provider_send():
            return self.sender(credentials).send(outgoing)

    def with_fresh_credentials(
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

    def count(self, name: str) -> None:
        self.metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
