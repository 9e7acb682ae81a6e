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

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode
from sendgrid.helpers.eventwebhook import EventWebhookHeader

from shared.api_errors import InvalidListQuery
from shared.identifiers import ID_PATTERN
from shared.models.conversation import ConversationStatus
from shared.models.request import InitiateRequest
from shared.models.tenant_api import ConversationPage, ConversationView
from shared.models.tenant_events import WebhookEvent, WebhookEventType
from shared.routing import cors
from shared.routing.gateway_contract import RESOURCE_PATH
from shared.tenant_webhooks.outcome import MAX_RETRY_DELAY_SECONDS
from shared.tenant_webhooks.settings import WebhookSenderSettings
from shared.tenant_webhooks.signing import USER_AGENT
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
REF_TEMPLATE = "#/components/schemas/{model}"
CONVERSATIONS_PATH = "/conversations"
CONVERSATION_PATH = "/conversations/{conversation_id}"

# (HTTP status, error_code) -> what it means for the client. One line per code the API can answer;
# status None: API Gateway's catch-all 4xx/5xx, whose status is the one API Gateway chose.
ERROR_CODES: dict[tuple[int | None, str], str] = {
    (400, "INVALID_REQUEST"): "The body is not a JSON object, not UTF-8, or not valid JSON.",
    (400, "MISSING_IDENTIFIERS"): "company_id or project_id is missing (initiate: in company_data; the listing: "
    "the query parameters).",
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
    (400, "INVALID_STATUS_FILTER"): "status is not a comma-separated list of conversation_status values.",
    (400, "INVALID_TIME_RANGE"): "created_after or created_before is not ISO 8601 with a time zone, or the range "
    "is empty (created_after not before created_before).",
    (400, "INVALID_LIMIT"): "limit is not a whole number from 1 to 100.",
    (400, "INVALID_NEXT_TOKEN"): "next_token was altered, or belongs to another query or another API key.",
    (400, "UNKNOWN_QUERY_PARAMETER"): "A query parameter the listing does not know (the message names it).",
    (400, "INVALID_QUERY"): "A listing's query parameter is given more than once (the message names it).",
    (404, "CONVERSATION_NOT_FOUND"): "No conversation with this id in a project the key may read.",
    (403, "INVALID_API_KEY"): "No x-api-key header, or a key API Gateway does not know (API Gateway answers).",
    (403, "API_KEY_NOT_AUTHORIZED"): "The key is valid but not bound to this company/project.",
    (403, "PROJECT_INACTIVE"): "The project's status is not active.",
    (403, "CHANNEL_NOT_ALLOWED"): "The project does not allow the requested channel.",
    (404, "COMPANY_NOT_FOUND"): "No company/project record with these ids.",
    (404, "NOT_FOUND"): "No such resource (API Gateway answers).",
    (405, "METHOD_NOT_ALLOWED"): "A method the resource does not answer (the Allow header lists those it does).",
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

# What API Gateway answers in front of every operation behind the API key, before its function runs.
_KEYED_GATEWAY = {
    (403, "INVALID_API_KEY"),
    (429, "RATE_LIMIT_EXCEEDED"),
    (None, "REQUEST_REJECTED"),
    (None, "INTERNAL_ERROR"),
}
# Answered for a request no operation matches (an unknown path, another method): listed once, in
# the document's description, rather than on operations that never answer them.
OUTSIDE_OPERATIONS = {(404, "NOT_FOUND"), (405, "METHOD_NOT_ALLOWED")}
# API Gateway's own answers on the routes without a key: the stage throttle of the route, and its 5xx.
_OPEN_GATEWAY = {(429, "RATE_LIMIT_EXCEEDED"), (None, "INTERNAL_ERROR")}
_READER_FAULTS = {(500, "DATABASE_ERROR"), (500, "INTERNAL_ERROR")}
_ACCESS = {(404, "COMPANY_NOT_FOUND"), (403, "API_KEY_NOT_AUTHORIZED")}
LIST_QUERY_CODES = {(InvalidListQuery.status_code, code) for code in InvalidListQuery.error_codes}
_READER_ONLY = {(400, "INVALID_CONVERSATION_ID"), (404, "CONVERSATION_NOT_FOUND"), *LIST_QUERY_CODES}

# operationId -> the (status, error_code) pairs it can answer.
OPERATION_ERRORS: dict[str, set[tuple[int | None, str]]] = {
    "initiateConversation": set(ERROR_CODES) - OUTSIDE_OPERATIONS - _READER_ONLY,
    "getConversation": {
        (400, "INVALID_CONVERSATION_ID"),
        (404, "CONVERSATION_NOT_FOUND"),
        *_ACCESS,
        *_READER_FAULTS,
        *_KEYED_GATEWAY,
    },
    "listConversations": {
        (400, "MISSING_IDENTIFIERS"),
        (400, "INVALID_COMPANY_ID_FORMAT"),
        (400, "INVALID_PROJECT_ID_FORMAT"),
        *LIST_QUERY_CODES,
        *_ACCESS,
        *_READER_FAULTS,
        *_KEYED_GATEWAY,
    },
}


def build_document() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    _add_model_schema(schemas, InitiateRequest, mode="validation")
    for model in (ConversationView, ConversationPage, WebhookEvent):
        _add_model_schema(schemas, model, mode="serialization")
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
    schemas.update(_webhook_schemas())
    outside = "\n".join(
        f"- {status} `{code}`: {ERROR_CODES[status, code]}" for status, code in sorted(OUTSIDE_OPERATIONS)
    )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "AI Multi-Comms Engine",
            "version": "1",
            "description": "Opens a conversation with one person on WhatsApp, SMS or email (the first message is "
            "written by an LLM from the request's data), reads it back, and tells the tenant's own URL what "
            "happens (`webhooks`). Every answer of the API-key routes carries the CORS headers and the error "
            "envelope `Error`; each operation lists the error codes it can answer. A request no operation "
            f"matches is answered by API Gateway:\n{outside}",
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
                    "responses": _responses(
                        "initiateConversation",
                        "Accepted and queued; a replay of the same request answers the same.",
                        "Accepted",
                    ),
                },
                "options": _preflight("preflight"),
            },
            **_reader_paths(),
            **_webhook_paths(),
            UNSUBSCRIBE_PATH: _unsubscribe_path(),
        },
        "webhooks": _tenant_webhooks(),
        "components": {
            "securitySchemes": {"ApiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"}},
            "schemas": schemas,
        },
    }


