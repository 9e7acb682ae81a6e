"""What API Gateway itself answers, before or instead of the router: the request model it
validates bodies against and its own error responses, in the engine's error envelope.

No CDK here: the ApiStack renders these into the REST API, and the local gateway answers with them,
so a client sees the same status, code and headers from a deployed API and from the local stack.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.models.request import InitiateRequest
from shared.routing import cors
from shared.routing.proxy_request import MAX_BODY_BYTES, NOT_A_JSON_OBJECT
from shared.routing.responses import error_envelope

DRAFT4 = "http://json-schema.org/draft-04/schema#"
RESOURCE_PATH = "/initiate-conversation"
# API Gateway validates a body only against the model mapped to the request's Content-Type and
# lets every other content type through unchecked; "$default" maps the model to every content
# type. The router reads any body as JSON whatever its Content-Type, so every body is checked, by
# the deployed gateway and by the local one alike.
MODEL_CONTENT_TYPE = "$default"


def request_body_schema() -> dict[str, Any]:
    """The API Gateway request model (JSON Schema draft 4) for ``POST /initiate-conversation``.

    Built from the pydantic ``InitiateRequest`` but reduced to what the router would answer with
    ``INVALID_REQUEST``: the body must be a JSON object. Field rules are left to the router so that
    a missing section gets ``MISSING_COMPANY_DATA`` and not the gateway's generic 400; the fields
    are still listed, with titles and descriptions, to document the contract.
    """
    source = InitiateRequest.model_json_schema()
    definitions = source.get("$defs", {})
    properties = {}
    for name, prop in source["properties"].items():
        resolved = definitions[prop["$ref"].split("/")[-1]] if "$ref" in prop else prop
        properties[name] = {"title": resolved.get("title", name), "description": _describe(resolved)}
    return {
        "$schema": DRAFT4,
        "title": source["title"],
        "description": "Opens a conversation with one recipient on one channel. API Gateway checks that "
        "the body is a JSON object; the router checks every field and answers with a specific error code.",
        "type": "object",
        "properties": properties,
    }


def _describe(schema: dict[str, Any]) -> str:
    fields = list(schema.get("properties", {}))
    if fields:
        required = set(schema.get("required", []))
        listed = ", ".join(f"{name}{'' if name in required else ' (optional)'}" for name in fields)
        return f"An object with {listed}"
    return f"A free-form {schema.get('type', 'value')}"


@dataclass(frozen=True)
class GatewayError:
    """One of API Gateway's own answers, in the engine's error envelope.

    ``response_type`` is API Gateway's GatewayResponseType; ``status`` None keeps API Gateway's own
    status (the DEFAULT_* types cover several statuses).
    """

    response_type: str
    status: int | None
    error_code: str
    message: str
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        # The body's request_id is the client's; API Gateway cannot read it from the body. Its own
        # request id reaches the client in the x-amzn-RequestId header.
        return error_envelope(self.error_code, self.message, None)

    def all_headers(self) -> dict[str, str]:
        return {"Content-Type": "application/json", **cors.response_headers(), **self.headers}


GATEWAY_ERRORS: tuple[GatewayError, ...] = (
    # The request model refused the body (or it is not JSON): the router's own answer to that.
    GatewayError("BAD_REQUEST_BODY", 400, "INVALID_REQUEST", NOT_A_JSON_OBJECT),
    # No x-api-key, or one API Gateway does not know.
    GatewayError("INVALID_API_KEY", 403, "INVALID_API_KEY", "A valid x-api-key header is required"),
    # API Gateway's name for "no such resource or method"; with ANY answered on the resource
    # (405 below), only unknown paths get here, so it is a 404 rather than API Gateway's 403.
    GatewayError(
        "MISSING_AUTHENTICATION_TOKEN", 404, "NOT_FOUND", "No such resource; the routes are listed in docs/openapi.json"
    ),
    # The usage plan's per-key throttle (a per-second rate), not the project's limits.
    GatewayError("THROTTLED", 429, "RATE_LIMIT_EXCEEDED", "Too many requests for this API key", {"Retry-After": "1"}),
    GatewayError("QUOTA_EXCEEDED", 429, "RATE_LIMIT_EXCEEDED", "The API key's request quota is used up"),
    GatewayError(
        "REQUEST_TOO_LARGE", 413, "PAYLOAD_TOO_LARGE", f"The request body is larger than {MAX_BODY_BYTES} bytes"
    ),
    GatewayError("DEFAULT_4XX", None, "REQUEST_REJECTED", "The API gateway rejected the request"),
    # Router timeouts or crashes (502/504): no detail, like the router's own INTERNAL_ERROR.
    GatewayError("DEFAULT_5XX", None, "INTERNAL_ERROR", "The request could not be completed; retry later"),
)

# Any method other than POST and OPTIONS on the resource: a MOCK integration, no key needed.
METHOD_NOT_ALLOWED = GatewayError(
    "METHOD_NOT_ALLOWED",
    405,
    "METHOD_NOT_ALLOWED",
    f"Only POST is supported on {RESOURCE_PATH}",
    {"Allow": ", ".join(cors.ALLOW_METHODS)},
)


def read_method_not_allowed(resource: str) -> GatewayError:
    """Any method other than GET and OPTIONS on a read route (issue 13, ``resource`` its API
    Gateway path): a MOCK answer, word for word the reader's own 405 for that resource."""
    return GatewayError(
        "METHOD_NOT_ALLOWED",
        405,
        "METHOD_NOT_ALLOWED",
        f"Only GET is supported on {resource}",
        {"Allow": ", ".join(cors.READ_ALLOW_METHODS)},
    )


def gateway_error(response_type: str) -> GatewayError:
    """The answer for one of API Gateway's response types (DEFAULT_4XX/5XX for the others)."""
    for error in (*GATEWAY_ERRORS, METHOD_NOT_ALLOWED):
        if error.response_type == response_type:
            return error
    raise KeyError(response_type)
