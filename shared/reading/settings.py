"""The conversation reader's settings: its environment contract (``FunctionEnvironment``)."""

from __future__ import annotations

import os

from pydantic import Field

from shared.function_environment import FunctionEnvironment


class ReaderSettings(FunctionEnvironment):
    environment: str = Field(alias="ENVIRONMENT", min_length=1)
    company_table_name: str = Field(alias="COMPANY_TABLE_NAME", min_length=3)
    conversations_table_name: str = Field(alias="CONVERSATIONS_TABLE_NAME", min_length=3)
    # The listing's next_token is signed with the environment's consent key (purpose
    # ``list-cursor-v1``), so it cannot be altered or used by another key.
    consent_key_secret_id: str = Field(alias="CONSENT_KEY_SECRET_ID", min_length=1)
    aws_endpoint_url: str | None = Field(alias="AWS_ENDPOINT_URL", default=None)

    @classmethod
    def from_environment(cls) -> ReaderSettings:
        return cls.from_variables(os.environ)
