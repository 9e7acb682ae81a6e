"""Applies the person's message (a verified inbound webhook) in the events processor.

1. Parse it (``parse_inbound``; malformed: the DLQ, at once).
2. A consent keyword acts on the suppression list first, whatever the thread (``InboundConsent``):
   STOP suppresses the sender for the URL's company on the message's channel, START lifts it.
3. Match it to an open conversation of the webhook URL's tenant (``ReplyMatcher``); nothing: keep it
   as unmatched for inspection and count it, never answered.
4. Record it once (``InboundRecords``), with its ``consent_keyword``.
5. An opt-out closes the conversation (``suppressed``) and is never answered; an opt-in is recorded
   and not answered (Twilio answers START itself when its opt-out handling is on). Anything else
   (HELP included: the turn answers it with the project's help text), unless answered already:
   mark an idle thread ``reply_received`` and queue a reply job on the conversation's channel
   queue — also for a duplicate, so a crash after recording heals on redelivery (a turn answers
   each message once however many jobs name it).

DynamoDB, Secrets Manager or SQS down: the event comes back (SQS) and every step above is safe to
repeat. A project record that is gone or cannot serve the channel leaves the message recorded and
unanswered.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from shared.api_errors import CompanyNotFound, ConfigurationError, DatabaseError
from shared.channels import Channel
from shared.consent.keywords import ConsentKeyword
from shared.events.channel_metrics import ChannelCounts
from shared.events.envelope import ProviderEvent
from shared.events.outcome import DONE, EventOutcome, iso
from shared.events.provider_messages import ProviderMessages
from shared.events.settings import EventsSettings
from shared.log_masking import mask_address
from shared.models.company import CompanyRecord
from shared.models.conversation import ConversationRecord
from shared.processing import metric_names
from shared.processing.errors import ProcessingFailure
from shared.replies.inbound import InboundMessage, parse_inbound
from shared.replies.inbound_consent import InboundConsent
from shared.replies.inbound_records import InboundRecords, Recording
from shared.replies.matching import ReplyMatcher
from shared.replies.reply_job import ReplyJob, ReplyJobMetadata
from shared.replies.reply_queue import ReplyJobQueues
from shared.routing.company_directory import CompanyDirectory, company_record
from shared.routing.context_builder import project_slice


class InboundApplier:
    def __init__(
        self,
        *,
        matcher: ReplyMatcher,
        records: InboundRecords,
        consent: InboundConsent,
        messages: ProviderMessages,
        companies: CompanyDirectory,
        queues: ReplyJobQueues,
        settings: EventsSettings,
        logger: Any,
        metrics: Any,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        channel_counts: ChannelCounts | None = None,
    ):
        self.channel_counts = channel_counts or ChannelCounts()
        self.matcher = matcher
        self.records = records
        self.consent = consent
        self.messages = messages
        self.companies = companies
        self.queues = queues
        self.settings = settings
        self.logger = logger
        self.metrics = metrics
        self.clock = clock

    def handle(self, event: ProviderEvent, *, receive_count: int) -> EventOutcome:
        try:
            message = parse_inbound(event)
        except ValueError as error:
            self.logger.error("malformed inbound message moved to the DLQ", extra={"reason": str(error)})
            self._count(metric_names.MALFORMED_MESSAGES)
            return EventOutcome(dead_letter=True, reason=str(error))
        self.logger.thread_safe_append_keys(
            provider=message.provider,
            channel=message.channel.value,
            inbound_ref=message.reference,
            company_id=event.company_id,
            project_id=event.project_id,
            correlation_id=event.correlation_id,
        )
        try:
            return self._apply(event, message, last_receive=receive_count >= self.settings.max_receive_count)
        except ProcessingFailure as failure:  # DynamoDB or SQS throttled or unreachable: SQS brings it back
            self.logger.warning("inbound message not applied; retrying", extra={"why": failure.reason})
            return EventOutcome(retry=True, reason=failure.reason)

    def _apply(self, event: ProviderEvent, message: InboundMessage, *, last_receive: bool) -> EventOutcome:
        keyword = message.consent_keyword
        if keyword is not None:
            self.logger.thread_safe_append_keys(consent_keyword=keyword.value)
        self.consent.apply_to_list(event, message)
        matched = self.matcher.match(message, company_id=event.company_id, project_id=event.project_id)
        if matched.record is None:
            return self._unmatched(event, message, matched.reason or "no_open_conversation")
        self.logger.thread_safe_append_keys(conversation_id=matched.record.conversation_id, matched_by=matched.how)
        at = iso(event.received_at)
        recorded = self.records.record(matched.record, message, at=at)
        if recorded.outcome is Recording.CLOSED or recorded.record is None:
            return self._unmatched(event, message, "conversation_closed")
        record = recorded.record
        if recorded.outcome is Recording.RECORDED:
            self._count(metric_names.INBOUND_RECORDED)
            self.channel_counts.count(metric_names.REPLIES_RECEIVED, message.channel)
            if keyword is ConsentKeyword.HELP:
                self._count(metric_names.HELP_REQUESTS)
            self.logger.info("inbound message recorded", extra={"inbound_seq": recorded.seq})
        else:
            self._count(metric_names.INBOUND_DUPLICATES)
            self.logger.info("inbound message already recorded", extra={"inbound_seq": recorded.seq})
        if keyword is ConsentKeyword.OPT_OUT:
            return self.consent.close(record, message, now=iso(self.clock()), last_receive=last_receive)
        if keyword is ConsentKeyword.OPT_IN:
            self.logger.info("opt-in recorded: not answered")
            return DONE
        if not record.conversation_status.is_open:
            self.logger.info("the conversation closed since the message was recorded: no reply job")
            return DONE
        if recorded.seq is None or record.answered_through >= recorded.seq:
            self.logger.info("inbound message answered already: no reply job")
            return DONE
        # Also after a duplicate: a crash right after recording must not leave the thread idle.
        record = self.records.mark_received(record, token=f"inbound:{message.reference}", now=iso(self.clock()))
        job = self._job(event, message, record, recorded.seq)
        if job is None:
            return DONE
        self.queues.send(job)
        self.logger.info("reply job queued", extra={"auto_reply": job.auto_reply, "inbound_seq": job.inbound_seq})
        return DONE

    def _job(
        self, event: ProviderEvent, message: InboundMessage, record: ConversationRecord, seq: int
    ) -> ReplyJob | None:
        channel = record.channel_method
        try:
            company = company_record(self.companies.load(event.company_id, event.project_id))
            project = project_slice(company, channel)
        except DatabaseError as error:
            raise _CompanyUnavailable("The project's configuration could not be read") from error
        except (CompanyNotFound, ConfigurationError) as error:
            # Retrying cannot help until someone fixes the project; the message stays recorded.
            self.logger.error("no reply job: the project cannot answer", extra={"why": type(error).__name__})
            self._count(metric_names.REPLY_JOBS_NOT_QUEUED)
            return None
        return ReplyJob(
            channel=channel,
            company_id=event.company_id,
            project_id=event.project_id,
            primary_channel=record.primary_channel,
            conversation_id=record.conversation_id,
            inbound_message_id=message.inbound_id,
            inbound_seq=seq,
            auto_reply=company.answers_replies_to(_company_address(record, message, company)),
            policy=company.reply_policy,
            project=project,
            metadata=ReplyJobMetadata(
                events_processor_version=self.settings.processor_version,
                queued_at=self.clock(),
                correlation_id=event.correlation_id,
                callback_base_url=event.callback_base_url,
            ),
        )

    def _unmatched(self, event: ProviderEvent, message: InboundMessage, reason: str) -> EventOutcome:
        key = self.messages.keep_unmatched_inbound(event, message.inbound_id, reason=reason, now=self.clock())
        self._count(metric_names.INBOUND_UNMATCHED)
        if message.consent_keyword is ConsentKeyword.HELP:
            self._count(metric_names.HELP_REQUESTS)
        self.logger.warning(
            "inbound message matched no open conversation of its tenant; kept for inspection",
            extra={
                "reason": reason,
                "unmatched_ref": _digest(key),
                "sender": mask_address(message.sender),
                "reached": mask_address(message.company_address),
            },
        )
        return DONE

    def _count(self, name: str) -> None:
        self.metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)


class _CompanyUnavailable(ProcessingFailure):
    """The company table throttled or could not be reached."""


def _company_address(record: ConversationRecord, message: InboundMessage, company: CompanyRecord) -> str:
    """The company's number or address the thread runs through (what ``answers_replies_to`` checks)."""
    if message.company_address is not None:
        return message.company_address
    if record.gsi_company_email:
        return record.gsi_company_email
    config = company.channel_config.for_channel(Channel.EMAIL)
    return config.sender_address if config is not None else ""


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:16]
