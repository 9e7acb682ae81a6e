"""Keys and indexes of the engine's DynamoDB tables, defined once.

The CDK DataStack builds the tables from these specs, the local stack creates them in the emulator
from the same specs, and the repositories query the indexes by these names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

AttributeType = Literal["S", "N"]
Projection = Literal["ALL", "KEYS_ONLY", "INCLUDE"]


@dataclass(frozen=True)
class Key:
    name: str
    type: AttributeType = "S"


@dataclass(frozen=True)
class IndexSpec:
    name: str
    partition_key: Key
    sort_key: Key | None
    projection: Projection = "KEYS_ONLY"
    non_key_attributes: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableSpec:
    logical_name: str  # the <thing> of ai-multi-comms-<thing>-<env>
    partition_key: Key
    sort_key: Key | None = None
    global_indexes: tuple[IndexSpec, ...] = ()
    local_indexes: tuple[IndexSpec, ...] = ()
    time_to_live_attribute: str | None = None
    # Point-in-time recovery / deletion protection follow the environment unless a table opts out.
    environment_protected: bool = True
    # A DynamoDB stream of every change (issue 13: the tenant events are derived from the
    # conversations table's changes): None, or "NEW_AND_OLD_IMAGES".
    stream_view: Literal["NEW_AND_OLD_IMAGES"] | None = None

    def key_attributes(self) -> dict[str, AttributeType]:
        """Every attribute a key schema of the table or of one of its indexes names."""
        keys: dict[str, AttributeType] = {}
        indexes: tuple[TableSpec | IndexSpec, ...] = (self, *self.global_indexes, *self.local_indexes)
        for index in indexes:
            for key in (index.partition_key, index.sort_key):
                if key is not None:
                    keys[key.name] = key.type
        return keys


COMPANY_DATA = TableSpec(
    logical_name="company-data",
    partition_key=Key("company_id"),
    sort_key=Key("project_id"),
)

PRIMARY_CHANNEL = Key("primary_channel")

# Issue 13, the tenant's read API (shared/reading/).
CONVERSATION_ID_INDEX = "conversation-id-index"
PROJECT_CREATED_AT_INDEX = "project-created-at-index"
# What a listing row shows (shared/models/tenant_api.py ``ConversationSummary``), projected into
# the listing index so a page is one Query.
LISTING_ATTRIBUTES: tuple[str, ...] = (
    "company_id",
    "project_id",
    "request_id",
    "channel_method",
    "conversation_status",
    "delivery_status",
    "task_complete",
    "updated_at",
    "scheduled_for",
)

# Conversation records carry the whole message history, so an ALL projection would copy the
# largest attribute into every index. Indexes project keys only (readers fetch the item by key),
# except the per-project listing, which carries the few fields an operator's list shows.
CONVERSATIONS = TableSpec(
    logical_name="conversations",
    partition_key=PRIMARY_CHANNEL,
    sort_key=Key("conversation_id"),
    global_indexes=(
        IndexSpec(
            "company-id-project-id-index",
            Key("company_id"),
            Key("project_id"),
            projection="INCLUDE",
            non_key_attributes=("conversation_status", "channel_method", "created_at", "updated_at"),
        ),
        IndexSpec(
            "company-whatsapp-number-recipient-tel-index",
            Key("gsi_company_whatsapp_number"),
            Key("gsi_recipient_tel"),
        ),
        IndexSpec(
            "company-sms-number-recipient-tel-index",
            Key("gsi_company_sms_number"),
            Key("gsi_recipient_tel"),
        ),
        IndexSpec(
            "company-email-recipient-email-index",
            Key("gsi_company_email"),
            Key("gsi_recipient_email"),
        ),
        # Email replies (issue 11): the token of the reply-to address an email carried names its
        # conversation. Sparse (email records only), keys only: the matcher reads the record by key.
        IndexSpec("reply-token-index", Key("gsi_reply_token"), None),
        # The tenant's read API (issue 13). GET /conversations/{id}: the id does not hold the
        # table's partition key (the recipient's address), so this index finds the key.
        IndexSpec(CONVERSATION_ID_INDEX, Key("conversation_id"), None),
        # GET /conversations: one project's conversations newest first (``gsi_project_key`` =
        # ``<company_id>#<project_id>``, written at creation), with what a listing row shows.
        IndexSpec(
            PROJECT_CREATED_AT_INDEX,
            Key("gsi_project_key"),
            Key("created_at"),
            projection="INCLUDE",
            non_key_attributes=LISTING_ATTRIBUTES,
        ),
    ),
    local_indexes=(
        IndexSpec("created-at-index", PRIMARY_CHANNEL, Key("created_at")),
        IndexSpec("task-complete-index", PRIMARY_CHANNEL, Key("task_complete", "N")),
        IndexSpec("conversation-status-index", PRIMARY_CHANNEL, Key("conversation_status")),
        IndexSpec("channel-method-index", PRIMARY_CHANNEL, Key("channel_method")),
    ),
    # Retention (issue 12): ``expires_at`` (epoch seconds) = the last activity + the environment's
    # ``data.conversation_retention_days``; DynamoDB deletes the record after it.
    time_to_live_attribute="expires_at",
    # Issue 13: the tenant events (conversation.sent, .delivered, …) are derived from each change.
    stream_view="NEW_AND_OLD_IMAGES",
)

# Fixed-window request counters of the router's per-project limits, and its request-id
# reservations (``request#…`` keys, shared/routing/request_ledger.py); items expire by TTL within
# two days, so the table needs no backups.
RATE_LIMITS = TableSpec(
    logical_name="rate-limits",
    partition_key=Key("limit_key"),
    time_to_live_attribute="expires_at",
    environment_protected=False,
)

# One item per send the engine made, keyed ``<provider>#<provider message id>`` (Twilio's
# MessageSid, SendGrid's X-Message-Id): the conversation it belongs to, its tenant and the
# message's own delivery status, so a provider event finds its message in one GetItem (issue 10).
# Events that matched no message are kept here too (``unmatched#…``), expiring by TTL.
PROVIDER_MESSAGES = TableSpec(
    logical_name="provider-messages",
    partition_key=Key("provider_message_key"),
    time_to_live_attribute="expires_at",
)

# The suppression list (issue 12, shared/consent/suppressions.py): PK the company, SK
# ``<channel>#<keyed hash of the address>``, so "may company C contact address A on channel X?" is
# one GetItem and a company's list is one Query. No TTL: consent is kept as long as the tenant.
SUPPRESSIONS = TableSpec(
    logical_name="suppressions",
    partition_key=Key("company_id"),
    sort_key=Key("suppression_key"),
)

# The tenant events of projects with a webhook (issue 13, shared/tenant_events/): one item per
# event, PK the conversation, SK ``<occurred_at>#<webhook_id>`` (the order they happened in), with
# the payload as delivered and the delivery's outcome. An operator's replay re-queues them with
# their ids; they expire with the conversation (``expires_at``).
WEBHOOK_EVENTS = TableSpec(
    logical_name="webhook-events",
    partition_key=Key("conversation_id"),
    sort_key=Key("event_key"),
    time_to_live_attribute="expires_at",
)

# Index names the reply matcher queries (shared/replies/matching.py).
WHATSAPP_REPLY_INDEX = "company-whatsapp-number-recipient-tel-index"
SMS_REPLY_INDEX = "company-sms-number-recipient-tel-index"
EMAIL_REPLY_INDEX = "company-email-recipient-email-index"
REPLY_TOKEN_INDEX = "reply-token-index"

ALL_TABLES: tuple[TableSpec, ...] = (
    COMPANY_DATA,
    CONVERSATIONS,
    RATE_LIMITS,
    PROVIDER_MESSAGES,
    SUPPRESSIONS,
    WEBHOOK_EVENTS,
)
