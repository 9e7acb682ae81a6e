"""The webhook sender's settings: its environment contract (``FunctionEnvironment``)."""

from __future__ import annotations

import os

from pydantic import Field

from shared.function_environment import FunctionEnvironment

DEFAULT_RETRY_BASE_SECONDS = 30


class WebhookSenderSettings(FunctionEnvironment):
    environment: str = Field(alias="ENVIRONMENT", min_length=1)
    company_table_name: str = Field(alias="COMPANY_TABLE_NAME", min_length=3)
    webhook_events_table_name: str = Field(alias="WEBHOOK_EVENTS_TABLE_NAME", min_length=3)
    webhook_queue_url: str = Field(alias="WEBHOOK_QUEUE_URL", min_length=1)
    webhook_dlq_url: str = Field(alias="WEBHOOK_DLQ_URL", min_length=1)
    # One POST's whole budget (connect + answer): a slow tenant holds one worker this long at most.
    request_timeout_seconds: float = Field(alias="WEBHOOK_TIMEOUT_SECONDS", default=5.0, gt=0, le=30)
    # Backoff: base * 2^(attempt-1), capped at an hour; given up (to the DLQ) after retry_hours.
    retry_base_seconds: int = Field(alias="WEBHOOK_RETRY_BASE_SECONDS", default=DEFAULT_RETRY_BASE_SECONDS, ge=1)
    retry_hours: int = Field(alias="WEBHOOK_RETRY_HOURS", default=24, ge=1, le=336)
    # Only the local stack sets it: http:// and loopback targets (a test's receiver). Never in AWS.
    allow_local_targets: bool = Field(alias="WEBHOOK_ALLOW_LOCAL_TARGETS", default=False)
    aws_endpoint_url: str | None = Field(alias="AWS_ENDPOINT_URL", default=None)

    @classmethod
    def from_environment(cls) -> WebhookSenderSettings:
        return cls.from_variables(os.environ)
