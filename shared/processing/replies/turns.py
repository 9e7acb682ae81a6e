"""The turn (issue 11): a reply job makes the channel processor answer the person's pending messages
with one reply, sent exactly once (docs/decisions.md, "Replies (issue 11)").

The record is the state machine, as for the first message. A turn claims every pending inbound
message (``answered_through`` < ``inbound_count``) by moving a start status to ``reply_processing``
with ``reply_through = inbound_count``; ``reply_generated`` stores the AI's answer; ``reply_sending``
marks the send, and a redelivery that finds it asks the provider before anything goes out again
(``reconciliation``); the end sets ``answered_through = reply_through``. Every move expects the
version its delivery read, so of two copies of a job exactly one moves each step. A turn that ends
with messages still pending (they arrived meanwhile) starts the next turn itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shared.consent.suppressions import SuppressionReason
from shared.log_masking import mask_text
from shared.models.conversation import (
    TURN_STARTS,
    TURN_STEPS,
    ConversationRecord,
    ConversationStatus,
    MessageEntry,
    TokenUsage,
)
from shared.processing import metric_names
from shared.processing.content_policy import check_content, project_contacts
from shared.processing.conversation_repository import Claim, ConversationKey, key_of
from shared.processing.credentials import Fetched, OpenAiCredentials
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
from shared.processing.pipeline import Pipeline
from shared.processing.reconciliation import find_our_send, unconfirmed_unless_retried
from shared.processing.replies.consent_keywords import HELP_TEXT, help_text_due, opt_out_pending
from shared.processing.replies.email_thread import person_latest_email
from shared.processing.replies.reply_writer import ReplyWriter, reply_sender_of
from shared.processing.replies.turn_settlement import end_turn, job_done, next_turn_due, settle_turn
from shared.processing.senders import Outgoing, SendReceipt
from shared.processing.settlement import RecordOutcome
from shared.processing.times import iso, parse_time
from shared.replies.reply_job import ReplyJob

_S = ConversationStatus
AI_REQUESTED = "ai_requested"
AI_TURN_LIMIT = "ai_turn_limit"


def parse_job(body: str, attributes: Mapping[str, Any], channel: str) -> ReplyJob:
    """The queue body as a reply job for this processor's channel, or ``MalformedMessage``."""
    try:
        job = ReplyJob.from_body(body)
    except ValueError as error:
        problems = getattr(error, "errors", None)
        where = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['type']}" for e in problems()) if problems else ""
        raise MalformedMessage(f"The body is not a reply job ({where or 'not JSON'})") from None
    if job.channel.value != channel:
        raise MalformedMessage(f"A {job.channel} reply job reached the {channel} processor")
    attribute = (attributes.get("channel") or {}).get("stringValue")
    if attribute is not None and attribute != channel:
        raise MalformedMessage(f"The message attribute channel={attribute!r} contradicts the job")
    if job.project.channel_config.channel.value != channel:
        raise MalformedMessage(f"The reply job carries no {channel} channel configuration")
    return job


