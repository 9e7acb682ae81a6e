"""The local API gateway does what API Gateway does before and around the router."""

from __future__ import annotations

import base64
import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from local.api_keys import ApiKeyStore
from local.gateway import LocalApiGateway, RouteThrottle
from local.seed import create_api, create_tenant_key
from shared.webhooks.routes import (
    SENDGRID_EVENTS,
    SENDGRID_INBOUND,
    TWILIO_INBOUND,
    TWILIO_STATUS,
    UNSUBSCRIBE_PATH,
    unsubscribe_url,
)
from stacks.settings import load_settings
from tests.fixtures.inbound_parse import CONTENT_TYPE, Upload, inbound_fields, multipart_body


class RouterDouble:
    """Stands in for the router process: records the proxy events, answers like a proxy function."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.fail = False

    def __call__(self, event: dict[str, Any]) -> dict[str, Any]:
        self.events.append(event)
        if self.fail:
            raise RuntimeError("the function crashed")
        return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": '{"status":"success"}'}


class IngressDouble(RouterDouble):
    """Stands in for the webhook ingress: answers Twilio's empty TwiML."""

    def __call__(self, event: dict[str, Any]) -> dict[str, Any]:
        self.events.append(event)
        return {"statusCode": 200, "headers": {"Content-Type": "text/xml"}, "body": "<Response/>"}


@dataclass
class Gateway:
    """The gateway under test, the router and ingress doubles behind it, and a tenant key of its
    usage plan."""

    under_test: LocalApiGateway
    router: RouterDouble
    ingress: IngressDouble
    reader: RouterDouble
    keys: ApiKeyStore
    key: str
    key_id: str

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes):
        return self.under_test.handle(method, path, headers, body)


@pytest.fixture
def gateway(aws) -> Gateway:
    api = create_api(aws, load_settings("dev"))
    key_id, key = create_tenant_key(aws, api, "tenant")
    router, ingress, reader = RouterDouble(), IngressDouble(), RouterDouble()
    keys = ApiKeyStore(aws.client("apigateway"), api.rest_api_id, api.stage)
    settings = load_settings("dev")
    under_test = LocalApiGateway(
        stage=api.stage,
        keys=keys,
        invoke_router=router,
        invoke_webhook_ingress=ingress,
        invoke_reader=reader,
        webhook_throttle=RouteThrottle(settings.webhooks.throttle_rate_limit, settings.webhooks.throttle_burst_limit),
    )
    return Gateway(
        under_test=under_test, router=router, ingress=ingress, reader=reader, keys=keys, key=key, key_id=key_id
    )


def _post(gateway: Gateway, body: bytes = b"{}", *, key: str | None = None, path: str = "/dev/initiate-conversation"):
    headers = {"Content-Type": "application/json"} | ({"x-api-key": key} if key else {})
    status, headers, payload = gateway.handle("POST", path, headers, body)
    return status, headers, json.loads(payload) if payload else None


def test_a_request_with_a_plan_key_reaches_the_router_as_a_rest_proxy_event(gateway):
    status, _, body = _post(gateway, b'{"company_data": {}}', key=gateway.key)
    assert (status, body) == (200, {"status": "success"})
    (event,) = gateway.router.events
    assert event["requestContext"]["identity"]["apiKeyId"] == gateway.key_id
    assert event["requestContext"]["stage"] == "dev"
    assert event["httpMethod"] == "POST" and event["resource"] == "/initiate-conversation"
    assert json.loads(event["body"]) == {"company_data": {}}


@pytest.mark.parametrize("key", [None, "not-a-key"], ids=["no key", "unknown key"])
def test_without_a_valid_key_the_router_is_never_called(gateway, key):
    status, headers, body = _post(gateway, key=key)
    assert (status, body["error_code"]) == (403, "INVALID_API_KEY")
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert gateway.router.events == []


def test_a_disabled_key_or_one_outside_the_usage_plan_is_refused(gateway, aws):
    apigateway = aws.client("apigateway")
    apigateway.update_api_key(
        apiKey=gateway.key_id, patchOperations=[{"op": "replace", "path": "/enabled", "value": "false"}]
    )
    loose = apigateway.create_api_key(name="no-plan", enabled=True, value="a-key-without-a-usage-plan-0001")
    gateway.keys.refresh()
    assert _post(gateway, key=gateway.key)[0] == 403
    assert _post(gateway, key=loose["value"])[0] == 403


