"""What the person's consent keyword does (issue 12): to the suppression list, then to their thread.

- The list first, before and independent of matching a conversation (a STOP to a closed or unknown
  thread still counts, and START must work although STOP closed the thread): an opt-out suppresses
  (URL's company, the message's channel, the sender), an opt-in lifts a keyword opt-out. Both writes
  are idempotent, so a redelivered event changes nothing the second time.
- Then the thread the message was recorded on: an opt-out closes it ``suppressed`` with a versioned
  move from an idle status. A turn in flight is left to the turn: its own check of the list right
  before the send ends it ``suppressed``. When that check passed before the STOP was written, the
  turn's send goes out (the linearisation point) and the turn ends idle: the event is retried
  (SQS, with backoff) so the thread still closes once the turn has ended.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from shared.consent.keywords import ConsentKeyword
from shared.consent.suppressions import SuppressionReason
from shared.events.channel_metrics import ChannelCounts
from shared.events.envelope import ProviderEvent
from shared.events.outcome import DONE, EventOutcome
from shared.events.suppression_writes import EventSuppressions
from shared.log_masking import mask_address
from shared.models.conversation import ConversationRecord, ConversationStatus
from shared.processing import metric_names
from shared.processing.conversation_repository import ConversationRepository, key_of
from shared.processing.errors import RecordConflict
from shared.replies.inbound import InboundMessage

# Turns and other messages racing the close: each lost round means someone else wrote the record.
MAX_ATTEMPTS = 5


class InboundConsent:
    def __init__(
        self,
        *,
        suppressions: EventSuppressions,
        repository: ConversationRepository,
        logger: Any,
        metrics: Any,
        channel_counts: ChannelCounts | None = None,
    ):
        self.channel_counts = channel_counts or ChannelCounts()
        self.suppressions = suppressions
        self.repository = repository
        self.logger = logger
        self.metrics = metrics

    def apply_to_list(self, event: ProviderEvent, message: InboundMessage) -> None:
        keyword = message.consent_keyword
        if keyword is ConsentKeyword.OPT_OUT:
            reason = opt_out_reason(message)
            made = self.suppressions.suppress(
                event.company_id,
                message.channel,
                message.sender,
                reason=reason,
                source=f"{event.kind.value}:{message.reference}",
                project_id=event.project_id,
            )
            if made:
                self._count(metric_names.OPT_OUTS_RECORDED)
                self.channel_counts.opt_out(reason, message.channel)
            self.logger.info(
                "opt-out recorded" if made else "opt-out: already suppressed",
                extra={"suppression_reason": reason.value, "sender": mask_address(message.sender)},
            )
        elif keyword is ConsentKeyword.OPT_IN:
            lifted = self.suppressions.lift_keyword_opt_out(event.company_id, message.channel, message.sender)
            if lifted:
                self._count(metric_names.OPT_INS_RECORDED)
            self.logger.info(
                "opt-in: keyword opt-out lifted" if lifted else "opt-in: no keyword opt-out to lift",
                extra={"sender": mask_address(message.sender)},
            )

    def close(
        self, record: ConversationRecord, message: InboundMessage, *, now: str, last_receive: bool
    ) -> EventOutcome:
        """Close the thread the opt-out was recorded on (``suppressed``), unless a turn holds it."""
        token = f"inbound:{message.reference}"
        reason = opt_out_reason(message)
        current: ConversationRecord | None = record
        for _ in range(MAX_ATTEMPTS):
            if current is None or not current.conversation_status.is_open:
                return DONE  # closed already: by this event before, or by a turn's own check
            if current.conversation_status.turn_in_progress:
                return self._turn_holds_it(current, last_receive=last_receive)
            try:
                self.repository.transition(
                    current,
                    ConversationStatus.SUPPRESSED,
                    token=token,
                    now=now,
                    fields={"suppression_reason": reason.value},
                )
            except RecordConflict:
                current = self.repository.get(key_of(current))
                continue
            self.logger.info(
                "conversation closed: the person opted out", extra={"from_status": current.conversation_status.value}
            )
            return DONE
        raise RecordConflict("The conversation kept changing while it was being closed; retrying later")

    def _turn_holds_it(self, record: ConversationRecord, *, last_receive: bool) -> EventOutcome:
        extra = {"conversation_status": record.conversation_status.value}
        if last_receive:
            # The turn re-checks the list before its send; an idle thread left behind stays open
            # until the person's next message, whose turn finds the entry and ends it suppressed.
            self.logger.warning("opt-out recorded; a reply turn still holds the conversation", extra=extra)
            return DONE
        self.logger.info("opt-out recorded; closing once the reply turn in flight ends", extra=extra)
        return EventOutcome(retry=True, reason="a reply turn holds the conversation")

    def _count(self, name: str) -> None:
        self.metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)


def opt_out_reason(message: InboundMessage) -> SuppressionReason:
    """The person's own keyword, or Twilio's OptOutType alone (the tenant's keyword list)."""
    return SuppressionReason.PROVIDER_OPT_OUT if message.keyword_from_provider else SuppressionReason.STOP_KEYWORD
