"""A company/project record of the company-data table (``seed/company_record.example.json``)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PositiveInt

from shared.channels import ALL_CHANNELS, Channel
from shared.models.output_fields import EMAIL_BODY_MAX, EMAIL_SUBJECT_MAX, WHATSAPP_VARIABLE_MAX, TextField
from shared.models.request import EmailAddress, IanaZone, Identifier, PhoneNumber
from shared.secret_names import (
    credentials_secret_name,
    credentials_secret_problem,
    openai_secret_problem,
    webhook_secret_problem,
)
from shared.url_safety import configuration_problem

SecretId = str

_DOMAIN = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:[a-z]{2,63}|xn--[a-z0-9-]{2,59})")


def _link_domain(value: str) -> str:
    """A registrable domain name, lower case and in IDNA ASCII form (``bücher.example`` ->
    ``xn--bcher-kva.example``): no scheme, path, port or wildcard (subdomains are allowed anyway)."""
    domain = value.strip().rstrip(".").lower()
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError(f"{value!r} is not a domain name") from None
    if not _DOMAIN.fullmatch(domain):
        raise ValueError(f"{value!r} is not a domain name like 'careers.example.com' (no scheme, path or '*')")
    return domain


LinkDomain = Annotated[str, AfterValidator(_link_domain)]


class RateLimits(BaseModel):
    # "ignore": stored records still carry ``concurrent_conversations``, a limit that was never
    # enforced and is removed (docs/decisions.md, issue 9); it loads and is not forwarded.
    model_config = ConfigDict(extra="ignore")

    requests_per_minute: PositiveInt
    requests_per_day: PositiveInt
    max_message_length: PositiveInt = 1600


class ContentTemplate(BaseModel):
    """An approved Twilio Content template and what each of its variables should hold."""

    content_sid: str | None = None
    variables: dict[str, str] = Field(default_factory=dict)


class ChannelConfigBase(BaseModel):
    """What every channel's configuration knows: the company's address on the channel, where the
    provider credentials are, and what the message is made of. A new channel is a new subclass."""

    model_config = ConfigDict(extra="allow")

    channel: ClassVar[Channel]
    provider: ClassVar[str]  # the provider part of the credentials' secret name
    sender_field: ClassVar[str]
    credentials_field: ClassVar[str]
    output_name: ClassVar[str]  # the schema name the Responses API is given

    @property
    def sender_address(self) -> str:
        """The company's address on this channel (as the record writes it)."""
        return getattr(self, self.sender_field)

    @property
    def credentials_secret_id(self) -> str:
        return getattr(self, self.credentials_field)

    @classmethod
    def credentials_secret_name(cls, company_id: str, project_id: str, env: str) -> str:
        return credentials_secret_name(cls.channel.value, company_id, project_id, cls.provider, env)

    def credentials_problem(self, company_id: str, project_id: str, env: str) -> str | None:
        """Why the credentials this configuration names are not its project's own, or None."""
        problem = credentials_secret_problem(
            self.credentials_secret_id,
            channel=self.channel.value,
            company_id=company_id,
            project_id=project_id,
            provider=self.provider,
            env=env,
        )
        return None if problem is None else f"channel_config.{self.channel.value}.{self.credentials_field}: {problem}"

    def output_fields(self, rate_limits: RateLimits) -> tuple[TextField, ...]:
        """The fields the AI writes for this channel; ValueError when the configuration names none."""
        raise NotImplementedError


class WhatsAppConfig(ChannelConfigBase):
    channel: ClassVar[Channel] = Channel.WHATSAPP
    provider: ClassVar[str] = "twilio"
    sender_field: ClassVar[str] = "company_whatsapp_number"
    credentials_field: ClassVar[str] = "whatsapp_credentials_id"
    output_name: ClassVar[str] = "whatsapp_template_variables"

    company_whatsapp_number: PhoneNumber
    whatsapp_credentials_id: SecretId
    content_template: ContentTemplate = Field(default_factory=ContentTemplate)

    def output_fields(self, rate_limits: RateLimits) -> tuple[TextField, ...]:
        variables = self.content_template.variables
        if not variables:
            raise ValueError(
                "channel_config.whatsapp.content_template.variables is empty: name each variable of the "
                "approved template (e.g. {'1': 'recipient first name'}) so the AI knows what to write"
            )
        return tuple(
            TextField(name, description, WHATSAPP_VARIABLE_MAX, single_line=True)
            for name, description in sorted(variables.items(), key=lambda item: _variable_order(item[0]))
        )