class ReplyTurns:
    """Runs reply jobs with the channel pipeline's stores, secrets, AI clients and senders."""

    def __init__(self, pipeline: Pipeline):
        self.pipeline = pipeline
        self.writer = ReplyWriter(pipeline.ai)
        self._steps: dict[ConversationStatus, Callable[[ReplyJob, Claim], ConversationRecord]] = {
            _S.REPLY_PROCESSING: self._write_reply,
            _S.REPLY_GENERATED: self._send_reply,
            _S.REPLY_SENDING: self._reconcile,
        }

    # -- one SQS record ---------------------------------------------------------------------------
    def handle(self, body: str, *, message_id: str, attributes: Mapping[str, Any]) -> RecordOutcome:
        logger = self.pipeline.logger
        try:
            job = parse_job(body, attributes, self.pipeline.adapter.channel.value)
        except MalformedMessage as failure:
            logger.error(
                "malformed reply job moved to the DLQ", extra={"sqs_message_id": message_id, "reason": failure.reason}
            )
            self.pipeline.count(metric_names.MALFORMED_MESSAGES)
            return RecordOutcome(retry=False, status=None, reason=failure.reason, dead_letter=True)
        logger.thread_safe_append_keys(
            conversation_id=job.conversation_id,
            inbound_seq=job.inbound_seq,
            correlation_id=job.metadata.correlation_id,
        )
        claim = self._claim()
        key = _key(job)
        continued = False
        while True:
            try:
                record = self.run(job, claim)
            except ProcessingFailure as failure:
                outcome = settle_turn(
                    claim, key, job, failure, now=self._now(), logger=logger, count=self.pipeline.count
                )
                # The turn that failed may have been an earlier one (this job's message arrived while
                # it ran): ending it answered or gave up its range, and this job is the only one left
                # for its message, so it goes on to the next turn rather than being deleted. Once is
                # enough: that turn claims through inbound_count, this job's message included.
                if continued or not next_turn_due(outcome, claim.record, job):
                    return outcome
                continued = True
                logger.info("the ended turn answered earlier messages; this job's message starts the next turn")
                continue
            return RecordOutcome(retry=False, status=record.conversation_status)

    def handle_unexpected(self, body: str, error: BaseException) -> RecordOutcome:
        """An exception nobody named: the turn ends ``reply_not_sent`` from ``reply_processing`` or
        ``reply_generated``; a record in ``reply_sending`` is left for the redelivery to reconcile."""
        reason = mask_text(f"{type(error).__name__}: {error}")[:500]
        self.pipeline.count(metric_names.UNEXPECTED_FAILURES)
        try:
            job = parse_job(body, {}, self.pipeline.adapter.channel.value)
            claim = self._claim()
            claim.record = self.pipeline.repository.get(_key(job))
            if claim.record is None or claim.record.conversation_status not in (
                _S.REPLY_PROCESSING,
                _S.REPLY_GENERATED,
            ):
                self.pipeline.logger.warning("the turn is left for the redelivery to resume")
                return RecordOutcome(retry=True, status=None, reason=reason)
            end_turn(claim, _S.REPLY_NOT_SENT, reason, now=self._now())
        except (ProcessingFailure, ClientError, BotoCoreError) as failure:
            self.pipeline.logger.warning(
                "reply_not_sent not recorded; the job will be retried", extra={"why": str(failure)}
            )
            return RecordOutcome(retry=True, status=None, reason=reason)
        self.pipeline.count(metric_names.REPLIES_NOT_SENT)
        return RecordOutcome(retry=False, status=_S.REPLY_NOT_SENT, reason=reason)

    # -- the turn's state machine -----------------------------------------------------------------
    def run(self, job: ReplyJob, claim: Claim) -> ConversationRecord:
        record = self._read(job)
        if job_done(record, job):
            self.pipeline.logger.info(
                "nothing to answer for this job", extra={"status": record.conversation_status.value}
            )
            return record
        while True:
            claim.record = record
            status = record.conversation_status
            if status in TURN_STEPS:
                record = self._steps[status](job, claim)
                continue
            if status is _S.SUPPRESSED:
                return record
            if record.answered_through >= record.inbound_count:
                return record
            if status is _S.NEEDS_HUMAN:
                self.pipeline.logger.info("a person has the conversation; the message is not answered automatically")
                return record
            if not job.auto_reply:
                self.pipeline.logger.info("replies are off for this project or address; the message stays recorded")
                return record
            if status not in TURN_STARTS:
                self.pipeline.logger.warning("the conversation cannot start a turn", extra={"status": status.value})
                return record
            record = self._start(job, claim)

    def _read(self, job: ReplyJob) -> ConversationRecord:
        record = self.pipeline.repository.get(_key(job))
        if record is None:
            raise MalformedMessage("The reply job names a conversation that does not exist")
        if (record.company_id, record.project_id, record.channel_method) != (
            job.company_id,
            job.project_id,
            job.channel,
        ):
            raise MalformedMessage("The reply job's tenant or channel does not match the conversation's")
        return record

    def _start(self, job: ReplyJob, claim: Claim) -> ConversationRecord:
        record = claim.record
        assert record is not None
        if record.ai_turns >= job.policy.max_ai_turns:
            self.pipeline.logger.info("AI-turn limit reached; handing over", extra={"ai_turns": record.ai_turns})
            moved = claim.move(_S.NEEDS_HUMAN, now=self._now(), fields={"handoff_reason": AI_TURN_LIMIT})
            self.pipeline.count(metric_names.REPLY_HANDOFFS)
            return moved
        return claim.move(
            _S.REPLY_PROCESSING,
            now=self._now(),
            fields={
                "reply_through": record.inbound_count,
                "reply_content": None,
                "reply_response_id": None,
                "reply_prompt_version": None,
                "reply_usage": None,
                "reply_send_started_at": None,
                "failure_reason": None,
                "last_error": None,
            },
        )

    def _write_reply(self, job: ReplyJob, claim: Claim) -> ConversationRecord:
        record = claim.record
        assert record is not None
        if (suppressed := self.pipeline.end_if_suppressed(claim)) is not None:  # before any AI token
            return suppressed
        if opt_out_pending(record):
            # The events processor writes the entry and closes the thread; a STOP is never answered
            # even when this turn claimed it first.
            return self._end_opted_out(claim)
        adapter, settings = self.pipeline.adapter, self.pipeline.settings
        adapter.check_reply_window(record, self.pipeline.clock())  # before AI tokens are spent on it
        if (help_text := help_text_due(record, job.project)) is not None:
            return self._help_reply(claim, help_text)
        reply_sender_of(job.project, job.channel.value)  # a project that cannot answer stops before any secret
        ai_key = self.pipeline.secrets.read(
            adapter.project_openai_secret_id(job.project, settings.environment), OpenAiCredentials
        )
        self._provider_credentials(job)  # a reply that cannot go out is not written

        def write(credentials: OpenAiCredentials) -> Any:
            return self.writer.write(
                record,
                job.project,
                max_length=adapter.reply_max_length(job.project),
                api_key=credentials.ai_api_key.get_secret_value(),
            )

        draft = self.pipeline.with_fresh_credentials(ai_key, AiCredentialsRejected, write)
        self.pipeline.logger.info(
            "reply written",
            extra={
                "ai_response_id": draft.response_id,
                "needs_human": draft.needs_human,
                "reply_through": record.reply_through,
            },
        )
        return claim.move(
            _S.REPLY_GENERATED,
            now=self._now(),
            fields={
                "reply_content": draft.content,
                "reply_response_id": draft.response_id,
                "reply_prompt_version": draft.prompt_version,
                "reply_usage": draft.usage,
                "ai_turns": record.ai_turns + 1,
                "task_complete": 1 if draft.task_complete else 0,
                "last_error": None,
            },
        )

    def _help_reply(self, claim: Claim, help_text: str) -> ConversationRecord:
        """HELP is answered with the project's help text: no AI call, ``ai_turns`` unchanged; sent
        by the same steps as any reply (so exactly once)."""
        self.pipeline.logger.info("HELP pending; the reply is the project's help text")
        return claim.move(
            _S.REPLY_GENERATED,
            now=self._now(),
            fields={
                "reply_content": {
                    "reply": help_text,
                    "task_complete": False,
                    "needs_human": False,
                    "source": HELP_TEXT,
                },
                "reply_response_id": None,
                "reply_prompt_version": None,
                "reply_usage": None,
                "last_error": None,
            },
        )

    def _end_opted_out(self, claim: Claim) -> ConversationRecord:
        self.pipeline.logger.info("an opt-out keyword is pending; the turn ends without an answer")
        return self.pipeline.end_suppressed(claim, SuppressionReason.STOP_KEYWORD)

    def _send_reply(self, job: ReplyJob, claim: Claim) -> ConversationRecord:
        record = claim.record
        assert record is not None
        content = record.reply_content or {}
        reply = str(content.get("reply") or "")
        if not reply:  # the AI handed over with nothing to say: nobody is messaged
            moved = claim.move(
                _S.NEEDS_HUMAN,
                now=self._now(),
                fields={
                    "handoff_reason": AI_REQUESTED,
                    "answered_through": record.reply_through or record.answered_through,
                },
            )
            self.pipeline.count(metric_names.REPLY_HANDOFFS)
            return moved
        if content.get("source") != HELP_TEXT:  # the tenant's own words are not the AI's to check
            try:
                check_content(
                    {"reply": reply},
                    project_contacts(job.project, tel=record.recipient_tel, email=record.recipient_email),
                )
            except ContentCheckFailed:
                self.pipeline.count(metric_names.CONTENT_CHECK_FAILURES)
                raise
        self.pipeline.adapter.check_reply_window(record, self.pipeline.clock())
        provider = self._provider_credentials(job)
        outgoing = self.pipeline.adapter.reply_outgoing(job, record, reply, provider.value)
        if (suppressed := self.pipeline.end_if_suppressed(claim)) is not None:
            return suppressed
        # The exclusive step: of two deliveries holding reply_generated, only one moves it to reply_sending.
        claim.move(_S.REPLY_SENDING, now=self._now(), fields={"reply_send_started_at": self._now()})
        return self._deliver(job, claim, outgoing, provider)

    def _deliver(self, job: ReplyJob, claim: Claim, outgoing: Outgoing, provider: Fetched[Any]) -> ConversationRecord:
        sender = self.pipeline.sender(provider.value)
        try:
            receipt = self.pipeline.with_fresh_credentials(
                provider,
                ProviderCredentialsRejected,
                lambda credentials: self.pipeline.send(credentials, outgoing),
            )
        except ProviderUnavailable as failure:
            # "Not taken": back to reply_generated so the retry sends the stored reply.
            claim.move(
                _S.REPLY_GENERATED,
                now=self._now(),
                fields={"reply_send_started_at": None, "last_error": failure.reason},
            )
            raise
        except SendOutcomeUnknown as failure:
            if sender.can_reconcile:
                raise SendOutcomeUnknown(
                    failure.reason, retry_after_seconds=self.pipeline.settings.send_settle_seconds
                ) from None
            raise SendUnconfirmed(f"{failure.reason}; {sender.provider} cannot be asked whether it went out") from None
        except ProviderRejected as refusal:
            self.pipeline.suppress_refused(claim, sender.provider, refusal)
            raise
        self.pipeline.logger.info("reply sent", extra={"provider_message_id": receipt.provider_message_id})
        return self._record_sent(claim, receipt, outgoing, sender.provider)

    def _reconcile(self, job: ReplyJob, claim: Claim) -> ConversationRecord:
        """A previous delivery marked the record ``reply_sending`` and never recorded the outcome."""
        record = claim.record
        assert record is not None
        try:
            provider = self._provider_credentials(job)
            reply = str((record.reply_content or {}).get("reply") or "")
            outgoing = self.pipeline.adapter.reply_outgoing(job, record, reply, provider.value)
            sender = self.pipeline.sender(provider.value)
            now = self.pipeline.clock()
            started = parse_time(record.reply_send_started_at) or now
            found = find_our_send(
                record=record,
                provider=sender.provider,
                can_reconcile=sender.can_reconcile,
                now=now,
                started=started,
                settle_seconds=self.pipeline.settings.send_settle_seconds,
                list_sent=lambda: self.pipeline.with_fresh_credentials(
                    provider,
                    ProviderCredentialsRejected,
                    lambda credentials: self.pipeline.sender(credentials).find_sent(outgoing, started),
                ),
                other_conversations=lambda: self.pipeline.repository.others_of_recipient(key_of(record)),
            )
        except ProcessingFailure as failure:
            raise unconfirmed_unless_retried(failure, "A reply send") from None
        if found is not None:
            self.pipeline.logger.info(
                "provider had the reply; recording it", extra={"provider_message_id": found.provider_message_id}
            )
            self.pipeline.count(metric_names.SENDS_RECONCILED)
            return self._record_sent(claim, found, outgoing, sender.provider)
        self.pipeline.logger.info("provider has no such reply; sending again")
        self.pipeline.adapter.check_reply_window(record, now)
        if (suppressed := self.pipeline.end_if_suppressed(claim)) is not None:
            return suppressed
        claim.move(_S.REPLY_SENDING, now=iso(now), fields={"reply_send_started_at": iso(now)})
        return self._deliver(job, claim, outgoing, provider)

    def _record_sent(self, claim: Claim, receipt: SendReceipt, outgoing: Outgoing, provider: str) -> ConversationRecord:
        """The reply's message item first (its delivery events find it), then the record: the
        assistant entry, ``answered_through`` and the new message's delivery state."""
        record = claim.record
        assert record is not None
        now = self._now()
        delivery = self.pipeline.sent_messages.record(record, receipt, provider=provider, sent_at=now)
        needs_human = bool((record.reply_content or {}).get("needs_human"))
        to = _S.NEEDS_HUMAN if needs_human else _S.REPLY_SENT
        our_id = (outgoing.headers or {}).get("Message-ID")

        def move(current: ConversationRecord) -> ConversationRecord:
            usage = current.reply_usage or TokenUsage()
            entry = MessageEntry(
                message_id=receipt.provider_message_id,
                timestamp=now,
                role="assistant",
                content=outgoing.text,
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
                total_tokens=usage.total_tokens,
                answers_through=current.reply_through,
                subject=outgoing.subject,
                email_message_id=our_id,
            )
            fields: dict[str, Any] = {
                "provider_message_id": receipt.provider_message_id,
                "answered_through": max(current.answered_through, current.reply_through or 0),
                "last_reply_at": now,
                "handoff_reason": AI_REQUESTED if needs_human else None,
                "failure_reason": None,
                "last_error": None,
                **delivery.fields(),
            }
            if our_id:
                fields["email_references"] = _thread_ids(current, our_id)
            return claim.move(to, now=now, fields=fields, append=entry)

        try:
            record = move(record)
        except RecordConflict:
            # Another delivery may have given this very send up as unconfirmed while it was in
            # flight; its success still settles the record (the same reply_send_started_at: our send).
            current = self.pipeline.repository.get(key_of(record))
            if not (
                current is not None
                and current.conversation_status is _S.REPLY_UNCONFIRMED
                and current.reply_send_started_at == record.reply_send_started_at
            ):
                raise
            claim.record = current
            record = move(current)
        self.pipeline.count(metric_names.REPLIES_SENT)
        if needs_human:
            self.pipeline.count(metric_names.REPLY_HANDOFFS)
        self.pipeline.sent_messages.catch_up(record, provider=provider, written=delivery)
        return record

    # -- helpers ----------------------------------------------------------------------------------
    def _claim(self) -> Claim:
        return Claim(self.pipeline.repository, token=uuid.uuid4().hex)

    def _now(self) -> str:
        return iso(self.pipeline.clock())

    def _provider_credentials(self, job: ReplyJob) -> Fetched[Any]:
        secret_id = self.pipeline.adapter.project_credentials_secret_id(
            job.project, job.company_id, job.project_id, self.pipeline.settings.environment
        )
        return self.pipeline.secrets.read(secret_id, self.pipeline.adapter.credentials_shape)


def _key(job: ReplyJob) -> ConversationKey:
    return ConversationKey(job.primary_channel, job.conversation_id)


def _thread_ids(record: ConversationRecord, our_id: str) -> list[str]:
    """The thread's Message-IDs for the next email's References: the record's, the person's
    latest (when the events processor did not list it) and ours."""
    ids = list(record.email_references)
    parent = person_latest_email(record)
    for value in (parent, our_id):
        if value and value not in ids:
            ids.append(value)
    return ids
