"""The channel router handler against the emulator (moto): every answer of the API contract."""

from __future__ import annotations

import copy
import json
import re
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from shared import json_codec
from shared.channels import ALL_CHANNELS, Channel
from shared.models.context import ContextMessage
from shared.routing.proxy_request import MAX_BODY_BYTES
from shared.tables import RATE_LIMITS
from tests.fixtures.tenants import record_for_tenant
from tests.integration.conftest import API_KEY, API_KEY_ID, OTHER_API_KEY_ID

REQUEST_ID = "3f8b2c1e-4d5a-4b6c-9e7f-0a1b2c3d4e5f"
CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": "Retry-After"}


def _assert_cors(reply) -> None:
    assert {name: reply.headers.get(name) for name in CORS} == CORS
    assert reply.headers["Content-Type"] == "application/json"


def _assert_nothing_queued(router) -> None:
    assert router.all_messages() == {channel: [] for channel in ALL_CHANNELS}
    assert set(router.counters().values()) <= {0}


def _error(reply, status: int, code: str) -> None:
    assert (reply.status, reply.body["status"], reply.body["error_code"]) == (status, "error", code), reply.body
    assert set(reply.body) == {"status", "error_code", "message", "request_id"}
    _assert_cors(reply)


# --- the 200 path -------------------------------------------------------------------------


