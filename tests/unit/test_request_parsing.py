"""Reading the proxy event: body size limit, base64, JSON strictness, and who called."""

from __future__ import annotations

import base64
import json

import pytest

from local.rest_proxy_event import rest_proxy_event
from shared.api_errors import PayloadTooLarge, RequestInvalid
from shared.request_errors import parse_initiate_request
from shared.routing.proxy_request import MAX_BODY_BYTES, NOT_A_JSON_OBJECT, client_request_id, read_proxy_request

UPPER = "3F8B2C1E-4D5A-4B6C-9E7F-0A1B2C3D4E5F"


def _event(body, **options):
    return rest_proxy_event(body=body, api_key="secret-key", api_key_id="key-id", **options)


def test_the_caller_is_the_api_key_id_api_gateway_accepted_and_the_correlation_id_its_request_id():
    request = read_proxy_request(_event('{"a": 1}', request_id="gw-req-1"))
    assert request.api_key_id == "key-id"
    assert request.gateway_request_id == "gw-req-1"
    assert request.body == {"a": 1}


def test_an_event_without_an_api_key_id_has_no_caller():
    event = rest_proxy_event(body="{}")
    assert read_proxy_request(event).api_key_id is None


def test_a_base64_body_is_decoded_before_parsing():
    request = read_proxy_request(_event('{"name": "Zoë"}', base64_body=True))
    assert request.body == {"name": "Zoë"}


def test_a_body_of_exactly_the_limit_is_read_and_one_byte_more_is_413():
    padding = MAX_BODY_BYTES - len('{"p": ""}')
    exact = json.dumps({"p": "x" * padding})
    assert len(exact.encode()) == MAX_BODY_BYTES
    assert read_proxy_request(_event(exact)).body["p"] == "x" * padding
    with pytest.raises(PayloadTooLarge):
        read_proxy_request(_event(json.dumps({"p": "x" * (padding + 1)})))


def test_the_limit_counts_utf8_bytes_not_characters():
    # 'é' is two bytes in UTF-8: half the limit in characters is the whole limit in bytes.
    body = json.dumps({"p": "é" * (MAX_BODY_BYTES // 2)}, ensure_ascii=False)
    with pytest.raises(PayloadTooLarge):
        read_proxy_request(_event(body))


def test_the_limit_applies_to_the_decoded_size_of_a_base64_body():
    body = json.dumps({"p": "x" * MAX_BODY_BYTES})
    with pytest.raises(PayloadTooLarge):
        read_proxy_request(_event(body, base64_body=True))
    fits = json.dumps({"p": "x" * (MAX_BODY_BYTES - 20)})
    assert read_proxy_request(_event(fits, base64_body=True)).body["p"].startswith("x")


@pytest.mark.parametrize(
    "body",
    [None, "", "not json", "{'single': 'quotes'}", '{"a": NaN}', '{"a": Infinity}', "[" * 30_000 + "]" * 30_000],
    ids=["none", "empty", "text", "python-dict", "nan", "infinity", "deeply-nested"],
)
def test_a_body_that_is_not_strict_json_is_invalid_request(body):
    with pytest.raises(RequestInvalid) as raised:
        read_proxy_request(_event(body))
    assert raised.value.error_code == "INVALID_REQUEST"
    assert raised.value.message == NOT_A_JSON_OBJECT


def test_invalid_base64_or_a_body_that_is_not_utf8_is_invalid_request():
    event = _event("{}")
    event["body"], event["isBase64Encoded"] = "!!not base64!!", True
    with pytest.raises(RequestInvalid):
        read_proxy_request(event)
    latin1 = _event("{}")
    latin1["body"], latin1["isBase64Encoded"] = base64.b64encode('{"n": "Zoë"}'.encode("latin-1")).decode(), True
    with pytest.raises(RequestInvalid):
        read_proxy_request(latin1)


def test_json_that_is_not_an_object_gets_the_same_message_from_the_parser_and_the_validator():
    for body in ("[]", '"text"', "42", "null"):
        value = read_proxy_request(_event(body)).body
        with pytest.raises(RequestInvalid) as raised:
            parse_initiate_request(value)
        assert (raised.value.error_code, raised.value.message) == ("INVALID_REQUEST", NOT_A_JSON_OBJECT)


def test_fractions_are_read_as_decimals_so_they_reach_the_queue_unchanged():
    body = read_proxy_request(_event('{"score": 0.1000000000000000055511151231257827}')).body
    assert str(body["score"]) == "0.1000000000000000055511151231257827"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"request_data": {"request_id": "3F8B2C1E-4D5A-4B6C-9E7F-0A1B2C3D4E5F"}},
            "3f8b2c1e-4d5a-4b6c-9e7f-0a1b2c3d4e5f",
        ),
        ({"request_data": {"request_id": "not-a-uuid"}}, None),
        ({"request_data": {"request_id": 42}}, None),
        ({"request_data": "x"}, None),
        ([], None),
    ],
)
def test_errors_echo_the_clients_request_id_only_when_it_is_a_well_formed_uuid4(body, expected):
    assert client_request_id(body) == expected
