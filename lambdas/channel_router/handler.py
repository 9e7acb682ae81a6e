"""Channel router: ``POST /initiate-conversation`` (API Gateway REST, Lambda proxy integration).

The flow is ``shared.routing.router``; this module only wires settings, logging and the one
catch-all that turns an unexpected failure into a 500 without detail.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from shared.api_errors import InternalError
from shared.channels import Channel
from shared.log_masking import describe_error, masked_traceback
from shared.routing.responses import error_response
from shared.routing.router import Router
from shared.routing.wiring import build_router

logger = Logger()


class RouterSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    company_table_name: str = Field(alias="COMPANY_TABLE_NAME", min_length=1)
    rate_limit_table_name: str = Field(alias="RATE_LIMIT_TABLE_NAME", min_length=1)
    whatsapp_queue_url: str = Field(alias="WHATSAPP_QUEUE_URL", min_length=1)
    sms_queue_url: str = Field(alias="SMS_QUEUE_URL", min_length=1)
    email_queue_url: str = Field(alias="EMAIL_QUEUE_URL", min_length=1)
    router_version: str = Field(alias="ROUTER_VERSION", default="unversioned")
    # Read by boto3 itself; part of the settings so a different emulator gets a new router.
    aws_endpoint_url: str | None = Field(alias="AWS_ENDPOINT_URL", default=None)

    @classmethod
    def from_environment(cls) -> RouterSettings:
        # Only this model's variables: a validation error must never quote the rest of the
        # environment (the Lambda runtime keeps session credentials there).
        names = {field.alias for field in cls.model_fields.values()}
        return cls.model_validate({name: value for name, value in os.environ.items() if name in names})


@lru_cache(maxsize=1)
def router_for(settings: RouterSettings) -> Router:
    # Built once per container (clients and their connection pools are reused across invocations).
    return build_router(
        company_table=settings.company_table_name,
        rate_limit_table=settings.rate_limit_table_name,
        queue_urls={
            Channel.WHATSAPP: settings.whatsapp_queue_url,
            Channel.SMS: settings.sms_queue_url,
            Channel.EMAIL: settings.email_queue_url,
        },
        router_version=settings.router_version,
    )


# log_event=False explicitly: the event holds the API key and personal data, whatever the env says.
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False, clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        return router_for(RouterSettings.from_environment()).route(event)
    except Exception as error:  # the single outermost catch: log the cause (masked), answer without detail
        logger.error(
            "Unexpected failure",
            extra={
                "error_code": InternalError.error_code,
                "cause": describe_error(error),
                "trace": masked_traceback(error),
            },
        )
        return error_response(InternalError("The request could not be processed"), request_id=None)
