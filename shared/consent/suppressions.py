"""The suppression list (issue 12): may company C contact address A on channel X? One GetItem.

Table ``ai-multi-comms-suppressions-<env>`` (``shared.tables.SUPPRESSIONS``): PK ``company_id``,
SK ``<channel>#<keyed hash of the address>`` (``shared.consent.address_hash``). An entry is never
deleted by the engine: lifting it (START, an operator) keeps it with ``state = lifted`` and why,
so the list is also the consent history. An erased person's entry stays (issue 12, item 5).

Writes are single conditional requests:
- ``suppress``: becomes ``active`` unless already active (the first reason stays; a repeat is a
  no-op answered ``False``);
- ``lift``: only an ``active`` entry whose reason is in ``reasons`` (START lifts a keyword opt-out,
  never a hard bounce or an operator's entry).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict

from shared.channels import Channel
from shared.consent.address_hash import AddressHasher, normalise_address
from shared.log_masking import mask_address
from shared.processing.dynamodb_items import CONDITION_FAILED, error_code, store_error
from shared.processing.errors import RecordStoreUnavailable


class SuppressionReason(StrEnum):
    STOP_KEYWORD = "stop_keyword"  # the person wrote STOP (or another opt-out keyword)
    PROVIDER_OPT_OUT = "provider_opt_out"  # Twilio said so: OptOutType=STOP, error 21610 / 63014
    UNSUBSCRIBE_LINK = "unsubscribe_link"  # the email's one-click unsubscribe (RFC 8058)
    HARD_BOUNCE = "hard_bounce"  # the address does not exist: SendGrid bounce/dropped, Twilio 21211…
    SPAM_REPORT = "spam_report"  # SendGrid spamreport
    OPERATOR = "operator"  # an operator added it (comms suppressions add)


# What the person's START / UNSTOP (or Twilio's OptOutType=START) may lift.
KEYWORD_REASONS: frozenset[SuppressionReason] = frozenset(
    {SuppressionReason.STOP_KEYWORD, SuppressionReason.PROVIDER_OPT_OUT}
)
ACTIVE = "active"
LIFTED = "lifted"
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")  # AddressHasher.digest


class SuppressionEntry(BaseModel):
    model_config = ConfigDict(extra="ignore")

    company_id: str
    suppression_key: str  # <channel>#<address hash>
    channel: Channel
    state: str  # active | lifted
    reason: SuppressionReason
    # Where it came from, without personal data: ``twilio_inbound:<MessageSid>``,
    # ``sendgrid_event:<sg_event_id>``, ``twilio_error:21610``, ``unsubscribe_link``, ``operator:<who>``.
    source: str
    suppressed_at: str
    project_id: str | None = None  # the project whose traffic brought it, when one did
    address_hint: str | None = None  # the masked address (``+44*******23``), for operators' lists
    lifted_at: str | None = None
    lifted_reason: str | None = None  # the keyword (``start_keyword``) or the operator's words
    lifted_by: str | None = None

    @property
    def is_active(self) -> bool:
        return self.state == ACTIVE


def suppression_key(channel: Channel, address_hash: str) -> str:
    return f"{Channel(channel).value}#{address_hash}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class SuppressionList:
    """The suppression table through one boto3 DynamoDB *client* (not resource)."""

    dynamodb: Any
    table_name: str
    hasher: AddressHasher

    def key(self, company_id: str, channel: Channel, address: str) -> dict[str, Any]:
        return {
            "company_id": {"S": company_id},
            "suppression_key": {"S": suppression_key(channel, self.hasher.digest(address))},
        }

    def entry(self, company_id: str, channel: Channel, address: str) -> SuppressionEntry | None:
        """The entry (active or lifted), read consistently; None when there is none."""
        try:
            answer = self.dynamodb.get_item(
                TableName=self.table_name, Key=self.key(company_id, channel, address), ConsistentRead=True
            )
        except ClientError as error:
            raise store_error(error, "reading the suppression list") from None
        except BotoCoreError as error:
            raise _unavailable("reading", error) from None
        item = answer.get("Item")
        return None if item is None else SuppressionEntry.model_validate(_plain(item))

    def is_suppressed(self, company_id: str, channel: Channel, address: str) -> bool:
        entry = self.entry(company_id, channel, address)
        return entry is not None and entry.is_active

    def suppress(
        self,
        company_id: str,
        channel: Channel,
        address: str,
        *,
        reason: SuppressionReason,
        source: str,
        project_id: str | None = None,
        at: str | None = None,
    ) -> bool:
        """Make the entry active; True when this call did (False: it was active already)."""
        return self._suppress(
            self.key(company_id, channel, address),
            channel,
            # Masked after normalising: ``whatsapp:+44…`` would otherwise lose its country code.
            hint=mask_address(normalise_address(address)) or "",
            reason=reason,
            source=source,
            project_id=project_id,
            at=at,
        )

    def suppress_hashed(
        self,
        company_id: str,
        channel: Channel,
        address_hash: str,
        *,
        reason: SuppressionReason,
        source: str,
        project_id: str | None = None,
        at: str | None = None,
    ) -> bool:
        """``suppress`` for a caller that holds only the address's keyed hash (the one-click
        unsubscribe's token): the same entry, without an ``address_hint`` of its own (an earlier
        entry's hint stays)."""
        if not _HEX_DIGEST.fullmatch(address_hash):
            raise ValueError("address_hash is not a hex HMAC-SHA256 digest")
        key = {
            "company_id": {"S": company_id},
            "suppression_key": {"S": suppression_key(channel, address_hash)},
        }
        return self._suppress(key, channel, hint=None, reason=reason, source=source, project_id=project_id, at=at)

    def _suppress(
        self,
        key: dict[str, Any],
        channel: Channel,
        *,
        hint: str | None,
        reason: SuppressionReason,
        source: str,
        project_id: str | None,
        at: str | None,
    ) -> bool:
        values: dict[str, Any] = {
            ":channel": {"S": Channel(channel).value},
            ":active": {"S": ACTIVE},
            ":reason": {"S": SuppressionReason(reason).value},
            ":source": {"S": source},
            ":at": {"S": at or _now()},
        }
        sets = [
            "channel = :channel",
            "#state = :active",
            "reason = :reason",
            "#source = :source",
            "suppressed_at = :at",
        ]
        if hint is not None:
            values[":hint"] = {"S": hint}
            sets.append("address_hint = :hint")
        if project_id is not None:
            values[":project"] = {"S": project_id}
            sets.append("project_id = :project")
        return self._update_if(
            key,
            update="SET " + ", ".join(sets) + " REMOVE lifted_at, lifted_reason, lifted_by",
            condition="attribute_not_exists(#state) OR #state <> :active",
            names={"#state": "state", "#source": "source"},
            values=values,
        )

    def lift(
        self,
        company_id: str,
        channel: Channel,
        address: str,
        *,
        reasons: frozenset[SuppressionReason] | None,
        lifted_reason: str,
        lifted_by: str,
        at: str | None = None,
    ) -> bool:
        """Lift an active entry whose reason is in ``reasons`` (None: any reason, operators only);
        True when this call did."""
        values: dict[str, Any] = {
            ":active": {"S": ACTIVE},
            ":lifted": {"S": LIFTED},
            ":at": {"S": at or _now()},
            ":why": {"S": lifted_reason},
            ":by": {"S": lifted_by},
        }
        condition = "#state = :active"
        if reasons is not None:
            names = sorted(SuppressionReason(reason).value for reason in reasons)
            placeholders = [f":r{index}" for index in range(len(names))]
            values |= {placeholder: {"S": name} for placeholder, name in zip(placeholders, names, strict=True)}
            condition += f" AND reason IN ({', '.join(placeholders)})"
        return self._update_if(
            self.key(company_id, channel, address),
            update="SET #state = :lifted, lifted_at = :at, lifted_reason = :why, lifted_by = :by",
            condition=condition,
            names={"#state": "state"},
            values=values,
        )

    def _update_if(
        self, key: dict[str, Any], *, update: str, condition: str, names: dict[str, str], values: dict[str, Any]
    ) -> bool:
        """One conditional UpdateItem; False when the condition did not hold (nothing written)."""
        try:
            self.dynamodb.update_item(
                TableName=self.table_name,
                Key=key,
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as error:
            if error_code(error) == CONDITION_FAILED:
                return False
            raise store_error(error, "writing the suppression list") from None
        except BotoCoreError as error:
            raise _unavailable("writing", error) from None
        return True

    def entries(self, company_id: str) -> list[SuppressionEntry]:
        """Every entry of a company (operators' list; addresses only as ``address_hint``)."""
        found: list[SuppressionEntry] = []
        paginator = self.dynamodb.get_paginator("query")
        pages = paginator.paginate(
            TableName=self.table_name,
            KeyConditionExpression="company_id = :company",
            ExpressionAttributeValues={":company": {"S": company_id}},
        )
        try:
            for page in pages:
                found.extend(SuppressionEntry.model_validate(_plain(item)) for item in page.get("Items", []))
        except ClientError as error:
            raise store_error(error, "reading the suppression list") from None
        except BotoCoreError as error:
            raise _unavailable("reading", error) from None
        return found


def _unavailable(doing: str, error: BotoCoreError) -> RecordStoreUnavailable:
    return RecordStoreUnavailable(f"DynamoDB failed {doing} the suppression list: {type(error).__name__}")


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    return {name: next(iter(value.values())) for name, value in item.items()}
