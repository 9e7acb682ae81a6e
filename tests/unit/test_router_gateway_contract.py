"""API Gateway's request model refuses exactly the bodies the router answers with INVALID_REQUEST,
so a client gets the same error code whichever of the two rejects it."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft4Validator

from shared.api_errors import RequestInvalid
from shared.request_errors import parse_initiate_request
from shared.routing.gateway_contract import (
    GATEWAY_ERRORS,
    METHOD_NOT_ALLOWED,
    MODEL_CONTENT_TYPE,
    gateway_error,
    request_body_schema,
)
from shared.routing.proxy_request import NOT_A_JSON_OBJECT

ODD_VALUES: tuple[Any, ...] = (None, [], {}, "", "x", 0, -1, 1.5, True, False, "WhatsApp", [1, "a"], {"k": "v"})


def _paths(value: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    if isinstance(value, dict):
        for key, child in value.items():
            yield (*prefix, key)
            yield from _paths(child, (*prefix, key))


def _set(body: dict[str, Any], path: tuple[str, ...], value: Any, *, delete: bool = False) -> dict[str, Any]:
    body = copy.deepcopy(body)
    target = body
    for key in path[:-1]:
        target = target[key]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return body


def _bodies(example: dict[str, Any]) -> Iterator[Any]:
    """The example, every field removed, every field replaced by odd values, and non-objects."""
    yield example
    yield {}
    yield {**example, "unexpected": {"nested": True}}
    yield from ODD_VALUES
    for path in _paths(example):
        yield _set(example, path, None, delete=True)
        for value in ODD_VALUES:
            yield _set(example, path, value)


def _router_code(body: Any) -> str | None:
    try:
        parse_initiate_request(body)
    except RequestInvalid as error:
        return error.error_code
    return None


def test_the_gateway_model_rejects_exactly_what_the_router_answers_with_invalid_request(initiate_request_example):
    validator = Draft4Validator(request_body_schema())
    checked = 0
    for body in _bodies(initiate_request_example):
        gateway_rejects = not validator.is_valid(body)
        router_code = _router_code(body)
        assert gateway_rejects == (router_code == "INVALID_REQUEST"), (json.dumps(body)[:200], router_code)
        checked += 1
    assert checked > 200


def test_specific_codes_still_reach_clients_because_the_gateway_lets_those_bodies_through(initiate_request_example):
    validator = Draft4Validator(request_body_schema())
    missing_section = _set(initiate_request_example, ("company_data",), None, delete=True)
    assert validator.is_valid(missing_section)
    assert _router_code(missing_section) == "MISSING_COMPANY_DATA"


def test_the_model_is_draft4_and_documents_every_section_of_the_request(initiate_request_example):
    schema = request_body_schema()
    Draft4Validator.check_schema(schema)
    assert schema["$schema"] == "http://json-schema.org/draft-04/schema#"
    assert set(schema["properties"]) == set(initiate_request_example)
    assert "company_id" in schema["properties"]["company_data"]["description"]


def test_the_gateway_answers_a_refused_body_with_the_routers_code_and_message():
    error = gateway_error("BAD_REQUEST_BODY")
    assert (error.status, error.error_code, error.message) == (400, "INVALID_REQUEST", NOT_A_JSON_OBJECT)


@pytest.mark.parametrize("error", [*GATEWAY_ERRORS, METHOD_NOT_ALLOWED], ids=lambda e: e.response_type)
def test_every_gateway_answer_is_the_engine_envelope_with_cors_and_safe_as_a_mapping_template(error):
    body = error.body()
    assert body == {"status": "error", "error_code": error.error_code, "message": error.message, "request_id": None}
    assert error.all_headers()["Access-Control-Allow-Origin"] == "*"
    assert error.all_headers()["Content-Type"] == "application/json"
    # API Gateway renders these as Velocity templates, where '#' and '$' are directives.
    assert "#" not in json.dumps(body) and "$" not in json.dumps(body)


def test_key_refusals_and_throttling_have_the_statuses_clients_expect():
    assert gateway_error("INVALID_API_KEY").status == 403
    assert gateway_error("THROTTLED").status == 429
    assert gateway_error("THROTTLED").headers == {"Retry-After": "1"}
    assert gateway_error("REQUEST_TOO_LARGE").error_code == "PAYLOAD_TOO_LARGE"
    assert METHOD_NOT_ALLOWED.status == 405
    assert METHOD_NOT_ALLOWED.headers["Allow"] == "OPTIONS, POST"


def test_the_request_model_applies_to_every_content_type_as_the_local_gateway_checks_every_body():
    # API Gateway checks a body only against the model of its Content-Type; "$default" is all of them.
    assert MODEL_CONTENT_TYPE == "$default"
