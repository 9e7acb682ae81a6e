"""Finds the open conversation an inbound message answers: by index queries and key reads, never a
scan, and only among the conversations of the tenant whose webhook URL the message came through.

- Phones: the reply index of the channel (the company number it reached + the person's number),
  narrowed to ids of the event's tenant (``{company_id}#{project_id}#…``), each read by key; the
  newest open one wins. Two projects with their own numbers each get their own replies.
- Email: the reply token in the recipients (``reply+<token>@…``), else in In-Reply-To/References,
  read through the ``reply-token-index``; else (a record older than the token, a client that
  dropped both) the company address + the person's address, as for phones.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shared.channels import Channel
from shared.models.conversation import ConversationRecord
from shared.processing.conversation_repository import ConversationKey
from shared.processing.dynamodb_items import from_item, store_error
from shared.processing.errors import RecordStoreUnavailable
from shared.replies.inbound import InboundMessage
from shared.replies.reply_address import token_in_addresses, token_in_message_ids
from shared.tables import EMAIL_REPLY_INDEX, REPLY_TOKEN_INDEX, SMS_REPLY_INDEX, WHATSAPP_REPLY_INDEX

# Each reply index: its name, the company-address key and the person's-address key.
_INDEXES = {
    Channel.WHATSAPP: (WHATSAPP_REPLY_INDEX, "gsi_company_whatsapp_number", "gsi_recipient_tel"),
    Channel.SMS: (SMS_REPLY_INDEX, "gsi_company_sms_number", "gsi_recipient_tel"),
    Channel.EMAIL: (EMAIL_REPLY_INDEX, "gsi_company_email", "gsi_recipient_email"),
}


@dataclass(frozen=True)
class Matched:
    record: ConversationRecord | None
    # Why nothing matched (stored with the unmatched message): no_open_conversation | no_recipient.
    reason: str | None = None
    how: str | None = None  # phone_index | reply_token | email_index


class ReplyMatcher:
    def __init__(self, client: Any, table_name: str):
        self._client = client
        self._table = table_name

    def match(self, message: InboundMessage, *, company_id: str, project_id: str) -> Matched:
        tenant = _Tenant(company_id, project_id)
        if message.channel.uses_phone_number:
            assert message.company_address is not None  # parse_inbound requires To on phones
            found = self._newest_open(
                self._by_pair(message.channel, message.company_address, message.sender), tenant, message.inbound_id
            )
            return Matched(found, how="phone_index") if found else Matched(None, reason="no_open_conversation")
        token = token_in_addresses(*message.recipients) or token_in_message_ids(message.in_reply_to, message.references)
        if token is not None:
            found = self._newest_open(self._by_token(token), tenant, message.inbound_id)
            if found is not None:
                return Matched(found, how="reply_token")
        if not message.recipients:
            return Matched(None, reason="no_recipient")
        keys: list[ConversationKey] = []
        for address in _spellings(message.recipients):
            keys += self._by_pair(Channel.EMAIL, address, message.sender)
        found = self._newest_open(keys, tenant, message.inbound_id)
        return Matched(found, how="email_index") if found else Matched(None, reason="no_open_conversation")

    def _by_pair(self, channel: Channel, company: str, person: str) -> list[ConversationKey]:
        index, company_key, person_key = _INDEXES[channel]
        condition = f"{company_key} = :company AND {person_key} = :person"
        return list(self._query(index, condition, {":company": {"S": company}, ":person": {"S": person}}))

    def _by_token(self, token: str) -> list[ConversationKey]:
        return list(self._query(REPLY_TOKEN_INDEX, "gsi_reply_token = :token", {":token": {"S": token}}))

    def _query(self, index: str, condition: str, values: dict[str, Any]) -> Iterator[ConversationKey]:
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": index,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
        }
        while True:
            try:
                page = self._client.query(**request)
            except ClientError as error:
                raise store_error(error, "matching the reply") from None
            except BotoCoreError as error:
                raise RecordStoreUnavailable(
                    f"DynamoDB unreachable matching the reply: {type(error).__name__}"
                ) from None
            for item in page.get("Items", []):
                keys = from_item(item)
                yield ConversationKey(keys["primary_channel"], keys["conversation_id"])
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _newest_open(
        self, keys: Iterable[ConversationKey], tenant: _Tenant, inbound_id: str
    ) -> ConversationRecord | None:
        """The newest open conversation; but a redelivered message goes back to the one that recorded
        it, even if that one has closed since (a STOP closes its thread: the redelivery is a duplicate)."""
        newest: ConversationRecord | None = None
        for key in dict.fromkeys(k for k in keys if k.conversation_id.startswith(tenant.prefix)):
            record = self._get(key)
            if record is None or not tenant.owns(record):
                continue
            if inbound_id in record.inbound_message_ids:
                return record
            if not record.conversation_status.is_open:
                continue
            if newest is None or record.created_at > newest.created_at:
                newest = record
        return newest

    def _get(self, key: ConversationKey) -> ConversationRecord | None:
        try:
            item = self._client.get_item(TableName=self._table, Key=key.item_key(), ConsistentRead=True).get("Item")
        except ClientError as error:
            raise store_error(error, "reading a matched record") from None
        except BotoCoreError as error:
            raise RecordStoreUnavailable(f"DynamoDB unreachable reading the record: {type(error).__name__}") from None
        return None if item is None else ConversationRecord.model_validate(from_item(item))


@dataclass(frozen=True)
class _Tenant:
    company_id: str
    project_id: str

    @property
    def prefix(self) -> str:
        return f"{self.company_id}#{self.project_id}#"

    def owns(self, record: ConversationRecord) -> bool:
        return (record.company_id, record.project_id) == (self.company_id, self.project_id)


def _spellings(addresses: Iterable[str]) -> list[str]:
    """Each recipient as written and lower-cased: a record holds the company address as validated
    (the domain lower-cased, the local part as configured). Reply-token addresses are skipped."""
    return list(dict.fromkeys(s for a in addresses if not token_in_addresses(a) for s in (a, a.lower())))