def test_a_revoked_key_is_refused_once_what_the_gateway_read_is_older_than_its_max_age(aws):
    # No explicit refresh: what `comms apikey revoke` does to a running stack (delete the key,
    # remove it from its plan) must stop the key on its own, as in API Gateway.
    api = create_api(aws, load_settings("dev"))
    key_id, key = create_tenant_key(aws, api, "tenant")
    now = [0.0]
    keys = ApiKeyStore(aws.client("apigateway"), api.rest_api_id, api.stage, max_age=1.0, clock=lambda: now[0])
    assert keys.find(key) is not None

    aws.client("apigateway").delete_api_key(apiKey=key_id)
    now[0] = 0.5
    still_known = keys.find(key)
    now[0] = 1.0
    after_max_age = keys.find(key)

    assert still_known is not None and after_max_age is None


def test_the_usage_plan_throttle_answers_429_beyond_the_burst(gateway):
    statuses = [_post(gateway, key=gateway.key)[0] for _ in range(30)]
    # Burst 20, refilling at 10/s: a tight loop of 30 gets about 20 through.
    assert statuses.count(200) < 30 and statuses.count(200) >= 20
    status, headers, body = _post(gateway, key=gateway.key)
    assert (status, body["error_code"], headers["Retry-After"]) == (429, "RATE_LIMIT_EXCEEDED", "1")


@pytest.mark.parametrize("payload", [b"not json", b"[1, 2]", b'"text"', b""], ids=["text", "array", "string", "empty"])
def test_a_body_that_is_not_a_json_object_is_refused_before_the_router(gateway, payload):
    status, _, body = _post(gateway, payload, key=gateway.key)
    assert (status, body["error_code"]) == (400, "INVALID_REQUEST")
    assert gateway.router.events == []


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_body_of_any_content_type_is_checked_against_the_model_as_the_deployed_gateway_does(gateway, content_type):
    headers = {"x-api-key": gateway.key} | ({"Content-Type": content_type} if content_type else {})

    refused, _, body = gateway.handle("POST", "/dev/initiate-conversation", headers, b"[1, 2]")
    accepted, _, _ = gateway.handle("POST", "/dev/initiate-conversation", headers, b'{"company_data": {}}')

    assert (refused, json.loads(body)["error_code"]) == (400, "INVALID_REQUEST")
    assert accepted == 200 and len(gateway.router.events) == 1


def test_preflight_needs_no_key_and_other_methods_and_paths_are_refused(gateway):
    status, headers, _ = gateway.handle("OPTIONS", "/dev/initiate-conversation", {}, b"")
    assert status == 204 and "POST" in headers["Access-Control-Allow-Methods"]
    assert "X-Api-Key" in headers["Access-Control-Allow-Headers"]
    status, _, body = gateway.handle("GET", "/dev/initiate-conversation", {}, b"")
    assert (status, json.loads(body)["error_code"]) == (405, "METHOD_NOT_ALLOWED")
    assert _post(gateway, key=gateway.key, path="/dev/elsewhere")[0] == 404


def test_a_crashed_router_is_a_502_without_detail(gateway):
    gateway.router.fail = True
    status, _, body = _post(gateway, key=gateway.key)
    assert (status, body["error_code"]) == (502, "INTERNAL_ERROR")
    assert "crashed" not in json.dumps(body)


def test_a_base64_answer_of_the_router_is_decoded(gateway):
    gateway.under_test.invoke_router = lambda event: {
        "statusCode": 200,
        "isBase64Encoded": True,
        "body": base64.b64encode(b'{"ok": true}').decode(),
    }
    assert _post(gateway, key=gateway.key)[2] == {"ok": True}


def _over_http(gateway: Gateway, *, key: str | None, path: str = "/dev/initiate-conversation", method: str = "POST"):
    """One request over a real socket: (status, headers) or the connection error it met."""
    url = gateway.under_test.url.removesuffix("/dev")
    headers = {"Content-Type": "application/json"} | ({"x-api-key": key} if key else {})
    try:
        answer = requests.request(method, f"{url}{path}", data=b"{}", headers=headers, timeout=30)
    except requests.ConnectionError as error:
        return error
    return answer.status_code, answer.headers


