"""A person's conversations and personal data erased, for a person who asks (issue 12;
``comms people erase``). A plan is found first (a dry run shows it, addresses masked). What goes,
for that address (a phone covers its SMS and WhatsApp conversations):

- every conversation record holding it: keyed by it (the table's partition is the address), or
  keyed by the person's other address and holding this one (a record keeps the request's
  ``recipient_tel`` and ``recipient_email`` both);
- every provider-messages item of those conversations (the first send and every reply), the
  message items still naming the address whose record is gone, and the ``unmatched#…`` items
  (inbound messages no conversation took, stray status events) whose payload mentions it;
- the pending wake-up schedule of each of those conversations (a held first message).

It keeps the suppression entries: they hold only the keyed hash of the address and are the proof
that the person opted out. The request-id reservations of the rate-limits table are kept too: they
hold no address (a SHA-256 fingerprint of the whole request, gone within a day), and deleting one
would let a client's retry of that request queue a message to the person again.

Finding the records and the unmatched items takes one filtered Scan of the conversations and the
provider-messages tables: an operator's rare command, never a path of the engine. Deletions run in
an order a failed run can simply be repeated in: schedules, then items, then the records that name
them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from shared.channels import Channel
from shared.consent.address_hash import normalise_address
from shared.consent.wakeup_names import schedule_group_name, schedule_name
from shared.events.envelope import Provider
from shared.events.provider_messages import UNMATCHED, message_key
from shared.log_masking import mask_address
from shared.processing.dynamodb_items import from_item, to_item
from shared.tables import CONVERSATIONS, PROVIDER_MESSAGES, WEBHOOK_EVENTS
from stacks.names import physical_name
from tools.comms.arguments import parse_address


@dataclass(frozen=True)
class Person:
    address: str  # normalised: E.164, or the email in lower case

    @classmethod
    def parse(cls, raw: str) -> Person:
        """Validated as the API and ``comms suppressions`` do; the error never repeats the address."""
        return cls(normalise_address(parse_address(Channel.EMAIL if "@" in raw else Channel.SMS, raw)))

    @property
    def masked(self) -> str:
        return mask_address(self.address) or "?"

    def mentioned_in(self, text: str) -> bool:
        """Whether ``text`` holds the address in any spelling: ``+44…``, ``44…``, ``whatsapp:+44…``,
        ``%2B44…``, or the email in any case (also with ``@`` percent-encoded)."""
        if "@" in self.address:
            local, domain = (re.escape(part) for part in self.address.split("@", 1))
            # Not a part of a longer address (x.alex@…, …@example.com.au).
            return re.search(rf"(?<![\w.%+'-]){local}(@|%40){domain}(?![\w-]|\.\w)", text, re.IGNORECASE) is not None
        return re.search(rf"(?<!\d){re.escape(self.address[1:])}(?!\d)", text) is not None


@dataclass
class Conversation:
    primary_channel: str
    conversation_id: str
    company_id: str
    project_id: str
    channel: str
    status: str
    provider_message_keys: list[str] = field(default_factory=list)
    # The sort keys of its tenant events (issue 13): their payloads hold the thread's text.
    webhook_event_keys: list[str] = field(default_factory=list)

    def shown(self) -> dict[str, Any]:
        """As the summary prints it: the address the record is keyed by, masked."""
        return {
            "company_id": self.company_id,
            "project_id": self.project_id,
            "channel": self.channel,
            "status": self.status,
            "conversation_id": self.conversation_id,
            "keyed_by": mask_address(self.primary_channel),
        }


@dataclass
class Plan:
    """What the erasure takes away (found before anything is deleted)."""

    conversations: list[Conversation]
    # Items found by the Scan: unmatched items mentioning the address, message items naming it.
    unmatched_keys: list[str]
    orphan_message_keys: list[str]


@dataclass
class Summary:
    address: str  # masked
    erased: bool  # False: a dry run
    conversations: list[dict[str, Any]]
    provider_messages: int
    unmatched_items: int
    webhook_events: int
    schedules_cancelled: int
    kept: str = "suppression entries (a keyed hash of the address, no readable address)"


class Erasure:
    def __init__(self, dynamodb: Any, scheduler: Any, *, env: str):
        self._dynamodb = dynamodb
        self._scheduler = scheduler
        self._env = env
        self._conversations = physical_name(CONVERSATIONS.logical_name, env)
        self._messages = physical_name(PROVIDER_MESSAGES.logical_name, env)
        self._events = physical_name(WEBHOOK_EVENTS.logical_name, env)

    def plan(self, person: Person, *, company_id: str | None = None) -> Plan:
        conversations = [
            self._with_own_items(_conversation(record))
            for record in self._scan(
                self._conversations,
                "(primary_channel = :address OR recipient_tel = :address OR recipient_email = :address)",
                {":address": person.address},
                company_id,
            )
        ]
        unmatched, orphans = [], []
        own = {key for conversation in conversations for key in conversation.provider_message_keys}
        for item in self._scan(
            self._messages,
            "(begins_with(provider_message_key, :unmatched) OR primary_channel = :address)",
            {":unmatched": f"{UNMATCHED}#", ":address": person.address},
            company_id,
        ):
            key = item["provider_message_key"]
            if item.get("item_type") == UNMATCHED:
                if any(isinstance(value, str) and person.mentioned_in(value) for value in item.values()):
                    unmatched.append(key)
            elif key not in own:
                orphans.append(key)
        return Plan(conversations, unmatched, orphans)

    def erase(self, plan: Plan) -> int:
        """Delete what ``plan`` found; returns how many pending wake-ups were cancelled."""
        cancelled = sum(self._cancel_wakeup(c.conversation_id) for c in plan.conversations)
        for conversation in plan.conversations:
            for key in conversation.provider_message_keys:
                self._delete_item_of(key, conversation.conversation_id)
            for event_key in conversation.webhook_event_keys:
                self._dynamodb.delete_item(
                    TableName=self._events,
                    Key={"conversation_id": {"S": conversation.conversation_id}, "event_key": {"S": event_key}},
                )
        for key in plan.unmatched_keys + plan.orphan_message_keys:
            self._dynamodb.delete_item(TableName=self._messages, Key={"provider_message_key": {"S": key}})
        for conversation in plan.conversations:
            self._dynamodb.delete_item(
                TableName=self._conversations,
                Key={
                    "primary_channel": {"S": conversation.primary_channel},
                    "conversation_id": {"S": conversation.conversation_id},
                },
            )
        return cancelled

    def _with_own_items(self, conversation: Conversation) -> Conversation:
        """Keep the keys whose item exists and belongs to the conversation: an id the person chose
        (an inbound email's Message-ID) must not take another conversation's item with it."""
        own = []
        for key in conversation.provider_message_keys:
            item = self._dynamodb.get_item(
                TableName=self._messages, Key={"provider_message_key": {"S": key}}, ConsistentRead=True
            ).get("Item")
            if item is not None and from_item(item).get("conversation_id") == conversation.conversation_id:
                own.append(key)
        conversation.provider_message_keys = own
        conversation.webhook_event_keys = self._event_keys(conversation.conversation_id)
        return conversation

    def _event_keys(self, conversation_id: str) -> list[str]:
        request: dict[str, Any] = {
            "TableName": self._events,
            "KeyConditionExpression": "conversation_id = :conversation",
            "ExpressionAttributeValues": {":conversation": {"S": conversation_id}},
            "ProjectionExpression": "event_key",
            "ConsistentRead": True,
        }
        keys: list[str] = []
        while True:
            page = self._dynamodb.query(**request)
            keys += [item["event_key"]["S"] for item in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return keys
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _delete_item_of(self, key: str, conversation_id: str) -> None:
        try:
            self._dynamodb.delete_item(
                TableName=self._messages,
                Key={"provider_message_key": {"S": key}},
                ConditionExpression="conversation_id = :conversation",
                ExpressionAttributeValues={":conversation": {"S": conversation_id}},
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise  # else gone since the plan: nothing to delete

    def _cancel_wakeup(self, conversation_id: str) -> int:
        try:
            self._scheduler.delete_schedule(
                Name=schedule_name(conversation_id), GroupName=schedule_group_name(self._env)
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ResourceNotFoundException":
                return 0  # nothing held, or the group was never created
            raise
        return 1

    def _scan(
        self, table: str, condition: str, values: dict[str, Any], company_id: str | None
    ) -> Iterator[dict[str, Any]]:
        if company_id is not None:
            condition += " AND company_id = :company"
            values = {**values, ":company": company_id}
        request: dict[str, Any] = {
            "TableName": table,
            "FilterExpression": condition,
            "ExpressionAttributeValues": to_item(values),
            "ConsistentRead": True,
        }
        while True:
            page = self._dynamodb.scan(**request)
            for item in page.get("Items", []):
                yield from_item(item)
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _conversation(record: dict[str, Any]) -> Conversation:
    provider = Provider.SENDGRID if record.get("channel_method") == Channel.EMAIL.value else Provider.TWILIO
    ids = [record.get("provider_message_id"), *(m.get("message_id") for m in record.get("messages", []))]
    return Conversation(
        primary_channel=record["primary_channel"],
        conversation_id=record["conversation_id"],
        company_id=record.get("company_id", ""),
        project_id=record.get("project_id", ""),
        channel=record.get("channel_method", ""),
        status=record.get("conversation_status", ""),
        provider_message_keys=sorted({message_key(provider.value, i) for i in ids if i}),
    )


def run(erasure: Erasure, person: Person, *, company_id: str | None, act: bool) -> Summary:
    plan = erasure.plan(person, company_id=company_id)
    cancelled = erasure.erase(plan) if act else 0
    return Summary(
        address=person.masked,
        erased=act,
        conversations=[conversation.shown() for conversation in plan.conversations],
        provider_messages=sum(len(c.provider_message_keys) for c in plan.conversations) + len(plan.orphan_message_keys),
        unmatched_items=len(plan.unmatched_keys),
        webhook_events=sum(len(c.webhook_event_keys) for c in plan.conversations),
        schedules_cancelled=cancelled,
    )
