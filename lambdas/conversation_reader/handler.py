"""Conversation reader: ``GET /conversations/{conversation_id}`` and ``GET /conversations`` (API
Gateway REST, Lambda proxy integration).

The flow is ``shared.reading.reader``; this module only wires settings, logging and the one
catch-all that turns an unexpected failure into a 500 without detail.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.reading.reader import ConversationReader
from shared.reading.settings import ReaderSettings
from shared.reading.wiring import build_reader
from shared.routing.responses import unexpected_failure

logger = Logger()


@lru_cache(maxsize=1)
def reader_for(settings: ReaderSettings) -> ConversationReader:
    # Built once per container (clients and their connection pools are reused across invocations).
    return build_reader(settings)


# log_event=False explicitly: the event holds the API key, and the listing's next_token.
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False, clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        return reader_for(ReaderSettings.from_environment()).answer(event)
    except Exception as error:  # the single outermost catch
        return unexpected_failure(logger, error)