def test_a_burst_of_40_concurrent_requests_gets_an_http_answer_each_never_a_reset(gateway):
    # The burst arrives while the gateway is busy (not accepting): the listen backlog must hold
    # every connection until it is served, as API Gateway would answer each (200 or 429).
    with ThreadPoolExecutor(40) as threads:
        pending = [threads.submit(_over_http, gateway, key=gateway.key) for _ in range(40)]
        threading.Event().wait(0.5)
        gateway.under_test.start()
        try:
            answers = [future.result() for future in pending]
        finally:
            gateway.under_test.stop()
    errors = [a for a in answers if not isinstance(a, tuple)]
    assert errors == []
    assert {status for status, _ in answers} <= {200, 429}


def test_every_answer_carries_a_request_id_and_the_router_sees_the_same_one(gateway):
    gateway.under_test.start()
    try:
        answers = [_over_http(gateway, key=gateway.key)]
        answers += [_over_http(gateway, key=None), _over_http(gateway, key=gateway.key, path="/dev/elsewhere")]
        answers += [_over_http(gateway, key=gateway.key) for _ in range(25)]  # beyond the burst: 429
    finally:
        gateway.under_test.stop()
    statuses = {status for status, _ in answers}
    assert {200, 403, 404, 429} <= statuses
    ids = [headers["x-amzn-RequestId"] for _, headers in answers]
    assert all(str(uuid.UUID(request_id)) == request_id for request_id in ids)
    assert len(set(ids)) == len(ids)
    assert gateway.router.events[0]["requestContext"]["requestId"] == ids[0]


# -- the webhook routes ----------------------------------------------------------------------------

TWILIO_FORM = b"MessageSid=SM0123&MessageStatus=delivered&ErrorCode=&AccountSid=AC0001"


def test_a_twilio_status_callback_reaches_the_ingress_without_a_key_as_the_rest_proxy_event(gateway):
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": "c2lnbmF0dXJl"}

    status, answer_headers, payload = gateway.handle(
        "POST", "/dev/webhooks/twilio/ci-demo-001/pi-demo-001/status", headers, TWILIO_FORM
    )

    assert (status, answer_headers["Content-Type"], payload) == (200, "text/xml", b"<Response/>")
    assert gateway.router.events == []
    (event,) = gateway.ingress.events
    assert event["resource"] == TWILIO_STATUS.path
    assert event["path"] == "/webhooks/twilio/ci-demo-001/pi-demo-001/status"
    assert event["requestContext"]["path"] == "/dev/webhooks/twilio/ci-demo-001/pi-demo-001/status"
    assert event["pathParameters"] == {"company_id": "ci-demo-001", "project_id": "pi-demo-001"}
    assert event["headers"]["X-Twilio-Signature"] == "c2lnbmF0dXJl"
    # The form, blanks and all, as text: form posts are not a binary media type.
    assert (event["body"], event["isBase64Encoded"]) == (TWILIO_FORM.decode(), False)
    assert event["requestContext"]["identity"]["apiKey"] is None
    assert event["requestContext"]["requestId"] == answer_headers["x-amzn-RequestId"]


def test_a_sendgrid_event_batch_reaches_the_ingress_byte_for_byte(gateway):
    # The signature is over the raw body, trailing CRLF included: nothing may re-serialise it.
    batch = b'[{"event": "delivered", "sg_event_id": "ZGVs", "sg_message_id": "m1.filter0001"}]\r\n'
    headers = {"Content-Type": "application/json", "X-Twilio-Email-Event-Webhook-Timestamp": "1764115200"}

    status, _, _ = gateway.handle("POST", "/dev/webhooks/sendgrid/ci-demo-001/pi-demo-001/events", headers, batch)

    assert status == 200
    (event,) = gateway.ingress.events
    assert event["resource"] == SENDGRID_EVENTS.path
    assert event["pathParameters"] == {"company_id": "ci-demo-001", "project_id": "pi-demo-001"}
    assert event["body"].encode() == batch and event["isBase64Encoded"] is False


