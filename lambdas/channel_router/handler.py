"""Channel router: ``POST /initiate-conversation`` (API Gateway REST, Lambda proxy integration).

The flow is ``shared.routing.router``; this module only wires settings, logging, the ``Requests``
metric (one per request, by outcome and error code) and the one catch-all that turns an unexpected
failure into a 500 without detail.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.routing.request_outcome import UNEXPECTED, Routed, count_request
from shared.routing.responses import unexpected_failure
from shared.routing.router import Router
from shared.routing.settings import RouterSettings
from shared.routing.wiring import build_router

logger = Logger()


@lru_cache(maxsize=1)
def router_for(settings: RouterSettings) -> Router:
    # Built once per container (clients and their connection pools are reused across invocations).
    return build_router(
        company_table=settings.company_table_name,
        rate_limit_table=settings.rate_limit_table_name,
        suppressions_table=settings.suppressions_table_name,
        consent_key_secret_id=settings.consent_key_secret_id,
        queue_urls=settings.queue_urls,
        router_version=settings.router_version,
        environment=settings.environment,
        callback_base_url=settings.public_base_url,
    )


# log_event=False explicitly: the event holds the API key and personal data, whatever the env says.
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False, clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        routed = router_for(RouterSettings.from_environment()).route(event)
    except Exception as error:  # the single outermost catch
        routed = Routed(unexpected_failure(logger, error), UNEXPECTED)
    count_request(routed.outcome)
    return routed.response
