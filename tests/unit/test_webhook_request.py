"""Reading a webhook route's proxy event: path ids, headers in any case, content type, body size."""

from __future__ import annotations

import base64

import pytest

from local.rest_proxy_event import rest_proxy_event
from shared.webhooks.refusals import BodyInvalid, BodyTooLarge, ProjectRefused
from shared.webhooks.request import read_webhook_request
from shared.webhooks.routes import TWILIO_STATUS


def _event(body="a=1", headers=None, path_parameters=None, **options):
    event = rest_proxy_event(body=body, resource=TWILIO_STATUS.path, headers=headers or {}, **options)
    event["pathParameters"] = path_parameters
    return event


def test_headers_are_found_whatever_case_the_client_used():
    request = read_webhook_request(_event(headers={"x-twilio-SIGNATURE": "sig", "content-type": "text/plain"}))

    assert request.header("X-Twilio-Signature") == "sig"
    assert request.header("Content-Type") == "text/plain"


def test_a_header_sent_twice_with_different_values_counts_as_not_sent():
    request = read_webhook_request(_event(headers=[("X-Twilio-Signature", "one"), ("x-twilio-signature", "two")]))

    assert request.header("X-Twilio-Signature") is None


def test_a_header_repeated_with_the_same_value_is_kept():
    request = read_webhook_request(_event(headers=[("X-Twilio-Signature", "one"), ("X-Twilio-Signature", "one")]))

    assert request.header("X-Twilio-Signature") == "one"


@pytest.mark.parametrize(
    "content_type",
    [
        "application/x-www-form-urlencoded",
        "Application/X-WWW-Form-Urlencoded",
        "application/x-www-form-urlencoded; charset=UTF-8",
        'application/x-www-form-urlencoded;charset="utf-8"',
    ],
)
def test_the_expected_media_type_passes_with_or_without_a_utf8_charset(content_type):
    request = read_webhook_request(_event(headers={"Content-Type": content_type}))

    request.require_media_type("application/x-www-form-urlencoded")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Content-Type": "application/json"},
        {"Content-Type": "application/x-www-form-urlencoded; charset=iso-8859-1"},
        {"Content-Type": "multipart/form-data; boundary=x"},
    ],
)
def test_another_or_no_media_type_is_refused(headers):
    request = read_webhook_request(_event(headers=headers))

    with pytest.raises(BodyInvalid):
        request.require_media_type("application/x-www-form-urlencoded")


def test_a_body_at_the_limit_is_read_and_one_byte_more_is_too_large():
    assert read_webhook_request(_event(body="x" * 100)).body(100) == b"x" * 100
    with pytest.raises(BodyTooLarge):
        read_webhook_request(_event(body="x" * 101)).body(100)


def test_the_limit_counts_bytes_not_characters():
    with pytest.raises(BodyTooLarge):
        read_webhook_request(_event(body="é" * 60)).body(100)


def test_a_base64_body_is_decoded_and_measured_decoded():
    assert read_webhook_request(_event(body="x" * 100, base64_body=True)).body(100) == b"x" * 100
    with pytest.raises(BodyTooLarge):
        read_webhook_request(_event(body="x" * 101, base64_body=True)).body(100)


def test_a_body_that_is_not_base64_is_refused():
    event = _event()
    event["body"], event["isBase64Encoded"] = "not base64!", True

    with pytest.raises(BodyInvalid):
        read_webhook_request(event).body(100)


def test_an_absent_body_reads_as_empty():
    assert read_webhook_request(_event(body=None)).body(100) == b""


def test_a_query_string_is_noticed():
    assert read_webhook_request(_event(query={"a": "1"})).has_query
    assert not read_webhook_request(_event()).has_query


def test_the_tenant_comes_from_the_path_parameters():
    request = read_webhook_request(_event(path_parameters={"company_id": "ci-1", "project_id": "pi.2"}))

    assert request.tenant() == ("ci-1", "pi.2")


@pytest.mark.parametrize(
    "path_parameters",
    [
        None,
        {"company_id": "ci-1"},
        {"company_id": "ci-1", "project_id": ""},
        {"company_id": "ci-1", "project_id": "pi-2\n"},
        {"company_id": "ci/1", "project_id": "pi-2"},
        {"company_id": "-ci", "project_id": "pi-2"},
        {"company_id": "c" * 65, "project_id": "pi-2"},
    ],
)
def test_path_ids_that_are_not_ids_are_refused(path_parameters):
    request = read_webhook_request(_event(path_parameters=path_parameters))

    with pytest.raises(ProjectRefused):
        request.tenant()


def test_the_gateway_request_id_is_kept_for_correlation():
    event = _event(request_id="req-123")

    assert read_webhook_request(event).gateway_request_id == "req-123"


def test_base64_of_the_limit_is_checked_before_decoding():
    huge = base64.b64encode(b"x" * 10_000).decode()
    event = _event()
    event["body"], event["isBase64Encoded"] = huge, True

    with pytest.raises(BodyTooLarge):
        read_webhook_request(event).body(100)


def test_every_value_of_each_query_parameter_is_kept():
    request = read_webhook_request(_event(query=[("token", "a"), ("token", "b"), ("x", "")]))

    assert request.query == {"token": ("a", "b"), "x": ("",)}