def test_webhook_routes_have_their_own_stage_throttle_not_the_usage_plans(gateway):
    # No key, so no usage plan (burst 20): each route has its stage throttle (dev: burst 40, 20/s),
    # for all tenants together.
    twilio = [f"/dev/webhooks/twilio/ci-demo-{n:03d}/pi-demo-001/status" for n in range(60)]
    answers = [gateway.handle("POST", path, {}, TWILIO_FORM) for path in twilio]
    sendgrid = gateway.handle("POST", "/dev/webhooks/sendgrid/ci-demo-001/pi-demo-001/events", {}, b"[]")[0]

    statuses = [status for status, _, _ in answers]
    assert statuses[:30] == [200] * 30  # beyond the usage plan's burst
    assert statuses.count(200) >= 40 and 429 in statuses
    assert len(gateway.ingress.events) == statuses.count(200) + 1
    assert sendgrid == 200  # another route, another bucket
    refused = next(body for status, _, body in answers if status == 429)
    assert json.loads(refused)["error_code"] == "RATE_LIMIT_EXCEEDED"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/dev/webhooks/twilio/ci-demo-001/pi-demo-001/status"),
        ("OPTIONS", "/dev/webhooks/sendgrid/ci-demo-001/pi-demo-001/events"),
        ("POST", "/dev/webhooks/twilio/ci-demo-001/status"),
        ("POST", "/dev/webhooks/twilio/ci-demo-001/pi-demo-001/extra/status"),
        ("POST", "/dev/webhooks/twilio/ci-demo-001/pi-demo-001/inbound/more"),
        ("POST", "/dev/webhooks/sendgrid/ci-demo-001/pi-demo-001/status"),
        ("POST", "/prod/webhooks/twilio/ci-demo-001/pi-demo-001/status"),
        ("POST", "/webhooks/twilio/ci-demo-001/pi-demo-001/status"),
    ],
    ids=["GET", "OPTIONS", "missing segment", "extra segment", "under the inbound route", "other provider's route",
         "other stage", "no stage"],
)  # fmt: skip
def test_only_post_to_a_webhook_route_reaches_the_ingress(gateway, method, path):
    status, _, body = gateway.handle(method, path, {}, TWILIO_FORM)
    assert (status, json.loads(body)["error_code"]) == (404, "NOT_FOUND")
    assert gateway.ingress.events == [] and gateway.router.events == []


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_the_unsubscribe_link_reaches_the_ingress_by_get_and_post_without_a_key(gateway, method):
    body = b"List-Unsubscribe=One-Click" if method == "POST" else b""
    headers = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}

    status, _, _ = gateway.handle(method, "/dev/unsubscribe/AbC-_12", headers, body)

    assert status == 200
    (event,) = gateway.ingress.events
    assert (event["httpMethod"], event["resource"], event["path"]) == (method, UNSUBSCRIBE_PATH, "/unsubscribe/AbC-_12")
    assert event["pathParameters"] == {"token": "AbC-_12"}
    assert event["body"] == (body.decode() if body else None) and event["isBase64Encoded"] is False
    assert gateway.router.events == []


@pytest.mark.parametrize(
    ("method", "path"),
    [("PUT", "/dev/unsubscribe/AbC"), ("OPTIONS", "/dev/unsubscribe/AbC"), ("POST", "/dev/unsubscribe"),
     ("GET", "/dev/unsubscribe/AbC/more"), ("GET", "/prod/unsubscribe/AbC")],
    ids=["PUT", "OPTIONS", "no token", "extra segment", "other stage"],
)  # fmt: skip
def test_only_get_and_post_of_one_token_reach_the_ingress(gateway, method, path):
    status, _, body = gateway.handle(method, path, {}, b"")
    assert (status, json.loads(body)["error_code"]) == (404, "NOT_FOUND")
    assert gateway.ingress.events == []


def test_the_unsubscribe_link_has_a_stage_throttle_per_method(gateway):
    answers = [gateway.handle("POST", f"/dev/unsubscribe/token{n}", {}, b"")[0] for n in range(60)]
    page = gateway.handle("GET", "/dev/unsubscribe/token0", {}, b"")[0]

    assert answers[:30] == [200] * 30 and 429 in answers
    assert page == 200  # GET is another method, another bucket


def test_the_unsubscribe_link_over_http_is_what_the_email_header_names(gateway):
    gateway.under_test.start()
    try:
        answer = requests.post(
            unsubscribe_url(gateway.under_test.url, "AbC-_12"), data={"List-Unsubscribe": "One-Click"}, timeout=30
        )
    finally:
        gateway.under_test.stop()
    assert answer.status_code == 200
    (event,) = gateway.ingress.events
    assert event["pathParameters"] == {"token": "AbC-_12"} and event["body"] == "List-Unsubscribe=One-Click"


