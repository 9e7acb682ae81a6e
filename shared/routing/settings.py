"""The channel router's settings: its environment contract (``FunctionEnvironment``)."""

from __future__ import annotations

import os

from pydantic import Field

from shared.channels import Channel
from shared.function_environment import FunctionEnvironment


class RouterSettings(FunctionEnvironment):
    # The deployment environment (dev, prod): names the secrets a project's record may name.
    environment: str = Field(alias="ENVIRONMENT", min_length=1)
    company_table_name: str = Field(alias="COMPANY_TABLE_NAME", min_length=1)
    rate_limit_table_name: str = Field(alias="RATE_LIMIT_TABLE_NAME", min_length=1)
    whatsapp_queue_url: str = Field(alias="WHATSAPP_QUEUE_URL", min_length=1)
    sms_queue_url: str = Field(alias="SMS_QUEUE_URL", min_length=1)
    email_queue_url: str = Field(alias="EMAIL_QUEUE_URL", min_length=1)
    router_version: str = Field(alias="ROUTER_VERSION", default="unversioned")
    # Consent (issue 12): the suppression list and the key of its address hashes (and of the
    # unsubscribe tokens), shared/consent/.
    suppressions_table_name: str = Field(alias="SUPPRESSIONS_TABLE_NAME", min_length=3)
    consent_key_secret_id: str = Field(alias="CONSENT_KEY_SECRET_ID", min_length=1)
    # The environment's public base URL (up to the stage): stamped on each context message so its
    # processor gives providers the webhook URLs of this API (Twilio StatusCallback).
    public_base_url: str = Field(alias="PUBLIC_BASE_URL", min_length=1)
    # Read by boto3 itself; part of the settings so a different emulator gets a new router.
    aws_endpoint_url: str | None = Field(alias="AWS_ENDPOINT_URL", default=None)

    @classmethod
    def from_environment(cls) -> RouterSettings:
        return cls.from_variables(os.environ)

    @property
    def queue_urls(self) -> dict[Channel, str]:
        return {
            Channel.WHATSAPP: self.whatsapp_queue_url,
            Channel.SMS: self.sms_queue_url,
            Channel.EMAIL: self.email_queue_url,
        }
