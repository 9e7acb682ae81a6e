"""Lambda proxy responses of the router: the API's success and error envelopes, with CORS."""

from __future__ import annotations

import json
from typing import Any

from shared.api_errors import ApiError, InternalError
from shared.log_masking import describe_error, masked_traceback
from shared.routing import cors

SUCCESS_MESSAGE = "Request accepted and queued for processing"


def success_response(
    *, request_id: str, conversation_id: str, queue_timestamp: str, scheduled_for: str | None = None
) -> dict[str, Any]:
    """``scheduled_for``: when the first message waits (``send_at`` or quiet hours); only then present."""
    body = {
        "status": "success",
        "request_id": request_id,
        "conversation_id": conversation_id,
        "message": SUCCESS_MESSAGE,
        "queue_timestamp": queue_timestamp,
    }
    if scheduled_for is not None:
        body["scheduled_for"] = scheduled_for
    return _response(200, body)


def ok_response(body: dict[str, Any]) -> dict[str, Any]:
    """A 200 with a JSON body (the read API's answers)."""
    return _response(200, body)


def error_response(error: ApiError, *, request_id: str | None) -> dict[str, Any]:
    """``request_id`` is the client's ``request_data.request_id`` when the body carried a valid one."""
    return _response(error.status_code, error_envelope(error.error_code, error.message, request_id), error.headers)


def unexpected_failure(logger: Any, error: Exception) -> dict[str, Any]:
    """The API functions' single outermost catch: log the cause (masked), answer 500 without detail."""
    logger.error(
        "Unexpected failure",
        extra={
            "error_code": InternalError.error_code,
            "cause": describe_error(error),
            "trace": masked_traceback(error),
        },
    )
    return error_response(InternalError("The request could not be processed"), request_id=None)


def error_envelope(error_code: str, message: str, request_id: str | None) -> dict[str, Any]:
    return {"status": "error", "error_code": error_code, "message": message, "request_id": request_id}


def _response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json", **cors.response_headers(), **(headers or {})},
        "body": json.dumps(body, ensure_ascii=False),
        "isBase64Encoded": False,
    }
