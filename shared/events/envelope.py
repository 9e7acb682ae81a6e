"""The events queue's message: one verified provider callback, as the webhook ingress queued it.

The ingress only verifies and queues; everything that interprets a payload runs behind the queue
(the events processor). So the payload travels as the provider sent it: Twilio's form parameters
as a flat dict, or one event object of a SendGrid Event Webhook batch (a batch is split into one
queue message per event, so one bad event never holds up the others).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared import json_codec
from shared.models.request import Identifier

EVENTS_SCHEMA_VERSION = "1"


class Provider(StrEnum):
    TWILIO = "twilio"
    SENDGRID = "sendgrid"


class EventKind(StrEnum):
    # Twilio status callback (``/webhooks/twilio/{company_id}/{project_id}/status``).
    TWILIO_STATUS = "twilio_status"
    # One event of a SendGrid Event Webhook batch (``/webhooks/sendgrid/{company_id}/{project_id}/events``).
    SENDGRID_EVENT = "sendgrid_event"
    # The person's message to a tenant's WhatsApp sender or SMS number (``…/twilio/…/inbound``):
    # Twilio's form parameters as posted.
    TWILIO_INBOUND = "twilio_inbound"
    # An email posted by SendGrid Inbound Parse (``…/sendgrid/…/inbound``): the form's text fields
    # (from, to, cc, subject, text, html, headers, envelope), attachments only counted.
    SENDGRID_INBOUND = "sendgrid_inbound"

    @property
    def is_inbound(self) -> bool:
        return self in (EventKind.TWILIO_INBOUND, EventKind.SENDGRID_INBOUND)


class ProviderEvent(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: str = EVENTS_SCHEMA_VERSION
    provider: Provider
    kind: EventKind
    # The tenant whose URL and signature the event came through: the only tenant it may touch.
    company_id: Identifier
    project_id: Identifier
    received_at: AwareDatetime
    # API Gateway's request id, joining the ingress's log line to the processor's.
    correlation_id: str | None = None
    # The environment's public base URL as the ingress knows it, for any send this event leads to.
    callback_base_url: str = Field(min_length=1)
    payload: dict[str, Any]

    def to_body(self) -> str:
        return json_codec.dumps(self.model_dump(mode="json"))

    @classmethod
    def from_body(cls, body: str) -> ProviderEvent:
        """The queue body as an event; ``ValueError`` (pydantic's included) when it is not one."""
        return cls.model_validate(json_codec.loads(body))