def _add_model_schema(schemas: dict[str, Any], model: type[BaseModel], *, mode: JsonSchemaMode) -> None:
    """The model's JSON schema and its definitions under components/schemas; a name two models
    define differently is a bug here, not something to overwrite silently."""
    schema = model.model_json_schema(ref_template=REF_TEMPLATE, mode=mode)
    for name, definition in {**schema.pop("$defs", {}), model.__name__: schema}.items():
        if schemas.setdefault(name, definition) != definition:
            raise ValueError(f"two different schemas named {name}")


def _responses(operation_id: str, accepted: str, body_schema: str) -> dict[str, Any]:
    codes = OPERATION_ERRORS[operation_id]
    responses: dict[str, Any] = {
        "200": {
            "description": accepted,
            "headers": _headers(),
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{body_schema}"}}},
        }
    }
    for status in sorted({status for status, _ in codes if status is not None}):
        responses[str(status)] = _error_response(codes, status)
    responses["default"] = _error_response(codes, None)
    return responses


def _preflight(operation_id: str) -> dict[str, Any]:
    return {
        "operationId": operation_id,
        "summary": "The CORS preflight (API Gateway answers; no key).",
        "responses": {"204": {"description": "CORS preflight", "headers": _headers()}},
    }


def _reader_paths() -> dict[str, Any]:
    def query(name: str, description: str, schema: dict[str, Any], *, required: bool = False) -> dict[str, Any]:
        return {"name": name, "in": "query", "required": required, "description": description, "schema": schema}

    identifier = {"type": "string", "pattern": ID_PATTERN}
    when = {"type": "string", "format": "date-time"}
    listing = [
        query("company_id", "The company; the API key must be bound to its project.", identifier, required=True),
        query("project_id", "The project.", identifier, required=True),
        query(
            "status",
            "Only these conversation_status values (comma-separated): "
            + ", ".join(status.value for status in ConversationStatus)
            + ".",
            {"type": "string"},
        ),
        query("created_after", "Only conversations created at or after this instant (ISO 8601 with a zone).", when),
        query("created_before", "Only conversations created before this instant (ISO 8601 with a zone).", when),
        query("limit", "Conversations per page (default 25).", {"type": "integer", "minimum": 1, "maximum": 100}),
        query(
            "next_token",
            "The previous page's next_token, with the same other parameters and the same API key.",
            {"type": "string"},
        ),
    ]
    return {
        CONVERSATIONS_PATH: {
            "get": {
                "operationId": "listConversations",
                "summary": "A project's conversations, newest first, a page at a time.",
                "description": "Through the project's listing index (never a scan). A page may hold fewer than "
                "limit conversations (the status filter applies after the index reads a page) and still "
                "have a next_token; the last page has none.",
                "security": [{"ApiKey": []}],
                "parameters": listing,
                "responses": _responses("listConversations", "A page of conversations.", "ConversationPage"),
            },
            "options": _preflight("preflightConversations"),
        },
        CONVERSATION_PATH: {
            "parameters": [
                {
                    "name": "conversation_id",
                    "in": "path",
                    "required": True,
                    "description": "The conversation_id initiate answered, URL-encoded (# is %23).",
                    "schema": {"type": "string"},
                }
            ],
            "get": {
                "operationId": "getConversation",
                "summary": "One conversation: its status, delivery status, timestamps and message history.",
                "description": "Personal data as the tenant sent it; never provider credentials, internal "
                "errors or AI response ids. A conversation of a project the key is not bound to is 403; "
                "an id of the key's project that does not exist is 404 CONVERSATION_NOT_FOUND.",
                "security": [{"ApiKey": []}],
                "responses": _responses("getConversation", "The conversation.", "ConversationView"),
            },
            "options": _preflight("preflightConversation"),
        },
    }


