"""The OpenAPI document lists every error code the API can answer and the providers' webhook routes, and the
committed copy is current."""

from __future__ import annotations

from openapi_spec_validator import validate
from pydantic import BaseModel

from shared import api_errors
from shared.models.request import InitiateRequest
from shared.models.tenant_api import ConversationSummary, ConversationView
from shared.models.tenant_events import WebhookEvent, WebhookEventType
from shared.request_errors import _FIELD_CODES, SECTIONS
from shared.routing.gateway_contract import GATEWAY_ERRORS, METHOD_NOT_ALLOWED
from shared.webhooks.routes import (
    ROUTES,
    SENDGRID_EVENTS,
    SENDGRID_INBOUND,
    TWILIO_INBOUND,
    TWILIO_STATUS,
    UNSUBSCRIBE_PATH,
)
from shared.webhooks.sendgrid_inbound import QUEUED_FIELDS
from shared.webhooks.sendgrid_webhook import SendGridWebhook
from shared.webhooks.twilio_webhook import EMPTY_TWIML, TwilioWebhook
from tools import openapi


def _concrete_api_errors() -> list[type[api_errors.ApiError]]:
    found, pending = [], [api_errors.ApiError]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        found.append(cls)
    return found


def test_every_named_api_error_is_documented_with_its_status():
    documented = set(openapi.ERROR_CODES)
    for cls in _concrete_api_errors():
        for code in getattr(cls, "error_codes", (cls.error_code,)):
            assert (cls.status_code, code) in documented or code == api_errors.ApiError.error_code, (cls, code)


def test_every_listed_code_is_answered_by_an_operation_or_outside_every_operation():
    answered = set().union(*openapi.OPERATION_ERRORS.values())
    assert answered | openapi.OUTSIDE_OPERATIONS == set(openapi.ERROR_CODES)
    assert not answered & openapi.OUTSIDE_OPERATIONS


def _documented_codes(operation: dict) -> set[tuple[int | None, str]]:
    found = set()
    for status, answer in operation["responses"].items():
        schema = answer.get("content", {}).get("application/json", {}).get("schema", {})
        for part in schema.get("allOf", ()):
            for code in part.get("properties", {}).get("error_code", {}).get("enum", ()):
                found.add((None if status == "default" else int(status), code))
    return found


def test_each_operation_documents_only_the_codes_it_can_answer():
    document = openapi.build_document()
    reader_codes = {
        (400, "INVALID_CONVERSATION_ID"),
        (404, "CONVERSATION_NOT_FOUND"),
        *((400, code) for code in api_errors.InvalidListQuery.error_codes),
    }
    initiate = _documented_codes(document["paths"]["/initiate-conversation"]["post"])
    one = _documented_codes(document["paths"]["/conversations/{conversation_id}"]["get"])
    listing = _documented_codes(document["paths"]["/conversations"]["get"])

    assert initiate == openapi.OPERATION_ERRORS["initiateConversation"]
    assert one == openapi.OPERATION_ERRORS["getConversation"]
    assert listing == openapi.OPERATION_ERRORS["listConversations"]
    assert not initiate & reader_codes
    assert (400, "INVALID_CONVERSATION_ID") in one and not one & {
        (400, c) for c in api_errors.InvalidListQuery.error_codes
    }
    assert {(400, c) for c in api_errors.InvalidListQuery.error_codes} <= listing
    assert (400, "INVALID_CONVERSATION_ID") not in listing and (404, "CONVERSATION_NOT_FOUND") not in listing
    for codes in (one, listing):
        assert {(403, "INVALID_API_KEY"), (403, "API_KEY_NOT_AUTHORIZED"), (404, "COMPANY_NOT_FOUND")} <= codes
        assert (409, "REQUEST_ID_REUSED") not in codes and (400, "MISSING_COMPANY_DATA") not in codes


def test_every_answer_of_api_gateway_itself_is_documented():
    for error in (*GATEWAY_ERRORS, METHOD_NOT_ALLOWED):
        assert (error.status, error.error_code) in openapi.ERROR_CODES, error.response_type


def test_every_code_field_validation_can_produce_is_documented():
    codes = {code for _, code in openapi.ERROR_CODES}
    for section in SECTIONS:
        assert {f"MISSING_{section.upper()}", f"INVALID_{section.upper()}_TYPE"} <= codes
        model = InitiateRequest.model_fields[section].annotation
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            continue
        for name, field in model.model_fields.items():
            missing, invalid = _FIELD_CODES.get(
                (section, name), (f"MISSING_{name.upper()}", f"INVALID_{name.upper()}_FORMAT")
            )
            assert invalid in codes, (section, name)
            if field.is_required():
                assert missing in codes, (section, name)


def test_the_committed_document_is_the_one_the_code_builds():
    assert openapi.main(["--check"]) == 0, "docs/openapi.json is stale: run python -m tools.openapi"


def test_the_request_schema_is_the_routers_model():
    document = openapi.build_document()
    schema = document["components"]["schemas"]["InitiateRequest"]
    assert set(schema["required"]) == set(SECTIONS)


def test_the_document_is_valid_openapi():
    validate(openapi.build_document())


def test_every_webhook_route_is_documented_without_security_and_with_bare_refusals():
    document = openapi.build_document()
    for route in ROUTES:
        operation = document["paths"][route.path]["post"]
        assert operation["security"] == []
        path_ids = {p["name"] for p in operation["parameters"] if p["in"] == "path"}
        assert path_ids == {"company_id", "project_id"}
        refusals = {status for status in operation["responses"] if status not in {"200", "429", "default"}}
        assert {"400", "403", "413", "503"} <= refusals
        assert all("content" not in operation["responses"][status] for status in refusals)
        # The route's stage throttle and API Gateway's own 5xx answer in the error envelope.
        assert "application/json" in operation["responses"]["429"]["content"]
        assert set(document["paths"][route.path]) == {"post"}


