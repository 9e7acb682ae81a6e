"""Per-environment settings: the ``environments`` block of ``cdk.json``, read into one typed object.

Everything that differs between dev and prod is here; stacks never branch on the environment name.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, ValidationError, model_validator

from shared.tenant_webhooks.outcome import MAX_RETRY_DELAY_SECONDS
from shared.tenant_webhooks.settings import WebhookSenderSettings

CDK_JSON = Path(__file__).resolve().parent.parent / "cdk.json"
# The webhook sender retries a tenant's endpoint for WEBHOOK_RETRY_HOURS (its default: the stack
# does not set it), and the last attempt may come an hour after that (the longest backoff).
WEBHOOK_RETRY_BUDGET_SECONDS = (
    WebhookSenderSettings.model_fields["retry_hours"].default * 3600 + MAX_RETRY_DELAY_SECONDS
)
DEFAULT_ENVIRONMENT = "dev"


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _https_base_url(value: str) -> str:
    if not value.startswith("https://") or "?" in value or "#" in value:
        raise ValueError("must be an https:// URL without a query or fragment")
    return value.rstrip("/")


HttpsUrl = Annotated[str, AfterValidator(_https_base_url)]


class ApiSettings(_Settings):
    throttle_rate_limit: float = Field(gt=0)
    throttle_burst_limit: int = Field(gt=0)
    # The URL providers' webhooks call, up to the stage (a custom domain, e.g.
    # https://comms.example.com). None: the stage's execute-api URL. Signatures are over the exact
    # URL the provider called, so it is configured, never rebuilt from a request.
    public_base_url: HttpsUrl | None = None
    # No data-tracing setting: it would write whole request and response bodies (personal data)
    # to CloudWatch, so it is off in every environment (ApiStack) and cdk.json cannot turn it on.


class RouterSettings(_Settings):
    memory_mb: int = Field(ge=128, le=10240)
    timeout_seconds: int = Field(ge=1, le=29)  # API Gateway gives up at 29 s


class QueueSettings(_Settings):
    visibility_timeout_seconds: int = Field(ge=0, le=43200)
    retention_days: int = Field(ge=1, le=14)
    dlq_retention_days: int = Field(ge=1, le=14)
    max_receive_count: int = Field(ge=1)


class ProcessorSettings(_Settings):
    memory_mb: int = Field(ge=128, le=10240)
    timeout_seconds: int = Field(ge=1, le=900)
    batch_size: int = Field(ge=1, le=10)
    max_batching_window_seconds: int = Field(ge=0, le=300)
    max_concurrency: int = Field(ge=2, le=1000)
    heartbeat_interval_seconds: int = Field(ge=1)


class WebhookIngressSettings(_Settings):
    """The webhook ingress function and the stage throttle of its routes (no API key: no usage plan)."""

    memory_mb: int = Field(ge=128, le=10240)
    timeout_seconds: int = Field(ge=1, le=29)  # API Gateway gives up at 29 s
    # A cap on the ingress alone, so a flood of (forged) webhooks cannot take the account's
    # concurrency from the router and the processors. None: no reservation (an account whose
    # concurrency quota is the minimum cannot reserve any).
    reserved_concurrency: int | None = Field(default=None, ge=1)
    throttle_rate_limit: float = Field(gt=0)
    throttle_burst_limit: int = Field(gt=0)


class EventsProcessorSettings(_Settings):
    """The events processor, its event source and the events queue's visibility."""

    memory_mb: int = Field(ge=128, le=10240)
    timeout_seconds: int = Field(ge=1, le=900)
    batch_size: int = Field(ge=1, le=10)
    max_batching_window_seconds: int = Field(ge=0, le=300)
    max_concurrency: int = Field(ge=2, le=1000)
    visibility_timeout_seconds: int = Field(ge=0, le=43200)

    @model_validator(mode="after")
    def _queue_outlives_processor(self) -> EventsProcessorSettings:
        _check_visibility(self.visibility_timeout_seconds, self.timeout_seconds, queue="events", function="events")
        return self


def _check_visibility(visibility_timeout_seconds: int, timeout_seconds: int, *, queue: str, function: str) -> None:
    # AWS asks for a visibility timeout of at least six times the function timeout so that a batch
    # the poller keeps retrying (throttling) does not reappear while still in flight.
    if visibility_timeout_seconds < 6 * timeout_seconds:
        raise ValueError(f"{queue}.visibility_timeout_seconds must be >= 6 x {function}.timeout_seconds")


class ReaderFunctionSettings(_Settings):
    """The conversation reader behind ``GET /conversations`` and ``GET /conversations/{id}``."""

    memory_mb: int = Field(ge=128, le=10240)
    timeout_seconds: int = Field(ge=1, le=29)  # API Gateway gives up at 29 s


class TenantEventsFunctionSettings(_Settings):
    """The consumer of the conversations table's stream and its event source (issue 13)."""

    memory_mb: int = Field(ge=128, le=10240)
    timeout_seconds: int = Field(ge=1, le=900)
    batch_size: int = Field(ge=1, le=10000)
    max_batching_window_seconds: int = Field(ge=0, le=300)
    # Bounded retries: a record that still fails is recorded (its shard/sequence range) in the
    # stream-failure DLQ instead of holding back its shard until the record leaves the stream.
    retry_attempts: int = Field(ge=0, le=10000)
    # Records older than this are skipped to the DLQ (the stream keeps them 24 h).
    max_record_age_seconds: int = Field(ge=60, le=86400)


