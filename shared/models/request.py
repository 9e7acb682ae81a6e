"""The body of ``POST /initiate-conversation`` (DESIGN §5).

Field rules live here so that the router, the API Gateway model and the operator tools agree.
``shared.request_errors`` turns a validation failure into the API's error code.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    ValidationInfo,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from shared.channels import Channel
from shared.dynamodb_values import Unstorable, check_storable
from shared.identifiers import E164_PATTERN, ID_PATTERN, UUID4_PATTERN


def _lower_channel(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def _normalise_email(value: str) -> str:
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as error:
        raise PydanticCustomError("email", "{reason}", {"reason": str(error)}) from error


_ISO_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def _iso_text_only(value: Any) -> Any:
    # pydantic would also take a number, or digits in a string, as epoch seconds; the contract is
    # ISO 8601 text.
    if not isinstance(value, str) or not _ISO_DATE_TIME.match(value):
        raise PydanticCustomError("timestamp_format", "the timestamp must be ISO 8601 text with a time zone")
    return value


def _aware_timestamp(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise PydanticCustomError("timestamp_naive", "the timestamp must carry a time zone")
    return value


# ``send_at`` may hold the first message this long (issue 12); a later instant is refused.
MAX_SEND_AHEAD = timedelta(days=30)
# The validation context key holding the instant a request is judged at (``parse_initiate_request``).
NOW = "now"


def _send_at_within_reach(value: datetime, info: ValidationInfo) -> datetime:
    value = value.astimezone(UTC)
    # Only a request is judged against its arrival; a queued context message re-validated later is not.
    now = (info.context or {}).get(NOW)
    if now is not None and value > now + MAX_SEND_AHEAD:
        raise PydanticCustomError("send_at_too_far", "at most {days} days ahead", {"days": MAX_SEND_AHEAD.days})
    return value


# IANA names start with a capital ("Europe/London", "UTC", "EST5EDT"); this also keeps out what a
# system zone directory holds besides zones ("localtime", "posixrules", "posix/...", "right/...").
_IANA_NAME = re.compile(r"[A-Z][A-Za-z0-9_+\-]*(?:/[A-Za-z0-9_+\-]+)*")


def _iana_zone(value: str) -> str:
    try:
        if not _IANA_NAME.fullmatch(value):
            raise ValueError(value)
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not an IANA time zone name like 'Europe/London'") from None
    return value


INVALID_PROJECT_DATA = "INVALID_PROJECT_DATA"


def _storable_project_data(value: dict[str, Any]) -> dict[str, Any]:
    # The processors copy project_data into the conversation record: a value DynamoDB cannot hold
    # must be refused here, not fail every write of the record later.
    try:
        check_storable(value, root="project_data")
    except Unstorable as error:
        context = {"where": error.path, "reason": error.reason}
        raise PydanticCustomError(INVALID_PROJECT_DATA, "{where} {reason}", context) from None
    return value


Identifier = Annotated[str, Field(pattern=ID_PATTERN)]
PhoneNumber = Annotated[str, Field(pattern=E164_PATTERN, description="E.164, e.g. +447700900123")]
EmailAddress = Annotated[
    str, Field(max_length=254), AfterValidator(_normalise_email), WithJsonSchema({"type": "string"})
]
# The recipient's whole address is lower-cased, local part included: it keys the conversation
# record and the reply index, so one person must have one spelling (docs/decisions.md, issue 9).
RecipientEmail = Annotated[EmailAddress, AfterValidator(str.lower)]
IanaZone = Annotated[
    str,
    Field(max_length=64),
    AfterValidator(_iana_zone),
    WithJsonSchema({"type": "string", "description": "IANA time zone name, e.g. Europe/London"}),
]
ProjectData = Annotated[dict[str, Any], AfterValidator(_storable_project_data)]
ChannelMethod = Annotated[
    Channel,
    BeforeValidator(_lower_channel),
    WithJsonSchema({"type": "string", "description": "whatsapp, sms or email (any case)"}),
]


class CompanyData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    company_id: Identifier
    project_id: Identifier
    # Older clients send ``api_key`` here; ``extra="ignore"`` drops it so it is never forwarded.


class RecipientData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    recipient_first_name: Annotated[str, Field(max_length=100)] | None = None
    recipient_last_name: Annotated[str, Field(max_length=100)] | None = None
    recipient_tel: PhoneNumber | None = None
    recipient_email: RecipientEmail | None = None
    comms_consent: StrictBool
    # The zone the project's send windows are read in (issue 12); None: the phone number's country
    # where it has one zone, else the project's default (``shared.consent.recipient_zone``).
    recipient_timezone: IanaZone | None = None


class RequestData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    request_id: Annotated[str, Field(pattern=UUID4_PATTERN), AfterValidator(str.lower)]
    channel_method: ChannelMethod
    initial_request_timestamp: Annotated[
        datetime,
        BeforeValidator(_iso_text_only),
        AfterValidator(_aware_timestamp),
        WithJsonSchema({"type": "string", "description": "ISO 8601 with a time zone"}),
    ]
    # Hold the first message until then (issue 12), stored in UTC; in the past: send now.
    send_at: (
        Annotated[
            datetime,
            BeforeValidator(_iso_text_only),
            AfterValidator(_aware_timestamp),
            AfterValidator(_send_at_within_reach),
            WithJsonSchema(
                {
                    "type": "string",
                    "format": "date-time",
                    "description": "ISO 8601 with a time zone, at most 30 days ahead; the first message waits "
                    "until then (and then for the project's send window)",
                }
            ),
        ]
        | None
    ) = None


class InitiateRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    company_data: CompanyData
    recipient_data: RecipientData
    project_data: ProjectData
    request_data: RequestData

    @model_validator(mode="after")
    def _recipient_reachable_with_consent(self) -> InitiateRequest:
        recipient = self.recipient_data
        channel = self.request_data.channel_method
        if channel.uses_phone_number and recipient.recipient_tel is None:
            raise PydanticCustomError(
                "MISSING_RECIPIENT_TEL",
                "recipient_tel is required for the {channel} channel",
                {"channel": channel.value},
            )
        if channel is Channel.EMAIL and recipient.recipient_email is None:
            raise PydanticCustomError("MISSING_RECIPIENT_EMAIL", "recipient_email is required for the email channel")
        if not recipient.comms_consent:
            raise PydanticCustomError("COMMS_CONSENT_REQUIRED", "the recipient has not consented to be contacted")
        return self

    @property
    def channel(self) -> Channel:
        return self.request_data.channel_method

    @property
    def recipient_address(self) -> str:
        """The recipient's address on the requested channel (the conversations table's PK)."""
        if self.channel.uses_phone_number:
            assert self.recipient_data.recipient_tel is not None
            return self.recipient_data.recipient_tel
        assert self.recipient_data.recipient_email is not None
        return self.recipient_data.recipient_email