class SmsConfig(ChannelConfigBase):
    channel: ClassVar[Channel] = Channel.SMS
    provider: ClassVar[str] = "twilio"
    sender_field: ClassVar[str] = "company_sms_number"
    credentials_field: ClassVar[str] = "sms_credentials_id"
    output_name: ClassVar[str] = "sms_message"

    company_sms_number: PhoneNumber
    sms_credentials_id: SecretId

    def output_fields(self, rate_limits: RateLimits) -> tuple[TextField, ...]:
        return (TextField("body", "The text of the SMS.", rate_limits.max_message_length),)


class EmailConfig(ChannelConfigBase):
    channel: ClassVar[Channel] = Channel.EMAIL
    provider: ClassVar[str] = "sendgrid"
    sender_field: ClassVar[str] = "company_email"
    credentials_field: ClassVar[str] = "email_credentials_id"
    output_name: ClassVar[str] = "email_message"

    company_email: EmailAddress
    email_credentials_id: SecretId
    # The domain whose MX points at SendGrid Inbound Parse (issue 11): every email the engine
    # sends carries ``Reply-To: reply+<token>@<reply_domain>``, so the person's answer comes back
    # to the engine and names its conversation. None: emails carry no reply-to and replies are
    # matched by the company address + the person's address only.
    reply_domain: LinkDomain | None = None

    def output_fields(self, rate_limits: RateLimits) -> tuple[TextField, ...]:
        return (
            TextField("subject", "The email's subject line.", EMAIL_SUBJECT_MAX, single_line=True),
            TextField("body", "The email's plain-text body.", EMAIL_BODY_MAX),
        )


def _variable_order(name: str) -> tuple[int, str]:
    # Twilio numbers template variables "1", "2", ...; "10" comes after "9".
    return (int(name), "") if name.isdigit() else (1_000_000, name)


# The configuration of one channel, whichever it is (a project slice carries exactly one).
AnyChannelConfig = WhatsAppConfig | SmsConfig | EmailConfig

CHANNEL_CONFIGS: dict[Channel, type[ChannelConfigBase]] = {
    config.channel: config for config in (WhatsAppConfig, SmsConfig, EmailConfig)
}


class ChannelConfig(BaseModel):
    model_config = ConfigDict(extra="allow")

    whatsapp: WhatsAppConfig | None = None
    sms: SmsConfig | None = None
    email: EmailConfig | None = None

    def for_channel(self, channel: Channel) -> AnyChannelConfig | None:
        config: AnyChannelConfig | None = getattr(self, Channel(channel).value)
        return config


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
    # The instructions of the AI's answers to the person's replies (issue 11), versioned like
    # ``template_sender``. None: replies are recorded and not answered (the record says why).
    reply_sender: TemplateSender | None = None

    def key_problem(self, channel: Channel, env: str) -> str | None:
        """Why ``api_key_reference`` is not the channel's shared OpenAI key (a tenant's provider
        credentials, say), or None."""
        problem = openai_secret_problem(self.api_key_reference, channel=channel.value, env=env)
        return None if problem is None else f"ai_config.openai_config.{channel.value}.api_key_reference: {problem}"

    @property
    def legacy_assistant_fields(self) -> list[str]:
        return sorted(k for k in (self.model_extra or {}) if k.startswith("assistant_id"))

    @property
    def is_legacy_only(self) -> bool:
        return self.template_sender is None or self.model is None


class AiConfig(BaseModel):
    model_config = ConfigDict(extra="allow")

    openai_config: dict[Channel, OpenAiChannelConfig] = Field(default_factory=dict)


class ReplyPolicy(BaseModel):
    """How the engine answers the person's replies (issue 11), per project."""

    model_config = ConfigDict(extra="forbid")

    # The AI writes at most this many replies in one conversation; the next message hands the
    # conversation to a person (``needs_human``, handoff_reason ``ai_turn_limit``).
    max_ai_turns: int = Field(default=10, ge=1, le=100)


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # ``datetime.weekday()`` order
_CLOCK = re.compile(r"^(?:[01]\d|2[0-3]):[0-5]\d$")


def _clock(value: str) -> str:
    if not _CLOCK.fullmatch(value):
        raise ValueError(f"{value!r} is not a local time 'HH:MM' (00:00-23:59)")
    return value


ClockTime = Annotated[str, AfterValidator(_clock)]