def test_a_crashed_ingress_is_a_502_without_detail(gateway):
    gateway.under_test.invoke_webhook_ingress = RouterDouble()
    gateway.under_test.invoke_webhook_ingress.fail = True
    status, _, body = gateway.handle("POST", "/dev/webhooks/twilio/ci-demo-001/pi-demo-001/status", {}, TWILIO_FORM)
    assert (status, json.loads(body)["error_code"]) == (502, "INTERNAL_ERROR")
    assert "crashed" not in body.decode()


def test_a_webhook_over_http_is_answered_with_the_ingress_answer(gateway):
    gateway.under_test.start()
    try:
        answer = requests.post(
            TWILIO_STATUS.url(gateway.under_test.url, "ci-demo-001", "pi-demo-001"),
            data={"MessageSid": "SM0123", "MessageStatus": "sent", "ErrorCode": ""},
            timeout=30,
        )
    finally:
        gateway.under_test.stop()
    assert (answer.status_code, answer.headers["Content-Type"], answer.text) == (200, "text/xml", "<Response/>")
    (event,) = gateway.ingress.events
    assert event["body"] == "MessageSid=SM0123&MessageStatus=sent&ErrorCode="


# -- the inbound routes ----------------------------------------------------------------------------

INBOUND_PARSE = multipart_body(
    inbound_fields(text="Tr\xe8s bien".encode("iso-8859-1")),
    {"attachment1": Upload("photo.jpg", "image/jpeg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x80\x81")},
)


def test_an_inbound_parse_form_reaches_the_ingress_base64_encoded_byte_for_byte_with_its_token(gateway):
    headers = {"Content-Type": CONTENT_TYPE, "User-Agent": "Sendlib/1.0"}
    path = "/dev/webhooks/sendgrid/ci-demo-001/pi-demo-001/inbound?token=inbound-token-fake-0000000000"

    status, _, _ = gateway.handle("POST", path, headers, INBOUND_PARSE)

    assert status == 200
    (event,) = gateway.ingress.events
    assert event["resource"] == SENDGRID_INBOUND.path
    assert event["pathParameters"] == {"company_id": "ci-demo-001", "project_id": "pi-demo-001"}
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == INBOUND_PARSE
    assert event["queryStringParameters"] == {"token": "inbound-token-fake-0000000000"}
    assert event["path"] == "/webhooks/sendgrid/ci-demo-001/pi-demo-001/inbound"


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "application/json", "text/plain"])
def test_other_content_types_stay_text(gateway, content_type):
    status, _, _ = gateway.handle(
        "POST", "/dev/webhooks/twilio/ci-demo-001/pi-demo-001/inbound", {"Content-Type": content_type}, TWILIO_FORM
    )

    assert status == 200
    (event,) = gateway.ingress.events
    assert event["resource"] == TWILIO_INBOUND.path
    assert (event["body"], event["isBase64Encoded"]) == (TWILIO_FORM.decode(), False)


def test_an_inbound_parse_post_over_http_arrives_unchanged(gateway):
    gateway.under_test.start()
    try:
        answer = requests.post(
            SENDGRID_INBOUND.url(gateway.under_test.url, "ci-demo-001", "pi-demo-001"),
            params={"token": "inbound-token-fake-0000000000"},
            data=INBOUND_PARSE,
            headers={"Content-Type": CONTENT_TYPE},
            timeout=30,
        )
    finally:
        gateway.under_test.stop()
    assert answer.status_code == 200
    (event,) = gateway.ingress.events
    assert base64.b64decode(event["body"]) == INBOUND_PARSE and event["isBase64Encoded"] is True


# -- the read routes (issue 13) -------------------------------------------------------------------


def _get(gateway: Gateway, path: str, *, key: str | None = None, method: str = "GET"):
    headers = {"x-api-key": key} if key else {}
    status, headers, payload = gateway.handle(method, path, headers, b"")
    return status, headers, json.loads(payload) if payload else None


