"""The settings of a channel processor function: its environment contract (``FunctionEnvironment``)."""

from __future__ import annotations

import math
from collections.abc import Mapping

from pydantic import Field, ValidationError, model_validator

from shared.channels import Channel
from shared.function_environment import FunctionEnvironment

# Time budget of one record inside the 120 s function timeout (docs/decisions.md, issue 4):
# OpenAI 30 s x (1 + 1 SDK retry), a second generation only after a schema-invalid answer, and
# one provider call of 10 s. The SDK retry covers a blip; SQS retries cover the rest.
DEFAULT_AI_TIMEOUT_SECONDS = 30.0
# SQS is the retry loop: an SDK retry inside the invocation would double the worst case of the AI
# step (two output attempts x 30 s = 60 s, well inside the 120 s function timeout with the send).
DEFAULT_AI_MAX_RETRIES = 0
DEFAULT_PROVIDER_TIMEOUT_SECONDS = 10.0
# A message whose processing failed transiently is retried after this (doubling per receive), not
# after the whole visibility timeout, so a 429 costs the person seconds rather than 12 minutes.
DEFAULT_RETRY_BACKOFF_SECONDS = 30


class SettingsInvalid(Exception):
    """An environment variable of the function is missing or malformed."""


class ProcessorSettings(FunctionEnvironment):
    channel: Channel = Field(alias="CHANNEL")
    # The deployment environment (dev, prod): names the secrets this processor may read.
    environment: str = Field(alias="ENVIRONMENT", min_length=1)
    conversations_table_name: str = Field(alias="CONVERSATIONS_TABLE_NAME", min_length=3)
    # Each send's provider message id -> its conversation, so a delivery event finds it (issue 10).
    provider_messages_table_name: str = Field(alias="PROVIDER_MESSAGES_TABLE_NAME", min_length=3)
    queue_url: str = Field(alias="QUEUE_URL", min_length=1)
    # Consent (issue 12): the suppression list and the key of its address hashes (and of the
    # unsubscribe tokens), shared/consent/.
    suppressions_table_name: str = Field(alias="SUPPRESSIONS_TABLE_NAME", min_length=3)
    consent_key_secret_id: str = Field(alias="CONSENT_KEY_SECRET_ID", min_length=1)
    # Retention (issue 12): a conversation record's ``expires_at`` (DynamoDB TTL) is this many days
    # after its last activity (cdk.json ``data.conversation_retention_days``).
    conversation_retention_days: int = Field(alias="CONVERSATION_RETENTION_DAYS", ge=1, le=3650)
    # Scheduled first messages (issue 12, shared/processing/wakeups.py): waits over SQS's 15 minutes
    # become one-time EventBridge Scheduler schedules in this group, delivered by this role.
    scheduler_group_name: str = Field(alias="SCHEDULER_GROUP_NAME", min_length=1)
    scheduler_role_arn: str = Field(alias="SCHEDULER_ROLE_ARN", min_length=1)
    # Where a message that can never be processed goes at once (its queue's DLQ), kept as evidence.
    dead_letter_queue_url: str | None = Field(alias="DEAD_LETTER_QUEUE_URL", default=None)
    heartbeat_interval_seconds: float = Field(alias="HEARTBEAT_INTERVAL_SECONDS", gt=0)
    visibility_timeout_seconds: int = Field(alias="VISIBILITY_TIMEOUT_SECONDS", gt=0)
    processor_version: str = Field(alias="PROCESSOR_VERSION", min_length=1)
    openai_base_url: str | None = Field(alias="OPENAI_BASE_URL", default=None)
    twilio_api_base_url: str | None = Field(alias="TWILIO_API_BASE_URL", default=None)
    sendgrid_api_host: str | None = Field(alias="SENDGRID_API_HOST", default=None)
    ai_timeout_seconds: float = Field(alias="AI_TIMEOUT_SECONDS", default=DEFAULT_AI_TIMEOUT_SECONDS, gt=0)
    ai_max_retries: int = Field(alias="AI_MAX_RETRIES", default=DEFAULT_AI_MAX_RETRIES, ge=0, le=5)
    provider_timeout_seconds: float = Field(
        alias="PROVIDER_TIMEOUT_SECONDS", default=DEFAULT_PROVIDER_TIMEOUT_SECONDS, gt=0
    )
    retry_backoff_seconds: int = Field(alias="RETRY_BACKOFF_SECONDS", default=DEFAULT_RETRY_BACKOFF_SECONDS, ge=0)

    @model_validator(mode="after")
    def _heartbeat_beats_the_timeout(self) -> ProcessorSettings:
        if self.heartbeat_interval_seconds >= self.visibility_timeout_seconds:
            raise ValueError("HEARTBEAT_INTERVAL_SECONDS must be shorter than VISIBILITY_TIMEOUT_SECONDS")
        return self

    @property
    def send_settle_seconds(self) -> float:
        """How long a send that got no answer may still be landing at the provider.

        Our client gives up after one provider timeout; the provider may finish the request a
        little later. After twice that, a provider that lists no such message really has none.
        """
        return 2 * self.provider_timeout_seconds

    def retry_delay(self, receive_count: int, *, at_least: float | None = None) -> int:
        """Seconds until a transiently failed message is delivered again (doubling, capped), and no
        sooner than ``at_least`` (e.g. the end of a send's settle window)."""
        delay = max(self.retry_backoff_seconds * 2 ** max(receive_count - 1, 0), math.ceil(at_least or 0))
        return min(delay, self.visibility_timeout_seconds)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], *, channel: Channel) -> ProcessorSettings:
        """Read the function's variables; ``CHANNEL`` must name the channel the handler serves."""
        try:
            settings = cls.from_variables(environ)
        except ValidationError as error:
            problems = "; ".join(
                f"{e['loc'][0] if e['loc'] else 'settings'}: {e['msg']}" for e in error.errors(include_input=False)
            )
            raise SettingsInvalid(problems) from None
        if settings.channel is not channel:
            raise SettingsInvalid(f"CHANNEL is {settings.channel.value!r} but this is the {channel.value} processor")
        return settings