# When each event is sent, and which of ``data``'s optional fields it sets.
EVENT_DESCRIPTIONS: dict[WebhookEventType, str] = {
    WebhookEventType.SCHEDULED: "The first message waits (send_at or the project's send windows); "
    "data.scheduled_for says when it goes.",
    WebhookEventType.SENT: "The first message was handed to the provider; data.message is it.",
    WebhookEventType.DELIVERED: "The provider reports an outbound message delivered; data.delivery names it.",
    WebhookEventType.READ: "The provider reports an outbound message read (WhatsApp; email opens); data.delivery.",
    WebhookEventType.FAILED: "The first message could not be sent, a provider reports a message undelivered or "
    "bounced (data.delivery), or a reply could not be sent; data.reason is the category.",
    WebhookEventType.REPLY_RECEIVED: "The person wrote; data.message is their message (one event each).",
    WebhookEventType.REPLY_SENT: "The engine answered the person; data.message is the reply.",
    WebhookEventType.NEEDS_HUMAN: "The conversation was handed over to a person; data.reason says why.",
    WebhookEventType.COMPLETED: "task_complete became true: the conversation reached its goal.",
    WebhookEventType.OPTED_OUT: "The person opted out (STOP, unsubscribe, a bounce, an operator); data.reason.",
}

WEBHOOK_HEADERS: dict[str, str] = {
    "webhook-id": "The event's id (also the body's id): the same on every delivery and replay of this event, "
    "so the receiver dedupes on it.",
    "webhook-timestamp": "Unix seconds of this delivery attempt; refuse one too far from now (replays).",
    "webhook-signature": "`v1,<base64 HMAC-SHA256>` of `{webhook-id}.{webhook-timestamp}.{raw body}`, keyed with "
    "the base64-decoded part of the project's secret after `whsec_` (Standard Webhooks; the `standardwebhooks` "
    "package verifies it). The spec allows several space-separated signatures: accept any that matches, "
    "compared in constant time.",
}


def _tenant_webhooks() -> dict[str, Any]:
    """OpenAPI 3.1 ``webhooks``: what the engine POSTs to a project's ``webhook.url``."""
    sender = WebhookSenderSettings.model_fields
    timeout = sender["request_timeout_seconds"].default
    retried = (
        f"Retried with backoff ({sender['retry_base_seconds'].default} s doubling, at most "
        f"{MAX_RETRY_DELAY_SECONDS // 60} min apart; a Retry-After on 429/503 is honoured up to that) until "
        f"{sender['retry_hours'].default} hours after the event, then kept for the operator (DLQ)."
    )
    headers = [
        {"name": name, "in": "header", "required": True, "description": text, "schema": {"type": "string"}}
        for name, text in WEBHOOK_HEADERS.items()
    ]
    return {
        event.value: {
            "post": {
                "operationId": "on" + "".join(part.title() for part in event.value.replace(".", "_").split("_")),
                "summary": EVENT_DESCRIPTIONS[event],
                "description": "Sent at least once, in order of occurrence within a conversation, to the project's "
                f"webhook.url (User-Agent {USER_AGENT}), signed as Standard Webhooks says. Answer within "
                f"{timeout:g} s; a slow or failing endpoint delays only the later events of the same conversation.",
                "parameters": headers,
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "allOf": [
                                    {"$ref": "#/components/schemas/WebhookEvent"},
                                    {"type": "object", "properties": {"type": {"const": event.value}}},
                                ]
                            }
                        }
                    },
                },
                "responses": {
                    "2XX": {"description": "Received: the event is not sent again (except by an operator's replay)."},
                    "408": {"description": f"Request timeout. {retried}"},
                    "429": {"description": f"Too many requests. {retried}"},
                    "3XX": {"description": "Redirects are not followed: not retried (DLQ); fix the URL."},
                    "4XX": {"description": "Refused: not retried; the event goes to the operator's DLQ."},
                    "5XX": {"description": f"Failed. {retried} So are timeouts and connection errors."},
                },
            }
        }
        for event in WebhookEventType
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
                **_open_gateway_responses(),
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
                **_open_gateway_responses(),
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
    refusals = dict(sorted({**refusals, **_open_gateway_responses()}.items()))
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


def _error_response(codes: set[tuple[int | None, str]], status: int | None) -> dict[str, Any]:
    meanings = {code: ERROR_CODES[code_status, code] for code_status, code in codes if code_status == status}
    listed = "\n".join(f"- `{code}`: {meaning}" for code, meaning in sorted(meanings.items()))
    return {
        "description": f"error_code is one of:\n{listed}",
        "headers": _headers(),
        "content": {
            "application/json": {
                "schema": {
                    "allOf": [
                        {"$ref": "#/components/schemas/Error"},
                        {"type": "object", "properties": {"error_code": {"type": "string", "enum": sorted(meanings)}}},
                    ]
                }
            }
        },
    }


def _open_gateway_responses() -> dict[str, Any]:
    return {"429": _error_response(_OPEN_GATEWAY, 429), "default": _error_response(_OPEN_GATEWAY, None)}


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
