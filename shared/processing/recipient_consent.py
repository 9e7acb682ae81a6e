"""The suppression list as the channel processors use it (issue 12, docs/decisions.md "Consent (issue 12)").

The processors read the list before the AI call and right before every provider call, and write
to it when Twilio refuses a send for a reason about the person's address (21610, 21211…). The
consent key is read once per container (``load_hasher``), at the first check rather than at the
container's start, so a Secrets Manager blip is one retried message, not a failed cold start.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.consent.address_hash import load_hasher
from shared.consent.provider_signals import twilio_error_reason
from shared.consent.suppressions import SuppressionEntry, SuppressionList, SuppressionReason
from shared.models.conversation import ConversationRecord
from shared.processing.errors import ProviderRejected


@dataclass(frozen=True)
class RecipientConsent:
    dynamodb: Any  # boto3 DynamoDB client
    table_name: str
    secrets: Any  # boto3 Secrets Manager client (the consent key)
    key_secret_id: str

    def suppressions(self) -> SuppressionList:
        return SuppressionList(self.dynamodb, self.table_name, load_hasher(self.secrets, self.key_secret_id))

    def active_entry(self, record: ConversationRecord) -> SuppressionEntry | None:
        """The record's recipient's active entry on the record's channel for its company, or None.

        Raises ``RecordStoreUnavailable`` / ``SecretsUnavailable`` (transient): never send unchecked.
        """
        entry = self.suppressions().entry(record.company_id, record.channel_method, recipient_of(record))
        return entry if entry is not None and entry.is_active else None

    def suppress_refused(self, record: ConversationRecord, provider: str, refusal: ProviderRejected) -> bool:
        """Suppress the recipient when the provider's refusal is about their address; True when it was."""
        signal = refusal_signal(provider, refusal)
        if signal is None:
            return False
        reason, source = signal
        self.suppressions().suppress(
            record.company_id,
            record.channel_method,
            recipient_of(record),
            reason=reason,
            source=source,
            project_id=record.project_id,
        )
        return True


def recipient_of(record: ConversationRecord) -> str:
    address = record.recipient_tel if record.channel_method.uses_phone_number else record.recipient_email
    if not address:
        raise ValueError(f"the {record.channel_method} record has no recipient address")
    return address


def refusal_signal(provider: str, refusal: ProviderRejected) -> tuple[SuppressionReason, str] | None:
    """(reason, source) when a send refusal means "do not contact this address again". SendGrid's
    send API says nothing about the address (its events do, in the events processor)."""
    if provider != "twilio":
        return None
    reason = twilio_error_reason(refusal.provider_code)
    return None if reason is None else (reason, f"twilio_error:{refusal.provider_code}")