def test_a_listing_reaches_the_reader_with_the_query_parsed_and_the_key_id(gateway):
    query = (
        "company_id=ci-demo-001&project_id=pi-demo-001&status=failed,suppressed&status=x"
        "&created_after=2026-11-01T00%3A00%3A00%2B00%3A00&empty="
    )
    status, _, body = _get(gateway, f"/dev/conversations?{query}", key=gateway.key)

    assert (status, body) == (200, {"status": "success"})
    (event,) = gateway.reader.events
    assert gateway.router.events == []
    assert (event["httpMethod"], event["resource"], event["path"]) == ("GET", "/conversations", "/conversations")
    assert event["pathParameters"] is None and event["body"] is None
    assert event["requestContext"]["identity"]["apiKeyId"] == gateway.key_id
    assert event["queryStringParameters"] == {
        "company_id": "ci-demo-001",
        "project_id": "pi-demo-001",
        "status": "x",  # the last value, as API Gateway's single-value map
        "created_after": "2026-11-01T00:00:00+00:00",  # decoded
        "empty": "",
    }
    assert event["multiValueQueryStringParameters"]["status"] == ["failed,suppressed", "x"]


def test_a_conversation_id_reaches_the_reader_still_percent_encoded_as_a_rest_api_passes_it(gateway):
    encoded = "ci-demo-001%23pi-demo-001%23req-1%23%2B447700900123"
    status, _, _ = _get(gateway, f"/dev/conversations/{encoded}", key=gateway.key)

    assert status == 200
    (event,) = gateway.reader.events
    assert event["resource"] == "/conversations/{conversation_id}"
    assert event["pathParameters"] == {"conversation_id": encoded}
    assert event["path"] == f"/conversations/{encoded}"
    assert event["requestContext"]["resourcePath"] == "/conversations/{conversation_id}"
    assert event["queryStringParameters"] is None


@pytest.mark.parametrize("path", ["/dev/conversations", "/dev/conversations/c%23p%23r%23s"], ids=["listing", "by id"])
@pytest.mark.parametrize("key", [None, "not-a-key"], ids=["no key", "unknown key"])
def test_without_a_valid_key_the_reader_is_never_called(gateway, path, key):
    status, headers, body = _get(gateway, path, key=key)

    assert (status, body["error_code"]) == (403, "INVALID_API_KEY")
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert gateway.reader.events == []


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_other_methods_on_the_read_routes_are_405_without_reaching_the_reader(gateway, method):
    for path, resource in (
        ("/dev/conversations", "/conversations"),
        ("/dev/conversations/an-id", "/conversations/{conversation_id}"),
    ):
        status, headers, body = _get(gateway, path, key=gateway.key, method=method)
        assert (status, body["error_code"]) == (405, "METHOD_NOT_ALLOWED")
        assert body["message"] == f"Only GET is supported on {resource}"  # the deployed MOCK's words
        assert headers["Allow"] == "GET, OPTIONS"
    assert gateway.reader.events == []


def test_the_read_routes_answer_the_preflight_for_get_without_a_key(gateway):
    status, headers, _ = gateway.handle("OPTIONS", "/dev/conversations/an-id", {}, b"")
    assert status == 204 and headers["Access-Control-Allow-Methods"] == "GET,OPTIONS"
    assert "X-Api-Key" in headers["Access-Control-Allow-Headers"]


def test_a_path_below_a_conversation_is_no_route(gateway):
    status, _, body = _get(gateway, "/dev/conversations/an-id/messages", key=gateway.key)
    assert (status, body["error_code"]) == (404, "NOT_FOUND")
    assert gateway.reader.events == []


def test_reads_and_initiations_share_the_key_s_usage_plan_throttle(gateway):
    statuses = [_get(gateway, "/dev/conversations", key=gateway.key)[0] for _ in range(15)]
    statuses += [_post(gateway, key=gateway.key)[0] for _ in range(15)]
    assert 200 in statuses and statuses.count(429) >= 1
    status, headers, body = _get(gateway, "/dev/conversations", key=gateway.key)
    assert (status, body["error_code"], headers["Retry-After"]) == (429, "RATE_LIMIT_EXCEEDED", "1")


def test_a_crashed_reader_is_a_502(gateway):
    gateway.reader.fail = True
    status, _, body = _get(gateway, "/dev/conversations", key=gateway.key)
    assert (status, body["error_code"]) == (502, "INTERNAL_ERROR")
