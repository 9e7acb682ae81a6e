"""The API's OpenAPI 3.1 document (`docs/openapi.json`), built from the code that answers requests.

The request schema is the router's own pydantic model; the error codes are listed once, below, with
what a client should do about each. Tests check that every code the router, the validation and API
Gateway can answer is listed here, and that the committed document is what this module builds.
The providers' webhook routes (issue 10), the inbound routes (issue 11) and the one-click
unsubscribe link (issue 12) are documented from the ingress's own constants.

    .venv/bin/python -m tools.openapi            # rewrite docs/openapi.json
    .venv/bin/python -m tools.openapi --check    # exit 1 when the committed document is stale
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from sendgrid.helpers.eventwebhook import EventWebhookHeader

from shared.identifiers import ID_PATTERN
from shared.models.request import InitiateRequest
from shared.routing import cors
from shared.routing.gateway_contract import RESOURCE_PATH
from shared.webhooks import settings as webhook_settings
from shared.webhooks.routes import (
    SENDGRID_EVENTS,
    SENDGRID_INBOUND,
    TWILIO_INBOUND,
    TWILIO_STATUS,
    UNSUBSCRIBE_PATH,
)
from shared.webhooks.sendgrid_inbound import (
    FIELD_CAPS,
    MIN_TOKEN_LENGTH,
    QUEUED_FIELDS,
    RAW_MESSAGE_FIELD,
    TOKEN_PARAMETER,
    SendGridInboundWebhook,
)
from shared.webhooks.sendgrid_webhook import SendGridWebhook
from shared.webhooks.twilio_webhook import EMPTY_TWIML, SIGNATURE_HEADER, TwilioWebhook
from shared.webhooks.unsubscribe import PAGE_HEADERS

DOCUMENT = Path(__file__).resolve().parent.parent / "docs" / "openapi.json"

# (HTTP status, error_code) -> what it means for the client. One line per code the API can answer;
# status None: API Gateway's catch-all 4xx/5xx, whose status is the one API Gateway chose.
ERROR_CODES: dict[tuple[int | None, str], str] = {
    (400, "INVALID_REQUEST"): "The body is not a JSON object, not UTF-8, or not valid JSON.",
    (400, "MISSING_IDENTIFIERS"): "company_data.company_id or project_id is missing.",
    (400, "INVALID_COMPANY_ID_FORMAT"): "company_id does not match [A-Za-z0-9][A-Za-z0-9_.-]{0,63}.",
    (400, "INVALID_PROJECT_ID_FORMAT"): "project_id does not match [A-Za-z0-9][A-Za-z0-9_.-]{0,63}.",
    (400, "MISSING_COMPANY_DATA"): "The company_data section is missing.",
    (400, "MISSING_RECIPIENT_DATA"): "The recipient_data section is missing.",
    (400, "MISSING_PROJECT_DATA"): "The project_data section is missing.",
    (400, "MISSING_REQUEST_DATA"): "The request_data section is missing.",
    (400, "INVALID_COMPANY_DATA_TYPE"): "company_data is not an object.",
    (400, "INVALID_RECIPIENT_DATA_TYPE"): "recipient_data is not an object.",
    (400, "INVALID_PROJECT_DATA_TYPE"): "project_data is not an object.",
    (400, "INVALID_REQUEST_DATA_TYPE"): "request_data is not an object.",
    (400, "INVALID_RECIPIENT_FIRST_NAME_FORMAT"): "recipient_first_name is not text of at most 100 characters.",
    (400, "INVALID_RECIPIENT_LAST_NAME_FORMAT"): "recipient_last_name is not text of at most 100 characters.",
    (400, "MISSING_RECIPIENT_TEL"): "The channel is whatsapp or sms and recipient_tel is missing.",
    (400, "INVALID_RECIPIENT_TEL"): "recipient_tel is not an E.164 number (+ and 8-15 digits).",
    (400, "MISSING_RECIPIENT_EMAIL"): "The channel is email and recipient_email is missing.",
    (400, "INVALID_RECIPIENT_EMAIL"): "recipient_email is not a valid address.",
    (400, "MISSING_COMMS_CONSENT"): "recipient_data.comms_consent is missing.",
    (400, "INVALID_COMMS_CONSENT_TYPE"): "comms_consent is not a JSON boolean.",
    (400, "COMMS_CONSENT_REQUIRED"): "comms_consent is false: the engine contacts only people who consented.",
    (400, "MISSING_REQUEST_ID"): "request_data.request_id is missing.",
    (400, "INVALID_REQUEST_ID"): "request_id is not a UUID v4.",
    (400, "MISSING_CHANNEL_METHOD"): "request_data.channel_method is missing.",
    (400, "UNSUPPORTED_CHANNEL"): "channel_method is not whatsapp, sms or email.",
    (400, "MISSING_INITIAL_REQUEST_TIMESTAMP"): "request_data.initial_request_timestamp is missing.",
    (400, "INVALID_TIMESTAMP"): "initial_request_timestamp is not ISO 8601 text with a time zone.",
    (400, "INVALID_RECIPIENT_TIMEZONE_FORMAT"): "recipient_timezone is not an IANA time zone name like Europe/London.",
    (400, "INVALID_SEND_AT"): "send_at is not ISO 8601 text with a time zone, or is more than 30 days ahead.",
    (400, "INVALID_PROJECT_DATA"): "A project_data value DynamoDB cannot store (digits, magnitude, nesting, size); "
    "the message names its path.",
    (400, "INVALID_CONVERSATION_ID"): "The id (URL-decoded) is not {company_id}#{project_id}#{request_id}#{sender}.",
    (400, "INVALID_QUERY"): "A listing's query string is not valid (the message names the parameter).",
    (404, "CONVERSATION_NOT_FOUND"): "No conversation with this id in a project the key may read.",
    (403, "INVALID_API_KEY"): "No x-api-key header, or a key API Gateway does not know (API Gateway answers).",
    (403, "API_KEY_NOT_AUTHORIZED"): "The key is valid but not bound to this company/project.",
    (403, "PROJECT_INACTIVE"): "The project's status is not active.",
    (403, "CHANNEL_NOT_ALLOWED"): "The project does not allow the requested channel.",
    (404, "COMPANY_NOT_FOUND"): "No company/project record with these ids.",
    (404, "NOT_FOUND"): "No such resource (API Gateway answers).",
    (405, "METHOD_NOT_ALLOWED"): f"Only POST (and the OPTIONS preflight) on {RESOURCE_PATH}.",
    (409, "REQUEST_ID_REUSED"): "This request_id was used with a different body: send a new request_id.",
    (409, "REQUEST_IN_PROGRESS"): "An identical request is being queued right now: retry after Retry-After s.",
    (409, "RECIPIENT_OPTED_OUT"): "The recipient opted out of this channel for this company (STOP, unsubscribe, "
    "a bounce, an operator): nothing was queued; do not retry.",
    (413, "PAYLOAD_TOO_LARGE"): "The body exceeds 64 KiB, or with the project's configuration exceeds 128 KiB.",
    (429, "RATE_LIMIT_EXCEEDED"): "A project limit or the key's usage plan refused the request: wait Retry-After s.",
    (500, "CONFIGURATION_ERROR"): "The project's record cannot serve the request; the operator must fix it.",
    (500, "DATABASE_ERROR"): "The configuration could not be read; retry later.",
    (500, "QUEUE_ERROR"): "The request could not be queued; nothing was sent; retry later.",
    (500, "INTERNAL_ERROR"): "An unexpected failure; nothing was queued; retry later.",
    (503, "CONSENT_CHECK_UNAVAILABLE"): "The suppression list could not be read, so nothing was queued; retry later.",
    (None, "REQUEST_REJECTED"): "Any other refusal by API Gateway (its own 4xx).",
    (None, "INTERNAL_ERROR"): "API Gateway's own 5xx (the router timed out or crashed: 502/504); retry later.",
}


def build_document() -> dict[str, Any]:
    request_schema = InitiateRequest.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas: dict[str, Any] = dict(request_schema.pop("$defs", {}))
    schemas["InitiateRequest"] = request_schema
    schemas["Accepted"] = {
        "type": "object",
        "required": ["status", "request_id", "conversation_id", "message", "queue_timestamp"],
        "properties": {
            "status": {"type": "string", "enum": ["success"]},
            "request_id": {"type": "string", "format": "uuid"},
            "conversation_id": {"type": "string", "description": "{company_id}#{project_id}#{request_id}#{sender}"},
            "message": {"type": "string"},
            "queue_timestamp": {"type": "string", "format": "date-time"},
            "scheduled_for": {
                "type": "string",
                "format": "date-time",
                "description": "Present only when the first message waits (send_at, or the project's send "
                "windows in the recipient's time zone): when it goes, in UTC. A replay answers the same.",
            },
        },
    }
    schemas["Error"] = {
        "type": "object",
        "required": ["status", "error_code", "message", "request_id"],
        "properties": {
            "status": {"type": "string", "enum": ["error"]},
            "error_code": {"type": "string"},
            "message": {"type": "string"},
            "request_id": {"type": ["string", "null"], "description": "The client's, when valid."},
        },
    }
    responses: dict[str, Any] = {
        "200": {
            "description": "Accepted and queued; a replay of the same request answers the same.",
            "headers": _headers(),
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Accepted"}}},
        }
    }
    for status in sorted({status for status, _ in ERROR_CODES if status is not None}):
        responses[str(status)] = _error_response(status)
    responses["default"] = _error_response(None)
    schemas.update(_webhook_schemas())
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "AI Multi-Comms Engine",
            "version": "1",
            "description": "Opens a conversation with one person on WhatsApp, SMS or email; the first message is "
            "written by an LLM from the request's data. Every response carries the CORS headers.",
        },
        "paths": {
            RESOURCE_PATH: {
                "post": {
                    "operationId": "initiateConversation",
                    "security": [{"ApiKey": []}],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/InitiateRequest"}}},
                    },
                    "responses": responses,
                },
                "options": {
                    "operationId": "preflight",
                    "responses": {"204": {"description": "CORS preflight", "headers": _headers()}},
                },
            },
            **_webhook_paths(),
            UNSUBSCRIBE_PATH: _unsubscribe_path(),
        },
        "components": {
            "securitySchemes": {"ApiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"}},
            "schemas": schemas,
        },
    }


# Every refusal of the webhook ingress is the bare status: a provider needs nothing more, and a
# forger should learn nothing. The reason is in the ingress's log line.
WEBHOOK_REFUSALS: dict[int, str] = {
    400: "Not the provider's content type, or a body that is not its form / JSON array of event objects / "
    "multipart form with from and to (a repeated form parameter or field included).",
    403: "Unknown project, a project without this provider's channel, or a missing, forged, another "
    "tenant's or (SendGrid) stale signature; Inbound Parse: a missing or wrong token, or another query "
    "parameter.",
    413: "The body is larger than the route accepts.",
    500: "An unexpected failure; nothing was queued; the provider may post again.",
    503: "A dependency (company table, Secrets Manager, events queue) failed; post again later.",
}


def _webhook_paths() -> dict[str, Any]:
    twilio, sendgrid = TwilioWebhook(), SendGridWebhook(webhook_settings.DEFAULT_SIGNATURE_MAX_AGE_SECONDS)
    twilio_signature = (
        SIGNATURE_HEADER,
        "HMAC-SHA1 of this URL (as configured) and the sorted form parameters, "
        "keyed with the auth token of a WhatsApp or SMS credentials secret of the project.",
    )
    empty_twiml = {
        "description": "Verified and queued. Empty TwiML: Twilio is asked to do nothing more.",
        "content": {"text/xml": {"schema": {"type": "string"}, "example": EMPTY_TWIML}},
    }
    return {
        TWILIO_STATUS.path: _webhook_operation(
            operation_id="twilioStatusCallback",
            summary="Twilio status callback of a message the engine sent (the StatusCallback of every send).",
            headers=[twilio_signature],
            media_type=twilio.media_type,
            body_schema="TwilioStatusCallback",
            max_bytes=webhook_settings.DEFAULT_TWILIO_MAX_BODY_BYTES,
            accepted=empty_twiml,
        ),
        SENDGRID_EVENTS.path: _webhook_operation(
            operation_id="sendgridEventWebhook",
            summary="SendGrid signed Event Webhook: a batch of events, queued one by one.",
            headers=[
                (
                    EventWebhookHeader.SIGNATURE,
                    "Base64 ECDSA (P-256, SHA-256) signature of the timestamp header "
                    "followed by the raw body, verified with the project's sendgrid_webhook_public_key.",
                ),
                (
                    EventWebhookHeader.TIMESTAMP,
                    "Unix seconds; refused more than "
                    f"{webhook_settings.DEFAULT_SIGNATURE_MAX_AGE_SECONDS} s from now (replay window).",
                ),
            ],
            media_type=sendgrid.media_type,
            body_schema="SendGridEvents",
            max_bytes=webhook_settings.DEFAULT_SENDGRID_MAX_BODY_BYTES,
            accepted={"description": "Verified and queued; empty body."},
        ),
        TWILIO_INBOUND.path: _webhook_operation(
            operation_id="twilioInboundMessage",
            summary="A message the person sent to the tenant's WhatsApp sender or SMS number ('A message comes "
            "in'), queued as one event for the conversation it answers.",
            headers=[twilio_signature],
            media_type=twilio.media_type,
            body_schema="TwilioInboundMessage",
            max_bytes=webhook_settings.DEFAULT_TWILIO_MAX_BODY_BYTES,
            accepted={**empty_twiml, "description": f"{empty_twiml['description']} Twilio sends no reply of its own."},
        ),
        SENDGRID_INBOUND.path: _webhook_operation(
            operation_id="sendgridInboundParse",
            summary="SendGrid Inbound Parse: an email the person sent to the project's reply domain.",
            headers=[],
            query=[
                (
                    TOKEN_PARAMETER,
                    "The project's sendgrid_inbound_token (email credentials secret), compared in constant time: "
                    "Inbound Parse cannot sign, so this token authenticates the post. No other query parameter "
                    f"is accepted; a secret without a token (or one under {MIN_TOKEN_LENGTH} characters) refuses "
                    "every post.",
                )
            ],
            media_type=SendGridInboundWebhook.media_type,
            body_schema="SendGridInboundParse",
            max_bytes=webhook_settings.DEFAULT_SENDGRID_INBOUND_MAX_BODY_BYTES,
            accepted={"description": "Authenticated and queued (text fields only, attachments counted); empty body."},
        ),
    }


def _unsubscribe_path() -> dict[str, Any]:
    token = {
        "name": "token",
        "in": "path",
        "required": True,
        "description": "The opaque token of the email's List-Unsubscribe URL: the company, the project and a keyed "
        "hash of the recipient's address (never the address), signed with the environment's consent key.",
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]+$", "maxLength": 512},
    }
    html = {"text/html": {"schema": {"type": "string"}}}
    page_headers = {
        name: {"schema": {"type": "string", "const": value}}
        for name, value in PAGE_HEADERS.items()
        if name != "Content-Type"
    }
    invalid = {"description": "The token is malformed, altered or another key's. Nothing is written.", "content": html}
    unavailable = {
        "description": "The consent key or the suppression list could not be read or written; nothing was "
        "changed. Try again (Retry-After).",
        "content": html,
    }
    common = {
        "security": [],
        "parameters": [token],
    }
    return {
        "get": {
            "operationId": "unsubscribePage",
            "summary": "The page of an email's unsubscribe link: the company's name and an Unsubscribe button. "
            "Changes nothing (mail scanners follow links).",
            **common,
            "responses": {
                "200": {
                    "description": "The page; its form POSTs to the same URL.",
                    "headers": page_headers,
                    "content": html,
                },
                "404": invalid,
                "503": unavailable,
            },
        },
        "post": {
            "operationId": "unsubscribeOneClick",
            "summary": "RFC 8058 one-click unsubscribe (what mailbox providers POST), or the page's button: the "
            "token's recipient gets no more emails from the token's company.",
            "description": "No API key: the signed token is the authority. Writes the suppression entry (company, "
            "email, reason unsubscribe_link); a repeat answers the same and changes nothing. The body "
            "(List-Unsubscribe=One-Click) is not required.",
            **common,
            "requestBody": {
                "required": False,
                "content": {
                    "application/x-www-form-urlencoded": {
                        "schema": {
                            "type": "object",
                            "properties": {"List-Unsubscribe": {"type": "string", "const": "One-Click"}},
                        }
                    },
                    "multipart/form-data": {"schema": {"type": "object"}},
                },
            },
            "responses": {
                "200": {
                    "description": "'You are unsubscribed' (also for a repeat).",
                    "headers": page_headers,
                    "content": html,
                },
                "404": invalid,
                "503": unavailable,
            },
        },
    }


def _webhook_operation(
    *,
    operation_id: str,
    summary: str,
    headers: list[tuple[str, str]],
    media_type: str,
    body_schema: str,
    max_bytes: int,
    accepted: dict[str, Any],
    query: list[tuple[str, str]] | None = None,
) -> dict[str, Any]:
    path_ids = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "description": "The tenant whose credentials verify the request.",
            "schema": {"type": "string", "pattern": ID_PATTERN},
        }
        for name in ("company_id", "project_id")
    ]
    signature_headers = [
        {"name": name, "in": "header", "required": True, "description": text, "schema": {"type": "string"}}
        for name, text in headers
    ]
    query_parameters = [
        {"name": name, "in": "query", "required": True, "description": text, "schema": {"type": "string"}}
        for name, text in query or ()
    ]
    refusals = {str(status): {"description": f"{text} No body."} for status, text in WEBHOOK_REFUSALS.items()}
    return {
        "post": {
            "operationId": operation_id,
            "summary": summary,
            "description": "No API key (providers cannot send one). Nothing is queued before the signature "
            f"(Inbound Parse: the token) verifies. Bodies over {max_bytes} bytes are refused.",
            "security": [],
            "parameters": [*path_ids, *signature_headers, *query_parameters],
            "requestBody": {
                "required": True,
                "content": {media_type: {"schema": {"$ref": f"#/components/schemas/{body_schema}"}}},
            },
            "responses": {"200": accepted, **refusals},
        }
    }


def _webhook_schemas() -> dict[str, Any]:
    text = {"type": "string"}
    return {
        "TwilioStatusCallback": {
            "type": "object",
            "description": "Twilio's form parameters, each once; any others Twilio adds are kept.",
            "required": ["MessageSid", "MessageStatus"],
            "properties": {
                "MessageSid": text,
                "MessageStatus": {**text, "examples": ["sent", "delivered", "undelivered", "read"]},
                "ErrorCode": {**text, "description": "Present (maybe empty) on failures."},
                "AccountSid": text,
                "From": text,
                "To": text,
            },
            "additionalProperties": text,
        },
        "TwilioInboundMessage": {
            "type": "object",
            "description": "Twilio's form parameters of an incoming message, each once, queued as posted; any "
            "others Twilio adds are kept. Media is noted (count, types), never fetched.",
            "required": ["MessageSid", "From", "To"],
            "properties": {
                "MessageSid": text,
                "AccountSid": text,
                "MessagingServiceSid": text,
                "From": {**text, "description": "The person: +E.164, or whatsapp:+E.164."},
                "To": {**text, "description": "The tenant's number or WhatsApp sender."},
                "Body": text,
                "NumMedia": {**text, "examples": ["0", "1"]},
                "MediaContentType0": text,
                "MediaUrl0": text,
                "OptOutType": {**text, "examples": ["STOP", "START", "HELP"]},
                "ProfileName": text,
                "WaId": text,
            },
            "additionalProperties": text,
        },
        "SendGridInboundParse": {
            "type": "object",
            "description": "Inbound Parse's form. Queued: "
            + ", ".join(QUEUED_FIELDS)
            + ", each decoded by its charset in `charsets` (UTF-8 otherwise); `html` only when `text` is empty; "
            + ", ".join(f"`{name}` cut to {cap} characters" for name, cap in FIELD_CAPS.items())
            + ". Attachments are counted, never queued. In raw mode the fields are read from "
            f"`{RAW_MESSAGE_FIELD}`.",
            "required": ["from", "to"],
            "properties": {
                **{name: text for name in QUEUED_FIELDS},
                "envelope": {**text, "description": "JSON: the SMTP envelope (to, from)."},
                "charsets": {**text, "description": "JSON: each field's charset."},
                "attachments": {**text, "description": "How many files the email had."},
                "attachment-info": {**text, "description": "JSON: each attachment's name and type."},
                RAW_MESSAGE_FIELD: {**text, "description": "Raw mode: the whole MIME message."},
                "attachment1": {"type": "string", "contentMediaType": "application/octet-stream"},
            },
            "additionalProperties": True,
        },
        "SendGridEvents": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "description": "One SendGrid event; the send's custom_args come back as top-level fields.",
                "properties": {
                    "event": {**text, "examples": ["processed", "deferred", "delivered", "bounce", "open"]},
                    "sg_event_id": text,
                    "sg_message_id": text,
                    "email": text,
                    "timestamp": {"type": "integer"},
                },
                "additionalProperties": True,
            },
        },
    }


def _error_response(status: int | None) -> dict[str, Any]:
    codes = {code: meaning for (code_status, code), meaning in ERROR_CODES.items() if code_status == status}
    listed = "\n".join(f"- `{code}`: {meaning}" for code, meaning in sorted(codes.items()))
    return {
        "description": f"error_code is one of:\n{listed}",
        "headers": _headers(),
        "content": {
            "application/json": {
                "schema": {
                    "allOf": [
                        {"$ref": "#/components/schemas/Error"},
                        {"type": "object", "properties": {"error_code": {"type": "string", "enum": sorted(codes)}}},
                    ]
                }
            }
        },
    }


def _headers() -> dict[str, Any]:
    return {name: {"schema": {"type": "string"}} for name in sorted(cors.response_headers())}


def render() -> str:
    return json.dumps(build_document(), indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when docs/openapi.json is not up to date")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not DOCUMENT.exists() or DOCUMENT.read_text() != text:
            print(f"{DOCUMENT} is stale: run python -m tools.openapi", file=sys.stderr)
            return 1
        return 0
    DOCUMENT.write_text(text)
    print(f"wrote {DOCUMENT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
