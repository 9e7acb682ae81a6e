"""The tenant-events function's settings (the conversations table's stream consumer)."""

from __future__ import annotations

import os

from pydantic import Field

from shared.function_environment import FunctionEnvironment


class TenantEventsSettings(FunctionEnvironment):
    environment: str = Field(alias="ENVIRONMENT", min_length=1)
    # The project's ``webhook`` decides whether its events are logged and queued at all.
    company_table_name: str = Field(alias="COMPANY_TABLE_NAME", min_length=3)
    webhook_events_table_name: str = Field(alias="WEBHOOK_EVENTS_TABLE_NAME", min_length=3)
    webhook_queue_url: str = Field(alias="WEBHOOK_QUEUE_URL", min_length=1)
    # The event log expires with the conversation (cdk.json ``data.conversation_retention_days``).
    conversation_retention_days: int = Field(alias="CONVERSATION_RETENTION_DAYS", ge=1, le=3650)
    aws_endpoint_url: str | None = Field(alias="AWS_ENDPOINT_URL", default=None)

    @classmethod
    def from_environment(cls) -> TenantEventsSettings:
        return cls.from_variables(os.environ)
