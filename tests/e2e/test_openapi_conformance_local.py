"""The schema-driven run (issue 13): schemathesis generates requests for every operation of the
committed ``docs/openapi.json`` and sends them to the local stack; each answer must be no 5xx and
conform to the document (status code, content type, body schema, headers).

Bounded and reproducible: a fixed seed, a fixed number of examples per operation. Half of the
cases carry the seeded tenant's company and project (drawn by Hypothesis), so the run reaches the
router's and the reader's own answers and not only "no such company". The seeded key is sent on
every request: the keyed operations then pass API Gateway, and the open routes ignore it.

Random data rarely reaches a 200, so a tenant's journey builds those requests by hand and checks
their answers the same way; and the events a project's webhook receives are checked against the
document's ``webhooks`` (headers, body schema of their type, signature).
"""

from __future__ import annotations

import json
import time
from urllib.parse import quote

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from standardwebhooks import Webhook
from twilio.request_validator import RequestValidator

from local.tenant_webhook import remove_webhook, set_webhook
from shared.routing.gateway_contract import RESOURCE_PATH
from shared.webhooks.routes import TWILIO_STATUS, UNSUBSCRIBE_PATH
from shared.webhooks.twilio_webhook import TwilioWebhook
from tests.e2e.test_consent_local import (
    Person,
    received,
    record_when,
    request_to,
    sent_first_message,
    suppressed,
    unsubscribe_urls,
)
from tests.e2e.test_delivery_status_local import message_id_of, tenant_twilio_token
from tests.e2e.test_replies_local import put_second_project
from tests.fixtures.webhook_receiver import WebhookReceiver
from tools.openapi import CONVERSATION_PATH, CONVERSATIONS_PATH, DOCUMENT

pytestmark = pytest.mark.e2e

SEED = 13
EXAMPLES_PER_OPERATION = 30
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]

schema = schemathesis.openapi.from_path(
    DOCUMENT,
    config=SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            # The coverage phase enumerates every boundary of every schema (hundreds of cases for
            # initiate's body); fuzzing alone keeps the run bounded by max-examples (and the
            # examples phase cannot feed the drawn `seeded`).
            "phases": {"examples": {"enabled": False}, "coverage": {"enabled": False}, "stateful": {"enabled": False}},
            "generation": {"max-examples": EXAMPLES_PER_OPERATION},
        }
    ),
)


def _pin_to_seeded_tenant(case, company_id: str, project_id: str) -> None:
    """Put the seeded tenant's ids wherever the operation takes them."""
    for parameters in (case.path_parameters, case.query):
        if parameters is None:
            continue
        if "company_id" in parameters:
            parameters["company_id"] = company_id
        if "project_id" in parameters:
            parameters["project_id"] = project_id
    if case.path_parameters and "conversation_id" in case.path_parameters:
        # The id's other parts stay generated: an id of the key's own project that does not exist.
        case.path_parameters["conversation_id"] = f"{company_id}#{project_id}#{case.path_parameters['conversation_id']}"
    if isinstance(case.body, dict) and isinstance(case.body.get("company_data"), dict):
        case.body["company_data"].update(company_id=company_id, project_id=project_id)


def _call_and_validate(case, base_url: str, headers: dict[str, str]) -> requests.Response:
    response = case.call(base_url=base_url, headers=headers, timeout=30)
    case.validate_response(response, checks=CHECKS, headers=headers)
    if response.status_code == 429:
        # A throttled answer conforms too (just checked); wait as it says and send the case once
        # more, so the run tests the operation and not only the usage plan's bucket.
        time.sleep(float(response.headers.get("Retry-After", "1")))
        response = case.call(base_url=base_url, headers=headers, timeout=30)
        case.validate_response(response, checks=CHECKS, headers=headers)
    return response