def test_the_unsubscribe_link_is_documented_get_and_post_without_security():
    document = openapi.build_document()
    path = document["paths"][UNSUBSCRIBE_PATH]

    assert set(path) == {"get", "post"}
    for operation in path.values():
        assert operation["security"] == []
        assert [(p["name"], p["in"]) for p in operation["parameters"]] == [("token", "path")]
        assert set(operation["responses"]) == {"200", "404", "429", "503", "default"}
        assert all("text/html" in operation["responses"][status]["content"] for status in ("200", "404", "503"))
    assert "requestBody" not in path["get"] and path["post"]["requestBody"]["required"] is False


def test_the_webhook_routes_document_the_ingress_content_types_headers_and_answers():
    document = openapi.build_document()
    twilio = document["paths"][TWILIO_STATUS.path]["post"]
    sendgrid = document["paths"][SENDGRID_EVENTS.path]["post"]

    assert list(twilio["requestBody"]["content"]) == [TwilioWebhook.media_type]
    assert list(sendgrid["requestBody"]["content"]) == [SendGridWebhook.media_type]
    assert {p["name"] for p in twilio["parameters"] if p["in"] == "header"} == {"X-Twilio-Signature"}
    assert {p["name"] for p in sendgrid["parameters"] if p["in"] == "header"} == {
        "X-Twilio-Email-Event-Webhook-Signature",
        "X-Twilio-Email-Event-Webhook-Timestamp",
    }
    assert twilio["responses"]["200"]["content"]["text/xml"]["example"] == EMPTY_TWIML
    assert "content" not in sendgrid["responses"]["200"]
    assert document["components"]["schemas"]["SendGridEvents"]["type"] == "array"


def test_the_inbound_routes_document_their_form_fields_token_and_answers():
    document = openapi.build_document()
    twilio = document["paths"][TWILIO_INBOUND.path]["post"]
    parse = document["paths"][SENDGRID_INBOUND.path]["post"]
    schemas = document["components"]["schemas"]

    assert twilio["requestBody"]["content"] == {
        "application/x-www-form-urlencoded": {"schema": {"$ref": "#/components/schemas/TwilioInboundMessage"}}
    }
    assert {p["name"] for p in twilio["parameters"] if p["in"] == "header"} == {"X-Twilio-Signature"}
    assert twilio["responses"]["200"]["content"]["text/xml"]["example"] == EMPTY_TWIML
    assert {"From", "To", "Body", "MessageSid", "NumMedia", "OptOutType"} <= set(
        schemas["TwilioInboundMessage"]["properties"]
    )

    assert parse["requestBody"]["content"] == {
        "multipart/form-data": {"schema": {"$ref": "#/components/schemas/SendGridInboundParse"}}
    }
    assert [(p["name"], p["in"], p["required"]) for p in parse["parameters"] if p["in"] != "path"] == [
        ("token", "query", True)
    ]
    assert "content" not in parse["responses"]["200"]
    assert set(QUEUED_FIELDS) <= set(schemas["SendGridInboundParse"]["properties"])


def test_the_read_routes_take_the_api_key_and_answer_the_tenant_api_models():
    document = openapi.build_document()
    one = document["paths"]["/conversations/{conversation_id}"]["get"]
    listing = document["paths"]["/conversations"]["get"]
    schemas = document["components"]["schemas"]

    for operation in (one, listing):
        assert operation["security"] == [{"ApiKey": []}]
    for path in ("/conversations", "/conversations/{conversation_id}"):
        assert set(document["paths"][path]) - {"parameters"} == {"get", "options"}  # GET and the preflight
    assert one["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ConversationView"
    }
    assert listing["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ConversationPage"
    }
    assert [p["name"] for p in listing["parameters"]] == [
        "company_id",
        "project_id",
        "status",
        "created_after",
        "created_before",
        "limit",
        "next_token",
    ]
    assert {p["name"] for p in listing["parameters"] if p["required"]} == {"company_id", "project_id"}
    assert set(schemas["ConversationView"]["properties"]) == set(ConversationView.model_fields)
    assert set(schemas["ConversationSummary"]["properties"]) == set(ConversationSummary.model_fields)
    assert "last_error" not in schemas["ConversationView"]["properties"]


def test_every_tenant_event_type_is_a_signed_webhook_with_its_type_fixed():
    document = openapi.build_document()
    webhooks = document["webhooks"]

    assert set(webhooks) == {event.value for event in WebhookEventType}
    assert set(document["components"]["schemas"]["WebhookEvent"]["properties"]) == set(WebhookEvent.model_fields)
    for name, item in webhooks.items():
        operation = item["post"]
        body = operation["requestBody"]["content"]["application/json"]["schema"]["allOf"]
        assert body[0] == {"$ref": "#/components/schemas/WebhookEvent"}
        assert body[1]["properties"]["type"] == {"const": name}
        headers = {p["name"]: p for p in operation["parameters"] if p["in"] == "header"}
        assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
        assert "whsec_" in headers["webhook-signature"]["description"]
        assert {"2XX", "3XX", "408", "429", "4XX", "5XX"} == set(operation["responses"])
        assert "not retried" in operation["responses"]["4XX"]["description"].lower()
