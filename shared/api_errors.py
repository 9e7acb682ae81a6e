"""Errors the API answers with: one class per failure a client can act on (DESIGN §5)."""

from __future__ import annotations


class ApiError(Exception):
    """An error the router turns into ``{"status": "error", "error_code", "message"}``."""

    status_code: int = 500
    error_code: str = "INTERNAL_ERROR"

    def __init__(self, message: str, *, error_code: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        if error_code is not None:
            self.error_code = error_code
        self.headers = headers or {}


class RequestInvalid(ApiError):
    status_code = 400
    error_code = "INVALID_REQUEST"


class PayloadTooLarge(ApiError):
    status_code = 413
    error_code = "PAYLOAD_TOO_LARGE"


class CompanyNotFound(ApiError):
    status_code = 404
    error_code = "COMPANY_NOT_FOUND"


class Forbidden(ApiError):
    """PROJECT_INACTIVE, CHANNEL_NOT_ALLOWED, API_KEY_NOT_AUTHORIZED."""

    status_code = 403


class RateLimitExceeded(ApiError):
    status_code = 429
    error_code = "RATE_LIMIT_EXCEEDED"

    def __init__(self, message: str, *, retry_after_seconds: int):
        super().__init__(message, headers={"Retry-After": str(retry_after_seconds)})
        self.retry_after_seconds = retry_after_seconds


class Conflict(ApiError):
    """REQUEST_ID_REUSED, REQUEST_IN_PROGRESS, RECIPIENT_OPTED_OUT."""

    status_code = 409


class ServerFault(ApiError):
    """CONFIGURATION_ERROR, DATABASE_ERROR, QUEUE_ERROR, INTERNAL_ERROR, CONSENT_CHECK_UNAVAILABLE."""

    status_code = 500


# Named failures of the request path (issue 3); each maps once to a status and an error code.


class ApiKeyNotAuthorized(Forbidden):
    error_code = "API_KEY_NOT_AUTHORIZED"


class ProjectInactive(Forbidden):
    error_code = "PROJECT_INACTIVE"


class ChannelNotAllowed(Forbidden):
    error_code = "CHANNEL_NOT_ALLOWED"


class ConfigurationError(ServerFault):
    error_code = "CONFIGURATION_ERROR"


class DatabaseError(ServerFault):
    error_code = "DATABASE_ERROR"


class QueueError(ServerFault):
    error_code = "QUEUE_ERROR"


class InternalError(ServerFault):
    error_code = "INTERNAL_ERROR"


class RequestIdReused(Conflict):
    """The request_id was already used for a different request of this project."""

    error_code = "REQUEST_ID_REUSED"


class RequestInProgress(Conflict):
    """An identical request is being queued right now; the client should retry shortly."""

    error_code = "REQUEST_IN_PROGRESS"

    def __init__(self, message: str, *, retry_after_seconds: int):
        super().__init__(message, headers={"Retry-After": str(retry_after_seconds)})
        self.retry_after_seconds = retry_after_seconds


class RecipientOptedOut(Conflict):
    """The recipient is on the company's suppression list for this channel (issue 12)."""

    error_code = "RECIPIENT_OPTED_OUT"


class ConsentCheckUnavailable(ServerFault):
    """The suppression list or its key could not be read: the router fails closed (issue 12)."""

    status_code = 503
    error_code = "CONSENT_CHECK_UNAVAILABLE"


# The tenant's read API (issue 13, shared/reading/).


class ConversationNotFound(ApiError):
    """No conversation with this id in a project the key may read (never says which)."""

    status_code = 404
    error_code = "CONVERSATION_NOT_FOUND"


class MethodNotAllowed(ApiError):
    """A method other than GET (and the gateway's OPTIONS) on a read resource."""

    status_code = 405
    error_code = "METHOD_NOT_ALLOWED"


class InvalidConversationId(RequestInvalid):
    """The id (URL-decoded) is not ``{company_id}#{project_id}#{request_id}#{sender}``."""

    error_code = "INVALID_CONVERSATION_ID"


class InvalidListQuery(RequestInvalid):
    """A listing's query string; ``error_codes`` are all it answers (the document lists them from
    here): the default, a parameter given twice, or the one naming the parameter that is wrong."""

    error_code = "INVALID_QUERY"
    error_codes = (
        "INVALID_QUERY",
        "INVALID_STATUS_FILTER",
        "INVALID_TIME_RANGE",
        "INVALID_LIMIT",
        "INVALID_NEXT_TOKEN",
        "UNKNOWN_QUERY_PARAMETER",
    )