@schema.parametrize()
@schema.given(seeded=st.booleans())
@settings(
    deadline=None,
    derandomize=True,
    max_examples=EXAMPLES_PER_OPERATION,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_every_answer_of_the_local_stack_conforms_to_the_document(case, seeded, local_stack):
    if seeded:
        _pin_to_seeded_tenant(case, local_stack.env["COMPANY_ID"], local_stack.env["PROJECT_ID"])
    _call_and_validate(case, local_stack.api_url, {"x-api-key": local_stack.api_key})


# -- the tenant's own journey: the answers random data rarely reaches (200s), checked the same way --------


def _operation(path: str, method: str):
    return schema[path][method]


def test_a_tenants_journey_answers_as_the_document_says(local_stack):
    """Initiate, the provider's signed status callback, the email's unsubscribe page and click, the
    conversation read back and two pages of the listing: each 200 conforms to the document (body
    schema, content type, headers)."""
    headers = {"x-api-key": local_stack.api_key}
    person = Person.new()

    started = _call_and_validate(
        _operation(RESOURCE_PATH, "POST").Case(body=request_to(person, "sms"), media_type="application/json"),
        local_stack.api_url,
        headers,
    )
    assert started.status_code == 200, started.text
    sms = record_when(local_stack, person, "sms", started.json()["conversation_id"], "initial_message_sent")

    env = local_stack.env
    status = {"MessageSid": message_id_of(sms), "MessageStatus": "delivered", "AccountSid": "AClocalsandbox"}
    token = tenant_twilio_token(local_stack, env["COMPANY_ID"], env["PROJECT_ID"])
    callback = _operation(TWILIO_STATUS.path, "POST").Case(
        path_parameters={"company_id": env["COMPANY_ID"], "project_id": env["PROJECT_ID"]},
        headers={"X-Twilio-Signature": RequestValidator(token).compute_signature(env["TWILIO_STATUS_URL"], status)},
        body=status,
        media_type=TwilioWebhook.media_type,
    )
    assert _call_and_validate(callback, local_stack.api_url, {}).status_code == 200

    sent_first_message(local_stack, person, "email")
    [mail] = received(local_stack, person, "email")
    url, _ = unsubscribe_urls(mail)
    unsubscribe = {"token": url.rsplit("/", 1)[-1]}
    page = _call_and_validate(
        _operation(UNSUBSCRIBE_PATH, "GET").Case(path_parameters=unsubscribe), local_stack.api_url, {}
    )
    assert page.status_code == 200, page.text
    click = _operation(UNSUBSCRIBE_PATH, "POST").Case(
        path_parameters=unsubscribe,
        body={"List-Unsubscribe": "One-Click"},
        media_type="application/x-www-form-urlencoded",
    )
    assert _call_and_validate(click, local_stack.api_url, {}).status_code == 200
    assert suppressed(local_stack, person, "email").reason == "unsubscribe_link"

    conversation_id = started.json()["conversation_id"]
    one = _call_and_validate(
        # Encoded here: schemathesis 4.32 leaves the first '#' of a raw path value unencoded (it would
        # start the URL's fragment); it keeps an encoded value as it is.
        _operation(CONVERSATION_PATH, "GET").Case(path_parameters={"conversation_id": quote(conversation_id, safe="")}),
        local_stack.api_url,
        headers,
    )
    assert one.status_code == 200, one.text
    assert one.json()["conversation_id"] == conversation_id and one.json()["messages"]
    listing = {"company_id": env["COMPANY_ID"], "project_id": env["PROJECT_ID"], "limit": 1}
    first = _call_and_validate(_operation(CONVERSATIONS_PATH, "GET").Case(query=listing), local_stack.api_url, headers)
    assert first.status_code == 200 and first.json()["next_token"], first.text  # two conversations at least
    second = _call_and_validate(
        _operation(CONVERSATIONS_PATH, "GET").Case(query={**listing, "next_token": first.json()["next_token"]}),
        local_stack.api_url,
        headers,
    )
    assert second.status_code == 200, second.text
    assert second.json()["conversations"] != first.json()["conversations"]


# -- what the engine posts to a tenant: the document's `webhooks` --------------------------------------


def _webhook_body_validator(document: dict, event_type: str) -> Draft202012Validator:
    """The document's request body schema of one webhook, its $refs resolved within the document."""
    body = document["webhooks"][event_type]["post"]["requestBody"]["content"]["application/json"]["schema"]
    return Draft202012Validator({**body, "components": document["components"]})


def test_the_events_a_tenant_receives_are_the_documents_webhooks(local_stack):
    """A project with a webhook gets signed posts whose headers and bodies are what the document's
    `webhooks` entry of their type says (the body is checked against it as JSON Schema)."""
    document = json.loads(DOCUMENT.read_text())
    env = local_stack.env
    project_id = "openapi-events"
    put_second_project(local_stack, project_id)
    with WebhookReceiver() as receiver:
        secret = set_webhook(env, env["COMPANY_ID"], project_id, receiver.url("/events"))
        try:
            body = request_to(Person.new(), "sms")
            body["company_data"]["project_id"] = project_id
            answer = local_stack.post(body)
            assert answer.status_code == 200, answer.text
            received = receiver.wait_for(1, path="/events", timeout=90)  # conversation.sent first
        finally:
            remove_webhook(env, env["COMPANY_ID"], project_id)

    for delivery in received:
        event = delivery.json()
        assert event["type"] in document["webhooks"], event["type"]
        operation = document["webhooks"][event["type"]]["post"]
        required = {p["name"] for p in operation["parameters"] if p["in"] == "header" and p["required"]}
        assert required <= set(delivery.headers), delivery.headers
        errors = [e.message for e in _webhook_body_validator(document, event["type"]).iter_errors(event)]
        assert errors == [], errors
        assert delivery.headers["webhook-id"] == event["id"]
        Webhook(secret).verify(delivery.body, delivery.headers)  # raises when the signature is wrong
    assert "conversation.sent" in {delivery.json()["type"] for delivery in received}
