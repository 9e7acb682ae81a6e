"""The context message the router puts on a channel queue for that channel's processor."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from shared.channels import Channel
from shared.models.company import AnyChannelConfig, ConsentConfig, OpenAiChannelConfig, RateLimits
from shared.models.request import CompanyData, ProjectData, RecipientData, RequestData

CONTEXT_SCHEMA_VERSION = "3"  # 3: ``schedule`` and ``project.consent`` (issue 12)


class ProjectSlice(BaseModel):
    """What the processor needs of the company/project record, for the requested channel only."""

    model_config = ConfigDict(extra="forbid")

    company_name: str
    project_name: str
    company_rep: dict[str, str | None]
    rate_limits: RateLimits
    channel_config: AnyChannelConfig
    ai_config: OpenAiChannelConfig
    contact_channels: dict[str, str] = Field(
        default_factory=dict,
        description="The company's sender address on each allowed channel, for the AI's context",
    )
    allowed_link_domains: list[str] = Field(
        default_factory=list, description="The project's link domains, the only ones a message may contain"
    )
    # The help text (HELP keyword) and the List-Unsubscribe mailto (issue 12). The send windows are
    # applied by the router (``ContextMessage.schedule``), so processors never need them.
    consent: ConsentConfig = Field(default_factory=ConsentConfig)


class ContextMetadata(BaseModel):
    schema_version: str = CONTEXT_SCHEMA_VERSION
    router_version: str
    queued_at: datetime
    # API Gateway's request id: the router's log correlation id, so processor logs can join them.
    correlation_id: str | None = None
    # The public base URL of the API that queued the message: the processor builds the provider
    # callback URLs from it (the processors' stack deploys before the API's and cannot know it).
    # None only in messages queued before issue 10; those are sent without a status callback.
    callback_base_url: str | None = None


class Schedule(BaseModel):
    """When the first message may go (issue 12): decided once, by the router, from the request's
    ``send_at`` and the project's send windows in the recipient's time zone."""

    model_config = ConfigDict(extra="forbid")

    scheduled_for: datetime  # aware, UTC
    reason: str  # "send_at", "quiet_hours" or "send_at+quiet_hours"
    recipient_timezone: str  # the IANA zone the windows were read in


class ContextMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    conversation_id: str
    channel: Channel
    company_data: CompanyData
    recipient_data: RecipientData
    # Checked again here: a message queued by an older router may hold a value the record cannot
    # store, and then it is malformed (DLQ at once) rather than retried into the DLQ.
    project_data: ProjectData
    request_data: RequestData
    project: ProjectSlice
    metadata: ContextMetadata
    # None: send now. Set: the processor creates the record ``scheduled`` and arms a wake-up.
    schedule: Schedule | None = None

    @property
    def recipient_address(self) -> str:
        if self.channel.uses_phone_number:
            assert self.recipient_data.recipient_tel is not None
            return self.recipient_data.recipient_tel
        assert self.recipient_data.recipient_email is not None
        return self.recipient_data.recipient_email