def test_a_valid_request_is_queued_once_on_its_channel_with_routing_attributes(router, initiate_request_example):
    event = router.event(initiate_request_example, request_id="gw-request-1")
    reply = router.call(event)

    assert reply.status == 200, reply.body
    _assert_cors(reply)
    conversation_id = f"ci-demo-001#pi-demo-001#{REQUEST_ID}#447700900001"
    assert reply.body == {
        "status": "success",
        "request_id": REQUEST_ID,
        "conversation_id": conversation_id,
        "message": "Request accepted and queued for processing",
        "queue_timestamp": reply.body["queue_timestamp"],
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", reply.body["queue_timestamp"])

    queued = router.all_messages()
    assert [len(queued[channel]) for channel in ALL_CHANNELS] == [1, 0, 0]
    (sqs_message,) = queued[Channel.WHATSAPP]
    assert {name: value["StringValue"] for name, value in sqs_message["MessageAttributes"].items()} == {
        "channel": "whatsapp",
        "conversation_id": conversation_id,
        "request_id": REQUEST_ID,
    }
    message = ContextMessage.model_validate(json_codec.loads(sqs_message["Body"]))
    assert message.conversation_id == conversation_id
    assert message.channel is Channel.WHATSAPP
    assert message.recipient_data.recipient_tel == "+447700900123"
    assert message.project_data == initiate_request_example["project_data"]
    assert message.project.channel_config.company_whatsapp_number == "+447700900001"
    assert message.project.ai_config.model == "gpt-5-mini"
    assert message.metadata.router_version == "test-router-1"
    assert message.metadata.correlation_id == "gw-request-1"
    assert message.metadata.queued_at.isoformat(timespec="milliseconds").startswith(
        reply.body["queue_timestamp"].removesuffix("Z")
    )
    body = json.loads(sqs_message["Body"])
    assert "sms" not in json.dumps(body["project"]["channel_config"])
    assert set(body["project"]["ai_config"]) == {"api_key_reference", "model", "template_sender", "reply_sender"}


def test_a_base64_encoded_body_is_accepted_like_a_plain_one(router, initiate_request_example):
    reply = router.call(router.event(initiate_request_example, base64_body=True))
    assert reply.status == 200, reply.body
    assert len(router.messages(Channel.WHATSAPP)) == 1


@pytest.mark.parametrize(
    ("sent", "channel"), [("WhatsApp", Channel.WHATSAPP), ("SMS", Channel.SMS), (" Email ", Channel.EMAIL)]
)
def test_channel_method_in_any_case_is_lower_cased_before_anything_downstream_sees_it(
    router, initiate_request_example, sent, channel
):
    initiate_request_example["request_data"]["channel_method"] = sent
    reply = router.post(initiate_request_example)
    assert reply.status == 200, reply.body
    (sqs_message,) = router.messages(channel)
    body = json.loads(sqs_message["Body"])
    assert body["channel"] == body["request_data"]["channel_method"] == channel.value
    assert sqs_message["MessageAttributes"]["channel"]["StringValue"] == channel.value


def test_an_email_conversation_is_keyed_by_the_company_email(router, initiate_request_example):
    initiate_request_example["request_data"]["channel_method"] = "email"
    reply = router.post(initiate_request_example)
    assert reply.body["conversation_id"] == f"ci-demo-001#pi-demo-001#{REQUEST_ID}#talent@cucumber-recruitment.example"
    (sqs_message,) = router.messages(Channel.EMAIL)
    assert json.loads(sqs_message["Body"])["project"]["channel_config"]["company_email"] == (
        "talent@cucumber-recruitment.example"
    )


def test_a_body_just_under_the_size_limit_is_queued(router, initiate_request_example):
    size = len(json.dumps(initiate_request_example).encode())
    initiate_request_example["project_data"]["notes"] = "n" * (MAX_BODY_BYTES - size - len(', "notes": ""'))
    assert len(json.dumps(initiate_request_example).encode()) == MAX_BODY_BYTES
    assert router.post(initiate_request_example).status == 200


# --- validation (400) and size (413) ------------------------------------------------------------


def _without(body: dict, *path: str) -> dict:
    body = copy.deepcopy(body)
    target = body
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return body


def _with(body: dict, value: Any, *path: str) -> dict:
    body = copy.deepcopy(body)
    target = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return body


INVALID_BODIES: list[tuple[str, Any, str]] = [
    ("array", lambda b: [b], "INVALID_REQUEST"),
    ("string", lambda b: "hello", "INVALID_REQUEST"),
    ("no company_data", lambda b: _without(b, "company_data"), "MISSING_COMPANY_DATA"),
    ("company_data a string", lambda b: _with(b, "ci-demo-001", "company_data"), "INVALID_COMPANY_DATA_TYPE"),
    ("no company_id", lambda b: _without(b, "company_data", "company_id"), "MISSING_IDENTIFIERS"),
    ("no project_id", lambda b: _without(b, "company_data", "project_id"), "MISSING_IDENTIFIERS"),
    ("company_id with #", lambda b: _with(b, "ci#1", "company_data", "company_id"), "INVALID_COMPANY_ID_FORMAT"),
    ("no recipient_data", lambda b: _without(b, "recipient_data"), "MISSING_RECIPIENT_DATA"),
    ("recipient_data a list", lambda b: _with(b, [], "recipient_data"), "INVALID_RECIPIENT_DATA_TYPE"),
    ("no project_data", lambda b: _without(b, "project_data"), "MISSING_PROJECT_DATA"),
    ("project_data a string", lambda b: _with(b, "J-1", "project_data"), "INVALID_PROJECT_DATA_TYPE"),
    ("no request_data", lambda b: _without(b, "request_data"), "MISSING_REQUEST_DATA"),
    ("request_data a number", lambda b: _with(b, 7, "request_data"), "INVALID_REQUEST_DATA_TYPE"),
    ("project_id with space", lambda b: _with(b, "pi 1", "company_data", "project_id"), "INVALID_PROJECT_ID_FORMAT"),
    ("no request_id", lambda b: _without(b, "request_data", "request_id"), "MISSING_REQUEST_ID"),
    (
        "request_id not a uuid4",
        lambda b: _with(b, str(uuid.uuid1()), "request_data", "request_id"),
        "INVALID_REQUEST_ID",
    ),
    ("no channel", lambda b: _without(b, "request_data", "channel_method"), "MISSING_CHANNEL_METHOD"),
    ("telegram", lambda b: _with(b, "telegram", "request_data", "channel_method"), "UNSUPPORTED_CHANNEL"),
    (
        "no timestamp",
        lambda b: _without(b, "request_data", "initial_request_timestamp"),
        "MISSING_INITIAL_REQUEST_TIMESTAMP",
    ),
    (
        "timestamp text",
        lambda b: _with(b, "yesterday", "request_data", "initial_request_timestamp"),
        "INVALID_TIMESTAMP",
    ),
    (
        "timestamp without zone",
        lambda b: _with(b, "2026-11-24T09:30:00", "request_data", "initial_request_timestamp"),
        "INVALID_TIMESTAMP",
    ),
    (
        "timestamp a number",
        lambda b: _with(b, 1795512600, "request_data", "initial_request_timestamp"),
        "INVALID_TIMESTAMP",
    ),
    ("no tel on whatsapp", lambda b: _without(b, "recipient_data", "recipient_tel"), "MISSING_RECIPIENT_TEL"),
    ("tel not E.164", lambda b: _with(b, "07700 900123", "recipient_data", "recipient_tel"), "INVALID_RECIPIENT_TEL"),
    (
        "no email on email",
        lambda b: _with(_without(b, "recipient_data", "recipient_email"), "email", "request_data", "channel_method"),
        "MISSING_RECIPIENT_EMAIL",
    ),
    ("email invalid", lambda b: _with(b, "alex@", "recipient_data", "recipient_email"), "INVALID_RECIPIENT_EMAIL"),
    ("no consent", lambda b: _without(b, "recipient_data", "comms_consent"), "MISSING_COMMS_CONSENT"),
    ("consent as text", lambda b: _with(b, "true", "recipient_data", "comms_consent"), "INVALID_COMMS_CONSENT_TYPE"),
    ("consent false", lambda b: _with(b, False, "recipient_data", "comms_consent"), "COMMS_CONSENT_REQUIRED"),
]


BREAK_REQUEST_ID = {
    "array",
    "string",
    "no request_data",
    "request_data a number",
    "no request_id",
    "request_id not a uuid4",
}


@pytest.mark.parametrize(("case", "mutate", "code"), INVALID_BODIES, ids=[case for case, _, _ in INVALID_BODIES])
def test_an_invalid_body_is_answered_400_with_the_seeds_code_and_nothing_is_queued(
    router, initiate_request_example, case, mutate, code
):
    reply = router.post(mutate(initiate_request_example))
    _error(reply, 400, code)
    # The client's request id comes back whenever the body carried a valid one.
    assert reply.body["request_id"] == (None if case in BREAK_REQUEST_ID else REQUEST_ID)
    _assert_nothing_queued(router)


@pytest.mark.parametrize("body", ["", "{not json", '{"a": NaN}'], ids=["empty", "broken", "nan"])
def test_a_body_that_is_not_json_is_invalid_request(router, body):
    _error(router.post(body, encode=False), 400, "INVALID_REQUEST")
    _assert_nothing_queued(router)


@pytest.mark.parametrize("base64_body", [False, True], ids=["plain", "base64"])
def test_a_body_over_the_size_limit_is_413(router, initiate_request_example, base64_body):
    initiate_request_example["project_data"]["cv"] = "x" * MAX_BODY_BYTES
    reply = router.post(initiate_request_example, base64_body=base64_body)
    _error(reply, 413, "PAYLOAD_TOO_LARGE")
    assert str(MAX_BODY_BYTES) in reply.body["message"]
    _assert_nothing_queued(router)


# --- company, project and key (404 / 403) --------------------------------------------------------


def test_an_unknown_project_is_404(router, initiate_request_example):
    initiate_request_example["company_data"]["project_id"] = "pi-unknown"
    _error(router.post(initiate_request_example), 404, "COMPANY_NOT_FOUND")
    _assert_nothing_queued(router)


def test_an_inactive_project_is_403(router, initiate_request_example, company_record_example):
    router.put_company({**company_record_example, "project_status": "inactive", "api_key_ids": [API_KEY_ID]})
    _error(router.post(initiate_request_example), 403, "PROJECT_INACTIVE")
    _assert_nothing_queued(router)


def test_a_channel_the_project_does_not_allow_is_403(router, initiate_request_example, company_record_example):
    router.put_company({**company_record_example, "allowed_channels": ["email"], "api_key_ids": [API_KEY_ID]})
    _error(router.post(initiate_request_example), 403, "CHANNEL_NOT_ALLOWED")
    _assert_nothing_queued(router)


def _company_b(record: dict) -> dict:
    return {
        **record_for_tenant(record, "ci-other-002", "pi-other-002"),
        "company_name": "Other Co",
        "api_key_ids": [OTHER_API_KEY_ID],
    }


def test_a_key_of_company_a_can_never_act_for_company_b(router, initiate_request_example, company_record_example):
    router.put_company(_company_b(company_record_example))
    as_b = _with(initiate_request_example, {"company_id": "ci-other-002", "project_id": "pi-other-002"}, "company_data")

    _error(router.post(as_b, api_key_id=API_KEY_ID), 403, "API_KEY_NOT_AUTHORIZED")
    _assert_nothing_queued(router)
    # B's own key works for B, and not for A.
    assert router.post(as_b, api_key_id=OTHER_API_KEY_ID).status == 200
    _error(router.post(initiate_request_example, api_key_id=OTHER_API_KEY_ID), 403, "API_KEY_NOT_AUTHORIZED")


def test_a_foreign_key_learns_nothing_about_the_project_and_spends_none_of_its_limit(
    router, initiate_request_example, company_record_example
):
    inactive = {**_company_b(company_record_example), "project_status": "inactive", "allowed_channels": ["email"]}
    router.put_company(inactive)
    as_b = _with(initiate_request_example, {"company_id": "ci-other-002", "project_id": "pi-other-002"}, "company_data")
    _error(router.post(as_b, api_key_id=API_KEY_ID), 403, "API_KEY_NOT_AUTHORIZED")
    broken = {**_company_b(company_record_example), "rate_limits": "not an object"}
    router.put_company(broken)
    _error(router.post(as_b, api_key_id=API_KEY_ID), 403, "API_KEY_NOT_AUTHORIZED")
    assert router.counters() == {}


def test_a_request_without_an_api_key_id_is_not_authorised(router, initiate_request_example):
    _error(router.post(initiate_request_example, api_key_id=None), 403, "API_KEY_NOT_AUTHORIZED")
    _assert_nothing_queued(router)


def test_key_ids_stored_as_a_dynamodb_string_set_are_honoured(router, initiate_request_example, company_record_example):
    router.put_company({**company_record_example, "api_key_ids": {API_KEY_ID, "another"}})
    assert router.post(initiate_request_example).status == 200


# --- per-project limits (429) --------------------------------------------------------------------


def _fill_counters(router, *, window: str, seconds: int, count: int) -> None:
    """Put the project's counter of the current and the next window at ``count``, so the test does
    not depend on which window the router's clock falls in."""
    import time

    now = int(time.time())
    dynamodb = router.aws.client("dynamodb")
    for index in (now // seconds, now // seconds + 1):
        dynamodb.put_item(
            TableName=router.aws.table_name(RATE_LIMITS.logical_name),
            Item={
                "limit_key": {"S": f"ci-demo-001#pi-demo-001#{window}#{index}"},
                "request_count": {"N": str(count)},
                "expires_at": {"N": str((index + 2) * seconds)},
            },
        )


@pytest.mark.parametrize(
    ("window", "seconds", "limit_field"), [("minute", 60, "requests_per_minute"), ("day", 86400, "requests_per_day")]
)
def test_a_project_at_its_limit_gets_429_with_retry_after_and_nothing_is_queued(
    router, initiate_request_example, company_record_example, window, seconds, limit_field
):
    limits = {**company_record_example["rate_limits"], limit_field: 3}
    router.put_company({**company_record_example, "rate_limits": limits, "api_key_ids": [API_KEY_ID]})
    _fill_counters(router, window=window, seconds=seconds, count=3)

    reply = router.post(initiate_request_example)
    _error(reply, 429, "RATE_LIMIT_EXCEEDED")
    assert 1 <= int(reply.headers["Retry-After"]) <= seconds
    assert router.all_messages() == {channel: [] for channel in ALL_CHANNELS}


def test_concurrent_requests_of_one_project_admit_exactly_its_limit(
    router, initiate_request_example, company_record_example
):
    # The day limit binds (the minute one is high), so a minute boundary during the test changes nothing.
    limits = {**company_record_example["rate_limits"], "requests_per_minute": 1000, "requests_per_day": 5}
    router.put_company({**company_record_example, "rate_limits": limits, "api_key_ids": [API_KEY_ID]})
    events = []
    for _ in range(16):
        body = _with(initiate_request_example, str(uuid.uuid4()), "request_data", "request_id")
        events.append(router.event(body))
    start = threading.Barrier(len(events))

    def call(event):
        start.wait()
        return router.call(event).status

    with ThreadPoolExecutor(max_workers=len(events)) as pool:
        statuses = list(pool.map(call, events))
    assert sorted(statuses) == [200] * 5 + [429] * 11
    assert len(router.messages(Channel.WHATSAPP)) == 5


# --- failures (500) ------------------------------------------------------------------------------


def test_a_queue_failure_is_500_queue_error_with_no_message_and_the_request_not_counted(
    router, initiate_request_example
):
    sqs = router.aws.client("sqs")
    sqs.delete_queue(QueueUrl=router.aws.queues[Channel.WHATSAPP].queue_url)

    _error(router.post(initiate_request_example), 500, "QUEUE_ERROR")
    assert router.messages(Channel.SMS) == router.messages(Channel.EMAIL) == []
    assert set(router.counters().values()) == {0}  # the reservation was given back


@pytest.mark.parametrize("table", ["company-data", "rate-limits"])
def test_a_dynamodb_failure_is_500_database_error_and_nothing_is_queued(router, initiate_request_example, table):
    router.aws.client("dynamodb").delete_table(TableName=router.aws.table_name(table))
    _error(router.post(initiate_request_example), 500, "DATABASE_ERROR")
    assert router.all_messages() == {channel: [] for channel in ALL_CHANNELS}


@pytest.mark.parametrize(
    "breakage",
    [
        lambda r: r.pop("rate_limits"),
        lambda r: r["channel_config"].pop("whatsapp"),
        lambda r: r["ai_config"]["openai_config"]["whatsapp"].pop("template_sender"),
    ],
    ids=["no-rate-limits", "no-channel-config", "legacy-assistant-only"],
)
def test_a_broken_project_configuration_is_500_configuration_error_without_detail(
    router, initiate_request_example, company_record_example, breakage
):
    record = {**copy.deepcopy(company_record_example), "api_key_ids": [API_KEY_ID]}
    breakage(record)
    router.put_company(record)
    reply = router.post(initiate_request_example)
    _error(reply, 500, "CONFIGURATION_ERROR")
    assert "validation error" not in reply.body["message"].lower()
    _assert_nothing_queued(router)


@pytest.mark.parametrize(
    ("field", "secret_id"),
    [
        (
            "channel_config.whatsapp.whatsapp_credentials_id",
            "ai-multi-comms/whatsapp-credentials/ci-other-002/pi-other-002/twilio-dev",
        ),
        (
            "channel_config.whatsapp.whatsapp_credentials_id",
            "ai-multi-comms/whatsapp-credentials/ci-demo-001/pi-other-002/twilio-dev",
        ),
        (
            "channel_config.whatsapp.whatsapp_credentials_id",
            "ai-multi-comms/whatsapp-credentials/cucumber-recruitment/clarify-cv/twilio-dev",
        ),
        (
            "channel_config.whatsapp.whatsapp_credentials_id",
            "ai-multi-comms/whatsapp-credentials/ci-demo-001/pi-demo-001/twilio-prod",
        ),
        (
            "ai_config.openai_config.whatsapp.api_key_reference",
            "ai-multi-comms/whatsapp-credentials/ci-demo-001/pi-demo-001/twilio-dev",
        ),
    ],
    ids=["another-company", "another-project", "no-tenant", "another-env", "credentials-as-openai-key"],
)
def test_a_secret_id_outside_the_tenant_is_500_configuration_error_and_nothing_is_queued(
    router, initiate_request_example, company_record_example, field, secret_id
):
    record = {**copy.deepcopy(company_record_example), "api_key_ids": [API_KEY_ID]}
    *parents, leaf = field.split(".")
    target = record
    for part in parents:
        target = target[part]
    target[leaf] = secret_id
    router.put_company(record)

    reply = router.post(initiate_request_example)

    _error(reply, 500, "CONFIGURATION_ERROR")
    assert secret_id not in reply.body["message"]  # the cause is the operator's to read in the log
    _assert_nothing_queued(router)


def test_an_unexpected_failure_is_500_internal_error_without_a_trace(
    router, router_logs, initiate_request_example, monkeypatch
):
    monkeypatch.delenv("COMPANY_TABLE_NAME")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "session-token-from-the-lambda-runtime")
    reply = router.post(initiate_request_example)
    _error(reply, 500, "INTERNAL_ERROR")
    assert reply.body["message"] == "The request could not be processed"
    assert "Traceback" not in reply.raw["body"] and "COMPANY_TABLE_NAME" not in reply.raw["body"]
    # The cause is logged, but a settings error never quotes the environment it was read from.
    (line,) = (json.loads(line) for line in router_logs)
    assert line["level"] == "ERROR" and "COMPANY_TABLE_NAME" in line["cause"]
    assert "session-token-from-the-lambda-runtime" not in json.dumps(line)


# --- logs and keys -------------------------------------------------------------------------------


def test_logs_carry_the_request_id_as_correlation_id_and_masked_addresses(
    router, router_logs, initiate_request_example
):
    router.call(router.event(initiate_request_example, request_id="gw-correlation-7"))
    initiate_request_example["request_data"]["channel_method"] = "email"
    initiate_request_example["recipient_data"]["comms_consent"] = False
    router.call(router.event(initiate_request_example, request_id="gw-correlation-8"))

    lines = [json.loads(line) for line in router_logs]
    assert [line["correlation_id"] for line in lines] == ["gw-correlation-7", "gw-correlation-8"]
    assert lines[0]["message"] == "Request queued"
    assert lines[0]["recipient"] == "+44********23"
    assert lines[1]["error_code"] == "COMMS_CONSENT_REQUIRED"
    # Each invocation starts clean: nothing of the first request leaks into the second's lines.
    assert "conversation_id" not in lines[1] and "recipient" not in lines[1]
    text = "\n".join(router_logs)
    assert "+447700900123" not in text and "alex.morgan@example.com" not in text


def test_nothing_in_a_queue_message_a_log_line_or_a_response_echoes_a_key(
    router, router_logs, initiate_request_example, monkeypatch
):
    with_legacy_key = _with(initiate_request_example, API_KEY, "company_data", "api_key")
    replies = [
        router.post(with_legacy_key),
        router.post(_with(with_legacy_key, "telegram", "request_data", "channel_method")),
        router.post(with_legacy_key, api_key_id=OTHER_API_KEY_ID),
    ]
    monkeypatch.delenv("SMS_QUEUE_URL")
    replies.append(router.post(with_legacy_key))
    assert [reply.status for reply in replies] == [200, 400, 403, 500]

    (sqs_message,) = router.messages(Channel.WHATSAPP)
    outputs = [
        *(json.dumps(reply.raw) for reply in replies),
        json.dumps(sqs_message["MessageAttributes"]),
        sqs_message["Body"],
        *router_logs,
    ]
    assert router_logs
    for output in outputs:
        assert API_KEY not in output
        assert API_KEY_ID not in output
        assert OTHER_API_KEY_ID not in output
