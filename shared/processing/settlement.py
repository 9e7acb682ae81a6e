"""How a delivery that met a failure ends: the record's status, the SQS retry decision, the log and metric.

The failure is written with the delivery's own claim (the version it last read or wrote), so a
delivery that lost the race never overwrites the work of the one that won.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.models.conversation import ConversationStatus, may_move
from shared.processing import metric_names
from shared.processing.conversation_repository import Claim, ConversationKey
from shared.processing.errors import ProcessingFailure, RecordConflict, RecordStoreUnavailable

_S = ConversationStatus


@dataclass(frozen=True)
class RecordOutcome:
    retry: bool  # report the SQS record as a batch item failure
    status: ConversationStatus | None  # the record's status afterwards, when known
    reason: str | None = None
    dead_letter: bool = False  # move the message to the DLQ now: no delivery can ever process it
    retry_after_seconds: float | None = None  # retry no sooner than this (see ProcessingFailure)


def settle(
    claim: Claim,
    key: ConversationKey,
    failure: ProcessingFailure,
    *,
    now: str,
    logger: Any,
    count: Callable[[str], None],
) -> RecordOutcome:
    disposition = failure.disposition
    status = disposition.status
    if isinstance(failure, RecordConflict):
        return _another_delivery_moved_on(claim, key, failure.reason, logger)
    if status is not None:
        try:
            _record_failure(claim, status, failure.reason, now=now)
        except RecordConflict as conflict:
            logger.warning("failure not recorded: the record moved on", extra={"why": conflict.reason})
            return _another_delivery_moved_on(claim, key, failure.reason, logger)
        except RecordStoreUnavailable as unavailable:
            # Unrecorded, the failure must be met again by a redelivery rather than forgotten.
            logger.warning("failure not recorded; retrying", extra={"why": unavailable.reason})
            return RecordOutcome(retry=True, status=None, reason=failure.reason)
        if status is _S.SEND_UNCONFIRMED:
            count(metric_names.SEND_UNCONFIRMED)
    elif disposition.retry:
        claim.repository.note_error(key, failure.reason, now=now)
    extra = {"failure": type(failure).__name__, "reason": failure.reason, "status": status and status.value}
    if disposition.retry:
        logger.warning("transient failure; SQS will deliver the message again", extra=extra)
        count(metric_names.TRANSIENT_FAILURES)
    else:
        logger.error("permanent failure", extra=extra)
        count(metric_names.PERMANENT_FAILURES)
    return RecordOutcome(
        retry=disposition.retry, status=status, reason=failure.reason, retry_after_seconds=failure.retry_after_seconds
    )


def _another_delivery_moved_on(claim: Claim, key: ConversationKey, reason: str, logger: Any) -> RecordOutcome:
    """Another delivery wrote the record first. If it finished, this copy is done; if not, this copy
    comes back later: the other delivery may die before it ends, and when it held the same SQS
    message (a heartbeat that failed), deleting it now would leave nothing to resume the record."""
    try:
        current = claim.repository.get(key)
    except RecordStoreUnavailable:
        current = None
    if current is not None and current.conversation_status.is_final:
        logger.info("another delivery finished this conversation", extra={"status": current.conversation_status.value})
        return RecordOutcome(retry=False, status=current.conversation_status, reason=reason)
    logger.info("another delivery is working on this conversation; checking back later", extra={"why": reason})
    return RecordOutcome(retry=True, status=None, reason=reason)


def record_unexpected(claim: Claim, key: ConversationKey, reason: str, *, now: str) -> ConversationStatus | None:
    """``failed_unknown`` for an exception nobody named, only from ``processing`` or ``ai_generated``:
    a record in ``sending`` is left for the redelivery to reconcile, because the send may have happened.

    The caller knows only the queue body, so the claim is the record as read now.
    """
    claim.record = claim.repository.get(key)
    if claim.record is None or claim.record.conversation_status not in (_S.PROCESSING, _S.AI_GENERATED):
        return None
    _record_failure(claim, _S.FAILED_UNKNOWN, reason, now=now)
    return _S.FAILED_UNKNOWN


def _record_failure(claim: Claim, status: ConversationStatus, reason: str, *, now: str) -> None:
    if claim.record is None or not may_move(claim.record.conversation_status, status):
        current = claim.record.conversation_status.value if claim.record else "no record"
        raise RecordConflict(f"{status} cannot be recorded from {current}")
    claim.move(status, now=now, fields={"failure_reason": reason, "last_error": reason})
