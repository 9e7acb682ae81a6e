"""Applies one verified provider event: first to its message's item, then to the conversation record.

1. Parse the queue body and the provider's payload into a ``StatusUpdate`` (malformed: the DLQ, at once).
   The person's own messages (inbound kinds) go to ``shared.replies.inbound_applier`` instead.
2. An event that says the address must not be contacted again (a Twilio opt-out or invalid-number
   error, a SendGrid bounce, drop, unsubscribe or spam report: ``address_signal``) suppresses it for
   the URL's company first, whether or not the event matches a message (issue 12).
3. Apply it to the message's item in one conditional write (``ProviderMessages.apply``): only a
   message of the event's tenant, only once, only forward.
4. A message not known yet may be one whose send is being recorded right now: retry later, and on
   the last receive keep the event as unmatched. Another tenant's message: unmatched at once.
5. Mirror the item's state on the record, also when the event was a duplicate, so a crash between
   the two writes heals on redelivery. A record that does not name the message yet (its send is
   being recorded) is retried; the send copies the item's state when it records itself anyway.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from shared.events.address_signals import AddressSignal, address_signal
from shared.events.channel_metrics import ChannelCounts
from shared.events.delivery_state import DeliveryState
from shared.events.envelope import ProviderEvent
from shared.events.outcome import DONE, EventOutcome, iso
from shared.events.provider_messages import Match, ProviderMessages
from shared.events.settings import EventsSettings
from shared.events.status_updates import MalformedEvent, StatusUpdate, UpdateKind, parse_update
from shared.events.suppression_writes import EventSuppressions
from shared.log_masking import mask_address
from shared.processing import metric_names
from shared.processing.conversation_repository import ConversationKey, ConversationRepository, DeliveryWrite
from shared.processing.errors import ProcessingFailure
from shared.replies.inbound_applier import InboundApplier


class EventApplier:
    def __init__(
        self,
        *,
        messages: ProviderMessages,
        conversations: ConversationRepository,
        suppressions: EventSuppressions,
        settings: EventsSettings,
        logger: Any,
        metrics: Any,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        inbound: InboundApplier | None = None,
        channel_counts: ChannelCounts | None = None,
    ):
        self.messages = messages
        self.channel_counts = channel_counts or ChannelCounts()
        self.conversations = conversations
        self.suppressions = suppressions
        self.settings = settings
        self.logger = logger
        self.metrics = metrics
        self.clock = clock
        self.inbound = inbound

    def handle(self, body: str, *, receive_count: int) -> EventOutcome:
        try:
            event = ProviderEvent.from_body(body)
            update = None if event.kind.is_inbound else parse_update(event)
        except ValueError as error:  # MalformedEvent and pydantic's ValidationError are ValueErrors
            reason = str(error) if isinstance(error, MalformedEvent) else "the body is not a provider event"
            self.logger.error("malformed event moved to the DLQ", extra={"reason": reason})
            self._count(metric_names.MALFORMED_MESSAGES)
            return EventOutcome(dead_letter=True, reason=reason)
        if update is None:  # the person's message: recorded on its conversation, then answered
            if self.inbound is None:
                raise RuntimeError("This events applier was built without an inbound applier")
            return self.inbound.handle(event, receive_count=receive_count)
        self.logger.thread_safe_append_keys(
            provider=update.provider.value,
            provider_message_id=update.provider_message_id,
            event=update.status,
            company_id=event.company_id,
            project_id=event.project_id,
            correlation_id=event.correlation_id,
        )
        try:
            return self._apply(event, update, last_receive=receive_count >= self.settings.max_receive_count)
        except ProcessingFailure as failure:  # DynamoDB throttled or unreachable: SQS brings it back
            self.logger.warning("event not applied; retrying", extra={"why": failure.reason})
            return EventOutcome(retry=True, reason=failure.reason)

    def _apply(self, event: ProviderEvent, update: StatusUpdate, *, last_receive: bool) -> EventOutcome:
        signal = address_signal(event, update)
        if signal is not None:
            self._suppress(event, signal)
        if update.provider_message_id is None:
            return self._unmatched(event, update, "no_message_id")
        at = update.occurred_at or iso(event.received_at)
        applied = self.messages.apply(update, company_id=event.company_id, project_id=event.project_id, at=at)
        if applied.match is Match.MISSING:
            if not last_receive:
                self.logger.info("no message has this id yet; checking back later")
                return EventOutcome(retry=True, reason="unknown message")
            return self._unmatched(event, update, "unknown_message")
        if applied.match in (Match.OTHER_TENANT, Match.OTHER_CONVERSATION):
            return self._unmatched(event, update, applied.match.value)
        if applied.match is Match.APPLIED:
            self._count(metric_names.PROVIDER_EVENTS_APPLIED)
            assert applied.item is not None
            if update.kind is UpdateKind.DELIVERY:
                self.channel_counts.delivery(update.status, applied.item["channel"])
            self.logger.info("event applied to the message")
        else:
            self._count(metric_names.PROVIDER_EVENTS_IGNORED)
            self.logger.info("duplicate or stale event: the message is unchanged")
        if update.kind is UpdateKind.OTHER:
            return DONE
        assert applied.item is not None
        return self._mirror_on_record(applied.item, update, last_receive=last_receive)

    def _mirror_on_record(self, item: dict[str, Any], update: StatusUpdate, *, last_receive: bool) -> EventOutcome:
        written = self.conversations.record_delivery(
            ConversationKey(item["primary_channel"], item["conversation_id"]),
            company_id=item["company_id"],
            project_id=item["project_id"],
            provider_message_id=item["provider_message_id"],
            state=DeliveryState.of(item),
            engagement=update.kind is UpdateKind.ENGAGEMENT,
        )
        self.logger.info("record checked", extra={"conversation_id": item["conversation_id"], "record": written.value})
        if written is DeliveryWrite.PENDING and not last_receive:
            return EventOutcome(retry=True, reason="the record does not name the message yet")
        if written is DeliveryWrite.PENDING:
            # Its send copies the item's state when it records itself; nothing is lost.
            self.logger.warning("the record never named the message; the message's item holds its status")
        return DONE

    def _suppress(self, event: ProviderEvent, signal: AddressSignal) -> None:
        """Written on every receive of the event (a repeat is a no-op): the list never depends on
        the rest of the event applying."""
        extra = {"suppression_reason": signal.reason.value, "suppression_source": signal.source}
        if signal.address is None:
            self.logger.warning("the event names no address to suppress", extra=extra)
            return
        made = self.suppressions.suppress(
            event.company_id,
            signal.channel,
            signal.address,
            reason=signal.reason,
            source=signal.source,
            project_id=event.project_id,
        )
        if made:
            self._count(metric_names.PROVIDER_SUPPRESSIONS_RECORDED)
            self.channel_counts.opt_out(signal.reason, signal.channel)
        self.logger.info(
            "address suppressed" if made else "address already suppressed",
            extra=extra | {"suppressed_channel": signal.channel.value, "recipient": mask_address(signal.address)},
        )

    def _unmatched(self, event: ProviderEvent, update: StatusUpdate, reason: str) -> EventOutcome:
        key = self.messages.keep_unmatched(update, event, reason=reason, now=self.clock())
        self._count(metric_names.PROVIDER_EVENTS_UNMATCHED)
        self.logger.warning(
            "event matched no message of its tenant; kept for inspection",
            extra={"reason": reason, "unmatched_key": key, "recipient": mask_address(_recipient(event))},
        )
        return DONE

    def _count(self, name: str) -> None:
        self.metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)


def _recipient(event: ProviderEvent) -> str | None:
    value = event.payload.get("To") or event.payload.get("email")
    if not isinstance(value, str):
        return None
    return value.rpartition(":")[2]  # whatsapp:+44… → +44…
