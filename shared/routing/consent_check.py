"""Step 3b of the router: may this company contact the recipient on this channel? (issue 12)

One consistent GetItem on the suppression list, keyed by the recipient's keyed hash. An active
entry is a 409 ``RECIPIENT_OPTED_OUT`` whose message never names the address. When the list or its
key cannot be read the router fails closed (503 ``CONSENT_CHECK_UNAVAILABLE``): nothing is queued
for a person whose consent the engine could not check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from shared.api_errors import ConsentCheckUnavailable, RecipientOptedOut
from shared.channels import Channel
from shared.consent.address_hash import load_hasher
from shared.consent.suppressions import SuppressionList
from shared.processing.errors import CredentialsMissing, RecordStoreUnavailable, SecretsUnavailable


@dataclass
class ConsentCheck:
    dynamodb: Any
    table_name: str
    secrets: Any
    consent_key_secret_id: str

    def require_not_suppressed(self, company_id: str, channel: Channel, address: str) -> None:
        try:
            # The hasher is cached per container by load_hasher: one secret read per cold start.
            hasher = load_hasher(self.secrets, self.consent_key_secret_id)
            entry = SuppressionList(self.dynamodb, self.table_name, hasher).entry(company_id, channel, address)
        except (SecretsUnavailable, CredentialsMissing, RecordStoreUnavailable, ClientError) as error:
            raise ConsentCheckUnavailable(
                "The recipient's consent could not be checked; nothing was queued; retry later"
            ) from error
        if entry is not None and entry.is_active:
            raise RecipientOptedOut(
                f"The recipient has opted out of {Channel(channel).value} messages from this company"
            )