class SendWindow(BaseModel):
    """One window in which first messages may be sent, in the recipient's local time (issue 12).

    ``days`` are the days the window *starts* on; ``until`` earlier than ``from`` crosses midnight
    (``fri 22:00-02:00`` ends on Saturday at 02:00). ``from`` == ``until`` is refused (ambiguous).
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(min_length=1, max_length=7)
    start: ClockTime = Field(alias="from")
    until: ClockTime

    @property
    def crosses_midnight(self) -> bool:
        return self.until < self.start

    def model_post_init(self, __context: object) -> None:
        if self.start == self.until:
            raise ValueError("a send window's 'from' and 'until' must differ")


class SendWindows(BaseModel):
    """Quiet hours, said the other way round: first messages go only inside these windows."""

    model_config = ConfigDict(extra="forbid")

    # The recipient's zone when the request names none and the phone number's country has no
    # single zone (always, for email).
    default_time_zone: IanaZone
    windows: list[SendWindow] = Field(min_length=1, max_length=14)


class ConsentConfig(BaseModel):
    """A project's consent settings (issue 12)."""

    model_config = ConfigDict(extra="forbid")

    # Sent when the person writes HELP (whole message, any case), instead of an AI answer.
    # None: HELP is an ordinary message.
    help_text: Annotated[str, Field(min_length=1, max_length=1600)] | None = None
    # None: first messages go at any hour.
    send_windows: SendWindows | None = None
    # Added to every email's List-Unsubscribe next to the one-click URL (a mailbox the tenant
    # reads; the engine does not process it). None: the URL only.
    unsubscribe_mailto: EmailAddress | None = None


def _webhook_url(value: str) -> str:
    """An absolute URL with a host, no credentials or fragment, and never a private address literal.

    Only the shape, so that every function can read a record the local stack wrote (its test
    receivers are ``http://127.0.0.1:…``). The environment's rule (``https://`` and public
    addresses only, outside the local stack) is applied by the operator tool when the record is
    written and again at every delivery (shared/tenant_webhooks/), to the addresses the host
    resolves to then.
    """
    problem = configuration_problem(value, allow_local=True)
    if problem is not None:
        raise ValueError(problem)
    return value


WebhookUrl = Annotated[str, AfterValidator(_webhook_url)]


class WebhookConfig(BaseModel):
    """Where the project's tenant events go (issue 13): Standard Webhooks, signed with the secret
    ``secret_reference`` names (``ai-multi-comms/webhook-secrets/<company>/<project>-<env>``,
    holding ``whsec_<base64>``)."""

    model_config = ConfigDict(extra="forbid")

    url: WebhookUrl = Field(max_length=2048)
    secret_reference: SecretId = Field(min_length=1)


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
    # The only link domains (and their subdomains) an AI-written message may contain; see
    # shared/processing/content_policy.py. Empty: no links at all.
    allowed_link_domains: list[LinkDomain] = Field(default_factory=list, max_length=50)
    # The seed's switch (issue 11): answer the person's replies with the AI. False: replies are
    # recorded (status ``reply_received``) and nothing is sent. The two lists narrow it to replies
    # reaching these company numbers / addresses; empty lists mean all of the project's.
    auto_queue_reply_message: bool = False
    auto_queue_reply_message_from_number: list[PhoneNumber] = Field(default_factory=list)
    auto_queue_reply_message_from_email: list[EmailAddress] = Field(default_factory=list)
    reply_policy: ReplyPolicy = Field(default_factory=ReplyPolicy)
    consent: ConsentConfig = Field(default_factory=ConsentConfig)
    # None: the project's events are not delivered anywhere (nor logged for replay).
    webhook: WebhookConfig | None = None
    created_at: str | None = None
    updated_at: str | None = None

    @property
    def is_active(self) -> bool:
        return self.project_status == "active"

    def answers_replies_to(self, company_address: str) -> bool:
        """Whether the AI answers a reply that reached ``company_address`` (the company's number
        or email on the reply's channel)."""
        if not self.auto_queue_reply_message:
            return False
        if company_address.startswith("+"):
            allowed = self.auto_queue_reply_message_from_number
            return not allowed or company_address in allowed
        allowed_emails = [email.lower() for email in self.auto_queue_reply_message_from_email]
        return not allowed_emails or company_address.lower() in allowed_emails

    def secret_problems(self, env: str, channels: Iterable[Channel] | None = None) -> list[str]:
        """Every secret id of ``channels`` (all configured ones by default) that is not this
        project's own in ``env``, each with the field that names it."""
        problems: list[str | None] = []
        for channel in ALL_CHANNELS if channels is None else channels:
            config = self.channel_config.for_channel(channel)
            if config is not None:
                problems.append(config.credentials_problem(self.company_id, self.project_id, env))
            openai = self.ai_config.openai_config.get(channel)
            if openai is not None:
                problems.append(openai.key_problem(channel, env))
        if self.webhook is not None and channels is None:
            problem = webhook_secret_problem(
                self.webhook.secret_reference, company_id=self.company_id, project_id=self.project_id, env=env
            )
            problems.append(None if problem is None else f"webhook.secret_reference: {problem}")
        return [problem for problem in problems if problem is not None]


def representative_names(company_rep: dict[str, str | None]) -> list[str]:
    """The named representatives, in slot order (``company_rep_1`` first); empty slots left out."""
    return [name for _, name in sorted(company_rep.items()) if name]
