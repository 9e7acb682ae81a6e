"""One change of a conversation record → its tenant events, logged and queued for the project's webhook."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from shared.models.conversation import ConversationRecord
from shared.models.tenant_events import WebhookEvent
from shared.processing.times import iso, parse_time
from shared.retention import expires_at
from shared.tenant_events.derivation import derive_events
from shared.tenant_events.event_log import WebhookEventLog
from shared.tenant_events.event_queue import WebhookQueue
from shared.tenant_events.project_webhooks import ProjectWebhooks
from shared.tenant_events.stream_records import RecordChange


@dataclass(frozen=True)
class Published:
    events: list[WebhookEvent]  # derived from the change (empty: nothing to tell)
    queued: bool  # the project has a webhook: every event was logged and sent to the queue
    newly_logged: int  # of them, logged by this call (the others were, by an earlier attempt)
    webhook_problem: str | None = None


class TenantEventPublisher:
    def __init__(
        self,
        *,
        webhooks: ProjectWebhooks,
        log: WebhookEventLog,
        queue: WebhookQueue,
        retention_days: int,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self._webhooks = webhooks
        self._log = log
        self._queue = queue
        self._retention_days = retention_days
        self._clock = clock

    def publish(self, change: RecordChange) -> Published:
        """Log then queue every event, in order. Each step is idempotent (a conditional put, the
        queue's deduplication by event id), so a change that failed half way is simply done again."""
        events = derive_events(change.old, change.new)
        if not events:
            return Published(events=[], queued=False, newly_logged=0)
        record = change.new
        assert record is not None  # a removal has no events
        presence = self._webhooks.presence(record.company_id, record.project_id)
        if not presence.configured:
            return Published(events=events, queued=False, newly_logged=0)
        logged = 0
        for event in events:
            logged += self._log.add(event, expires_at=self._expiry(event, record), logged_at=iso(self._clock()))
            self._queue.send(event)
        return Published(events=events, queued=True, newly_logged=logged, webhook_problem=presence.problem)

    def _expiry(self, event: WebhookEvent, record: ConversationRecord) -> int:
        """The conversation's retention: from the event (its latest activity so far), never
        shorter than the record's own ``expires_at``."""
        happened = parse_time(event.timestamp) or self._clock()
        return expires_at(happened, self._retention_days, kept_until=record.expires_at)
