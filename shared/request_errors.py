"""Turns a request body into an ``InitiateRequest`` or a ``RequestInvalid`` with the seed's code."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from shared.api_errors import RequestInvalid
from shared.models.request import NOW, InitiateRequest

SECTIONS = ("company_data", "recipient_data", "project_data", "request_data")

# (section, field) -> (code when missing, code when invalid)
_FIELD_CODES: dict[tuple[str, str], tuple[str, str]] = {
    ("company_data", "company_id"): ("MISSING_IDENTIFIERS", "INVALID_COMPANY_ID_FORMAT"),
    ("company_data", "project_id"): ("MISSING_IDENTIFIERS", "INVALID_PROJECT_ID_FORMAT"),
    ("recipient_data", "recipient_tel"): ("MISSING_RECIPIENT_TEL", "INVALID_RECIPIENT_TEL"),
    ("recipient_data", "recipient_email"): ("MISSING_RECIPIENT_EMAIL", "INVALID_RECIPIENT_EMAIL"),
    ("recipient_data", "comms_consent"): ("MISSING_COMMS_CONSENT", "INVALID_COMMS_CONSENT_TYPE"),
    ("request_data", "request_id"): ("MISSING_REQUEST_ID", "INVALID_REQUEST_ID"),
    ("request_data", "channel_method"): ("MISSING_CHANNEL_METHOD", "UNSUPPORTED_CHANNEL"),
    ("request_data", "initial_request_timestamp"): (
        "MISSING_INITIAL_REQUEST_TIMESTAMP",
        "INVALID_TIMESTAMP",
    ),
    ("request_data", "send_at"): ("MISSING_SEND_AT", "INVALID_SEND_AT"),
}


def parse_initiate_request(body: Any, *, now: datetime | None = None) -> InitiateRequest:
    """``now``: when the request arrived (the router's clock), the instant ``send_at`` is judged from."""
    if not isinstance(body, dict):
        raise RequestInvalid("The request body must be a JSON object")
    try:
        return InitiateRequest.model_validate(body, context={NOW: now or datetime.now(UTC)})
    except ValidationError as error:
        raise _to_request_invalid(error.errors()[0]) from None


def _to_request_invalid(error: ErrorDetails) -> RequestInvalid:
    location = tuple(str(part) for part in error["loc"])
    missing = error["type"] == "missing"
    where = ".".join(location)
    if error["type"].isupper():
        # The model's own rules raise PydanticCustomError whose type is already the API code
        # (pydantic's own error types are lower case); the message names the field's path.
        return RequestInvalid(error["msg"], error_code=error["type"])
    if len(location) == 1:
        section = location[0].upper()
        if missing:
            return RequestInvalid(f"{where} is required", error_code=f"MISSING_{section}")
        return RequestInvalid(f"{where} must be an object", error_code=f"INVALID_{section}_TYPE")
    missing_code, invalid_code = _FIELD_CODES.get(
        (location[0], location[1]),
        (f"MISSING_{location[1].upper()}", f"INVALID_{location[1].upper()}_FORMAT"),
    )
    if missing:
        return RequestInvalid(f"{where} is required", error_code=missing_code)
    return RequestInvalid(f"{where}: {error['msg']}", error_code=invalid_code)
