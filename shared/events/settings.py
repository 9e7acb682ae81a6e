"""The events processor's settings: its environment contract (``FunctionEnvironment``).

Fields may be added with defaults; a new required field must be rendered by the CDK app and the
local stack in the same change.
"""

from __future__ import annotations

import math
import os

from pydantic import Field

from shared.function_environment import FunctionEnvironment

DEFAULT_RETRY_BACKOFF_SECONDS = 30


class EventsSettings(FunctionEnvironment):
    environment: str = Field(alias="ENVIRONMENT", min_length=1)
    conversations_table_name: str = Field(alias="CONVERSATIONS_TABLE_NAME", min_length=3)
    provider_messages_table_name: str = Field(alias="PROVIDER_MESSAGES_TABLE_NAME", min_length=3)
    queue_url: str = Field(alias="QUEUE_URL", min_length=1)
    dead_letter_queue_url: str | None = Field(alias="DEAD_LETTER_QUEUE_URL", default=None)
    visibility_timeout_seconds: int = Field(alias="VISIBILITY_TIMEOUT_SECONDS", gt=0)
    max_receive_count: int = Field(alias="MAX_RECEIVE_COUNT", ge=1)
    retry_backoff_seconds: int = Field(alias="RETRY_BACKOFF_SECONDS", default=DEFAULT_RETRY_BACKOFF_SECONDS, ge=0)
    processor_version: str = Field(alias="PROCESSOR_VERSION", min_length=1)
    # Replies (issue 11): the project's configuration is read to decide and build the reply job,
    # which goes on the conversation's channel queue.
    company_table_name: str = Field(alias="COMPANY_TABLE_NAME", min_length=3)
    whatsapp_queue_url: str = Field(alias="WHATSAPP_QUEUE_URL", min_length=1)
    sms_queue_url: str = Field(alias="SMS_QUEUE_URL", min_length=1)
    email_queue_url: str = Field(alias="EMAIL_QUEUE_URL", min_length=1)
    # Consent (issue 12): the suppression list and the key of its address hashes (and of the
    # unsubscribe tokens), shared/consent/.
    suppressions_table_name: str = Field(alias="SUPPRESSIONS_TABLE_NAME", min_length=3)
    consent_key_secret_id: str = Field(alias="CONSENT_KEY_SECRET_ID", min_length=1)
    # Retention (issue 12): a conversation record's ``expires_at`` (DynamoDB TTL) is this many days
    # after its last activity (cdk.json ``data.conversation_retention_days``).
    conversation_retention_days: int = Field(alias="CONVERSATION_RETENTION_DAYS", ge=1, le=3650)
    aws_endpoint_url: str | None = Field(alias="AWS_ENDPOINT_URL", default=None)

    def retry_delay(self, receive_count: int) -> int:
        delay = self.retry_backoff_seconds * 2 ** max(receive_count - 1, 0)
        return min(math.ceil(delay), self.visibility_timeout_seconds)

    @classmethod
    def from_environment(cls) -> EventsSettings:
        return cls.from_variables(os.environ)
