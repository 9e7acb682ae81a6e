"""A company/project record of the company-data table (``seed/company_record.example.json``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from shared.channels import Channel
from shared.models.request import EmailAddress, Identifier, PhoneNumber

SecretId = str


class RateLimits(BaseModel):
    model_config = ConfigDict(extra="allow")

    requests_per_minute: PositiveInt
    requests_per_day: PositiveInt
    concurrent_conversations: PositiveInt | None = None
    max_message_length: PositiveInt = 1600


class ContentTemplate(BaseModel):
    """An approved Twilio Content template and what each of its variables should hold."""

    content_sid: str | None = None
    variables: dict[str, str] = Field(default_factory=dict)


class WhatsAppConfig(BaseModel):
    model_config = ConfigDict(extra="allow")

    company_whatsapp_number: PhoneNumber
    whatsapp_credentials_id: SecretId
    content_template: ContentTemplate = Field(default_factory=ContentTemplate)


class SmsConfig(BaseModel):
    model_config = ConfigDict(extra="allow")

    company_sms_number: PhoneNumber
    sms_credentials_id: SecretId


class EmailConfig(BaseModel):
    model_config = ConfigDict(extra="allow")

    company_email: EmailAddress
    email_credentials_id: SecretId


class ChannelConfig(BaseModel):
    model_config = ConfigDict(extra="allow")

    whatsapp: WhatsAppConfig | None = None
    sms: SmsConfig | None = None
    email: EmailConfig | None = None

    def for_channel(self, channel: Channel) -> WhatsAppConfig | SmsConfig | EmailConfig | None:
        return getattr(self, Channel(channel).value)


class TemplateSender(BaseModel):
    """Versioned instructions the engine sends with each Responses API call."""

    prompt_version: str = Field(min_length=1)
    instructions: str = Field(min_length=1)


class OpenAiChannelConfig(BaseModel):
    # ``extra="allow"`` keeps legacy ``assistant_id_*`` fields so the processor can name them.
    model_config = ConfigDict(extra="allow")

    api_key_reference: SecretId
    model: str | None = None
    template_sender: TemplateSender | None = None

    @property
    def legacy_assistant_fields(self) -> list[str]:
        return sorted(k for k in (self.model_extra or {}) if k.startswith("assistant_id"))

    @property
    def is_legacy_only(self) -> bool:
        return self.template_sender is None or self.model is None


class AiConfig(BaseModel):
    model_config = ConfigDict(extra="allow")

    openai_config: dict[Channel, OpenAiChannelConfig] = Field(default_factory=dict)


class CompanyRecord(BaseModel):
    model_config = ConfigDict(extra="allow")

    company_id: Identifier
    project_id: Identifier
    company_name: str
    project_name: str
    project_status: Literal["active", "inactive"]
    allowed_channels: list[Channel]
    api_key_ids: list[str] = Field(default_factory=list)
    company_rep: dict[str, str | None] = Field(default_factory=dict)
    rate_limits: RateLimits
    channel_config: ChannelConfig
    ai_config: AiConfig
    created_at: str | None = None
    updated_at: str | None = None

    @property
    def is_active(self) -> bool:
        return self.project_status == "active"

    @property
    def representatives(self) -> list[str]:
        return representative_names(self.company_rep)


def representative_names(company_rep: dict[str, str | None]) -> list[str]:
    """The named representatives, in slot order (``company_rep_1`` first); empty slots left out."""
    return [name for _, name in sorted(company_rep.items()) if name]