class WebhookSenderFunctionSettings(_Settings):
    """The sender of tenants' webhooks, its event source and the FIFO webhooks queue (issue 13)."""

    memory_mb: int = Field(ge=128, le=10240)
    timeout_seconds: int = Field(ge=1, le=900)
    batch_size: int = Field(ge=1, le=10)
    max_concurrency: int = Field(ge=2, le=1000)
    visibility_timeout_seconds: int = Field(ge=0, le=43200)
    # The safety net only: the sender moves an event to the DLQ itself once its retry window
    # (WEBHOOK_RETRY_HOURS) is over; the redrive catches a function that keeps crashing on it.
    max_receive_count: int = Field(ge=1, le=1000)

    @model_validator(mode="after")
    def _queue_outlives_sender(self) -> WebhookSenderFunctionSettings:
        _check_visibility(
            self.visibility_timeout_seconds, self.timeout_seconds, queue="webhook_sender", function="webhook_sender"
        )
        return self


class DataSettings(_Settings):
    """How long the engine keeps what it stores about people (issue 12)."""

    # A conversation record is deleted by DynamoDB's TTL this many days after its last activity
    # (created, or the person's latest message). At most ten years: a longer retention is a
    # mistake in cdk.json, not a policy.
    conversation_retention_days: int = Field(ge=1, le=3650)


class OldestMessageAlarmMinutes(_Settings):
    """How old the oldest message of each work queue may get before someone is mailed
    (``ApproximateAgeOfOldestMessage``). Each is above what the queue's own retries reach, so a
    normal retry never alarms; see docs/decisions.md (issue 14) for the arithmetic."""

    whatsapp: int = Field(ge=1)
    sms: int = Field(ge=1)
    email: int = Field(ge=1)
    events: int = Field(ge=1)
    webhooks: int = Field(ge=1)

    def seconds(self, queue: str) -> int:
        return int(getattr(self, queue)) * 60


class MonitoringSettings(_Settings):
    """Tracing and the thresholds of the alarms that are tuned per environment (issue 14)."""

    # True: every Lambda traces actively and the API stage sends traces to X-Ray; False: neither.
    tracing: bool
    oldest_message_alarm_minutes: OldestMessageAlarmMinutes
    # Throttled invocations of one function in five minutes before someone is mailed.
    throttles_alarm_threshold: int = Field(ge=1)


class ProtectionSettings(_Settings):
    point_in_time_recovery: bool
    deletion_protection: bool
    removal_policy: Literal["destroy", "retain"]


class EnvironmentSettings(_Settings):
    name: str
    account: str | None
    region: str | None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"]
    log_retention_days: int
    alarm_email: EmailStr
    api: ApiSettings
    router: RouterSettings
    queues: QueueSettings
    processor: ProcessorSettings
    webhooks: WebhookIngressSettings
    events: EventsProcessorSettings
    reader: ReaderFunctionSettings
    tenant_events: TenantEventsFunctionSettings
    webhook_sender: WebhookSenderFunctionSettings
    data: DataSettings
    monitoring: MonitoringSettings
    protection: ProtectionSettings

    @model_validator(mode="after")
    def _queue_outlives_processor(self) -> EnvironmentSettings:
        _check_visibility(
            self.queues.visibility_timeout_seconds, self.processor.timeout_seconds, queue="queues", function="processor"
        )
        if self.queues.dlq_retention_days <= self.queues.retention_days:
            # A message keeps its first enqueue time in the DLQ; a shorter DLQ would drop it early.
            raise ValueError("queues.dlq_retention_days must be > queues.retention_days")
        if self.processor.heartbeat_interval_seconds >= self.queues.visibility_timeout_seconds:
            raise ValueError("processor.heartbeat_interval_seconds must be < the visibility timeout")
        if self.monitoring.oldest_message_alarm_minutes.seconds("webhooks") <= WEBHOOK_RETRY_BUDGET_SECONDS:
            # The sender keeps retrying a tenant's failing endpoint for its whole budget: an alarm
            # below it would fire on every tenant outage the retries are there to ride out.
            raise ValueError("monitoring.oldest_message_alarm_minutes.webhooks must exceed the webhook retry budget")
        return self


class SettingsError(Exception):
    """The environment named on the command line is unknown or its block is incomplete, or a
    deploy switch (``-c name=value``) has a value the app does not know."""


def load_settings(name: str | None = None, *, cdk_json: Path = CDK_JSON) -> EnvironmentSettings:
    environments = _environments(cdk_json)
    name = name or DEFAULT_ENVIRONMENT
    if name not in environments:
        known = ", ".join(sorted(environments))
        raise SettingsError(f"Unknown environment {name!r}: cdk.json defines {known}. Use -c env=<name>.")
    return settings_from_block(name, environments[name])


def settings_from_block(name: str, block: dict[str, Any]) -> EnvironmentSettings:
    try:
        return EnvironmentSettings.model_validate({"name": name, **block})
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {'missing' if e['type'] == 'missing' else e['msg']}"
            for e in error.errors()
        )
        raise SettingsError(f"Environment {name!r} in cdk.json is invalid: {problems}") from None


def _environments(cdk_json: Path) -> dict[str, Any]:
    return json.loads(cdk_json.read_text())["context"]["environments"]
