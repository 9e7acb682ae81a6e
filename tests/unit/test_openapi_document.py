"""The OpenAPI document lists every error code the API can answer and the providers' webhook routes, and the
committed copy is current."""

from __future__ import annotations

from openapi_spec_validator import validate
from pydantic import BaseModel

from shared import api_errors
from shared.models.request import InitiateRequest
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
        assert (cls.status_code, cls.error_code) in documented or cls.error_code == api_errors.ApiError.error_code, cls


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
        refusals = {status for status in operation["responses"] if status != "200"}
        assert {"400", "403", "413", "503"} <= refusals
        assert all("content" not in operation["responses"][status] for status in refusals)
        assert set(document["paths"][route.path]) == {"post"}


def test_the_unsubscribe_link_is_documented_get_and_post_without_security():
    document = openapi.build_document()
    path = document["paths"][UNSUBSCRIBE_PATH]

    assert set(path) == {"get", "post"}
    for operation in path.values():
        assert operation["security"] == []
        assert [(p["name"], p["in"]) for p in operation["parameters"]] == [("token", "path")]
        assert set(operation["responses"]) == {"200", "404", "503"}
        assert all("text/html" in answer["content"] for answer in operation["responses"].values())
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
