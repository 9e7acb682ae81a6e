"""How a turn that met a failure ends (issue 11): the turn's mapping of ``shared.processing.errors``.

A failure the first message records as ``failed_*`` ends a turn ``reply_not_sent`` (the messages
stay unanswered: the next message's turn answers them too), except WhatsApp's closed window, which
gives them up (``answered_through`` advances: no reply can ever reach them). A send that may have
gone out ends ``reply_unconfirmed`` and counts as answered: never resent. Transient failures keep
the turn's step for the redelivery, as for the first message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared.models.conversation import TURN_STEPS, ConversationRecord, ConversationStatus, may_move
from shared.processing import metric_names
from shared.processing.conversation_repository import Claim, ConversationKey
from shared.processing.errors import (
    MalformedMessage,
    ProcessingFailure,
    RecordConflict,
    RecordStoreUnavailable,
    WhatsAppWindowClosed,
)
from shared.processing.settlement import RecordOutcome
from shared.replies.reply_job import ReplyJob

_S = ConversationStatus


def settle_turn(
    claim: Claim,
    key: ConversationKey,
    job: ReplyJob,
    failure: ProcessingFailure,
    *,
    now: str,
    logger: Any,
    count: Callable[[str], None],
) -> RecordOutcome:
    disposition = failure.disposition
    if isinstance(failure, MalformedMessage):  # e.g. no such conversation: kept in the DLQ as evidence
        logger.error("reply job moved to the DLQ", extra={"reason": failure.reason})
        count(metric_names.MALFORMED_MESSAGES)
        return RecordOutcome(retry=False, status=None, reason=failure.reason, dead_letter=True)
    if isinstance(failure, RecordConflict):
        return turn_moved_on(claim, key, job, failure.reason, logger)
    status: ConversationStatus | None = None
    if disposition.status is not None:
        status = _S.REPLY_UNCONFIRMED if disposition.status is _S.SEND_UNCONFIRMED else _S.REPLY_NOT_SENT
        try:
            end_turn(claim, status, failure.reason, now=now, give_up=isinstance(failure, WhatsAppWindowClosed))
        except RecordConflict as conflict:
            logger.warning("turn failure not recorded: the record moved on", extra={"why": conflict.reason})
            return turn_moved_on(claim, key, job, failure.reason, logger)
        except RecordStoreUnavailable as unavailable:
            logger.warning("turn failure not recorded; retrying", extra={"why": unavailable.reason})
            return RecordOutcome(retry=True, status=None, reason=failure.reason)
        count(metric_names.REPLY_UNCONFIRMED if status is _S.REPLY_UNCONFIRMED else metric_names.REPLIES_NOT_SENT)
    elif disposition.retry:
        claim.repository.note_error(key, failure.reason, now=now)
    extra = {"failure": type(failure).__name__, "reason": failure.reason, "status": status and status.value}
    if disposition.retry:
        logger.warning("transient failure in a reply turn; SQS will deliver the job again", extra=extra)
        count(metric_names.TRANSIENT_FAILURES)
    else:
        logger.error("reply turn ended without a reply", extra=extra)
        count(metric_names.PERMANENT_FAILURES)
    return RecordOutcome(
        retry=disposition.retry, status=status, reason=failure.reason, retry_after_seconds=failure.retry_after_seconds
    )


def end_turn(claim: Claim, status: ConversationStatus, reason: str, *, now: str, give_up: bool = False) -> None:
    """``reply_not_sent`` / ``reply_unconfirmed`` with the reason; an unconfirmed send and a closed
    window count the turn's messages as answered."""
    record = claim.record
    if record is None or not may_move(record.conversation_status, status):
        current = record.conversation_status.value if record else "no record"
        raise RecordConflict(f"{status} cannot be recorded from {current}")
    fields: dict[str, Any] = {"failure_reason": reason, "last_error": reason}
    if give_up or status is _S.REPLY_UNCONFIRMED:
        fields["answered_through"] = max(record.answered_through, record.reply_through or 0)
    claim.move(status, now=now, fields=fields)


def job_done(record: ConversationRecord, job: ReplyJob) -> bool:
    """Nothing is left for this job: its message is answered (or given up), handed to a person, the
    conversation ended ``suppressed``, or its turn already ended without a reply (a repeat of the
    job must not run the turn again)."""
    status = record.conversation_status
    if status in TURN_STEPS:
        return False
    if status is _S.SUPPRESSED:  # final: the person opted out, nothing is ever answered again
        return True
    if job.inbound_seq <= record.answered_through or status is _S.NEEDS_HUMAN:
        return True
    return status is _S.REPLY_NOT_SENT and record.reply_through is not None and job.inbound_seq <= record.reply_through


def next_turn_due(outcome: RecordOutcome, record: ConversationRecord | None, job: ReplyJob) -> bool:
    """A turn ended without a reply on a range that is now answered or given up
    (``reply_unconfirmed``, a closed window: ``answered_through == reply_through``), and the job's
    message came after that range. Nobody else will answer it (its job is this one), so the job
    starts the next turn. Each such end moves ``answered_through`` on and the next turn claims
    through ``inbound_count`` (>= the job's seq), so this happens at most once per job. A
    ``reply_not_sent`` that kept its range pending is not continued: the same permanent failure
    would meet the same messages again (the next message's job answers them, as before)."""
    return (
        not outcome.retry
        and record is not None
        and outcome.status in (_S.REPLY_UNCONFIRMED, _S.REPLY_NOT_SENT)
        and record.conversation_status is outcome.status
        and record.reply_through is not None
        and record.answered_through >= record.reply_through
        and job.inbound_seq > record.answered_through
    )


def turn_moved_on(claim: Claim, key: ConversationKey, job: ReplyJob, reason: str, logger: Any) -> RecordOutcome:
    """Another delivery wrote the record first: done when the job's message is taken care of,
    else the job comes back later (the other delivery may die before its turn ends)."""
    try:
        current = claim.repository.get(key)
    except RecordStoreUnavailable:
        current = None
    if current is not None and job_done(current, job):
        logger.info("another delivery answered this message", extra={"status": current.conversation_status.value})
        return RecordOutcome(retry=False, status=current.conversation_status, reason=reason)
    logger.info("another delivery is working on this conversation; checking back later", extra={"why": reason})
    return RecordOutcome(retry=True, status=None, reason=reason)
