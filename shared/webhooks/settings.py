"""The webhook ingress function's settings: its environment contract (``FunctionEnvironment``)."""

from __future__ import annotations

import os

from pydantic import Field

from shared.function_environment import FunctionEnvironment

# A Twilio callback is a few hundred bytes (an inbound message up to 1,600 characters of text);
# SendGrid posts events in batches (its documentation speaks of up to 768 KB). Anything larger is
# not from them.
DEFAULT_TWILIO_MAX_BODY_BYTES = 64 * 1024
DEFAULT_SENDGRID_MAX_BODY_BYTES = 1024 * 1024
# Inbound Parse posts the whole email, attachments included (they are counted, never queued). The
# event API Gateway hands the function holds the body base64-encoded (4/3 of it) and Lambda takes at
# most 6 MB per invocation: 4 MiB is about the largest body that can arrive at all.
DEFAULT_SENDGRID_INBOUND_MAX_BODY_BYTES = 4 * 1024 * 1024
# SendGrid's signed timestamp: a batch older than this is a replay (issue 10: five minutes).
DEFAULT_SIGNATURE_MAX_AGE_SECONDS = 300


class WebhookSettings(FunctionEnvironment):
    # The deployment environment (dev, prod): names the credentials secrets a project may name.
    environment: str = Field(alias="ENVIRONMENT", min_length=1)
    company_table_name: str = Field(alias="COMPANY_TABLE_NAME", min_length=1)
    events_queue_url: str = Field(alias="EVENTS_QUEUE_URL", min_length=1)
    # The URL providers call, up to the stage (``https://api.example.com`` or
    # ``https://<id>.execute-api.<region>.amazonaws.com/<stage>``); signatures are over it + the route.
    public_base_url: str = Field(alias="PUBLIC_BASE_URL", min_length=1)
    # Consent (issue 12): the suppression list and the key of its address hashes (and of the
    # unsubscribe tokens), shared/consent/.
    suppressions_table_name: str = Field(alias="SUPPRESSIONS_TABLE_NAME", min_length=3)
    consent_key_secret_id: str = Field(alias="CONSENT_KEY_SECRET_ID", min_length=1)
    twilio_max_body_bytes: int = Field(alias="TWILIO_MAX_BODY_BYTES", default=DEFAULT_TWILIO_MAX_BODY_BYTES, gt=0)
    sendgrid_max_body_bytes: int = Field(alias="SENDGRID_MAX_BODY_BYTES", default=DEFAULT_SENDGRID_MAX_BODY_BYTES, gt=0)
    sendgrid_inbound_max_body_bytes: int = Field(
        alias="SENDGRID_INBOUND_MAX_BODY_BYTES", default=DEFAULT_SENDGRID_INBOUND_MAX_BODY_BYTES, gt=0
    )
    signature_max_age_seconds: int = Field(
        alias="SIGNATURE_MAX_AGE_SECONDS", default=DEFAULT_SIGNATURE_MAX_AGE_SECONDS, gt=0
    )
    # Read by boto3 itself; part of the settings so a different emulator gets a new function.
    aws_endpoint_url: str | None = Field(alias="AWS_ENDPOINT_URL", default=None)

    @classmethod
    def from_environment(cls) -> WebhookSettings:
        return cls.from_variables(os.environ)
