"""The events processor's writes to the suppression list (issue 12): the person's STOP / START, and
what the providers report about an address (shared/consent/provider_signals.py).

The consent key is read on the first write a container needs, not at start: most events (delivery
statuses, ordinary replies) never touch the list. A key that cannot be read is a failure like a
table that cannot be written: the event comes back (SQS) and, after its receives, waits in the DLQ
for a redrive, so an opt-out is never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.channels import Channel
from shared.consent.address_hash import load_hasher
from shared.consent.suppressions import KEYWORD_REASONS, SuppressionList, SuppressionReason

# Who lifted an entry with START (``lifted_by``) and why (``lifted_reason``).
LIFTED_BY_PERSON = "person"
START_KEYWORD = "start_keyword"


@dataclass
class EventSuppressions:
    dynamodb: Any
    secrets: Any
    table_name: str
    consent_key_secret_id: str

    def __post_init__(self) -> None:
        self._list: SuppressionList | None = None

    def suppress(
        self,
        company_id: str,
        channel: Channel,
        address: str,
        *,
        reason: SuppressionReason,
        source: str,
        project_id: str,
    ) -> bool:
        """True when this call made the entry active (False: it was already)."""
        return self._suppressions().suppress(
            company_id, channel, address, reason=reason, source=source, project_id=project_id
        )

    def lift_keyword_opt_out(self, company_id: str, channel: Channel, address: str) -> bool:
        """The person's START: lifts their own keyword opt-out only, never a bounce, a spam report,
        an unsubscribe link or an operator's entry. True when this call lifted it."""
        return self._suppressions().lift(
            company_id,
            channel,
            address,
            reasons=KEYWORD_REASONS,
            lifted_reason=START_KEYWORD,
            lifted_by=LIFTED_BY_PERSON,
        )

    def _suppressions(self) -> SuppressionList:
        if self._list is None:
            hasher = load_hasher(self.secrets, self.consent_key_secret_id)
            self._list = SuppressionList(self.dynamodb, self.table_name, hasher)
        return self._list
