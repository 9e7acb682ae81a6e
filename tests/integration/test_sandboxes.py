"""The provider sandboxes, driven by the real OpenAI, Twilio and SendGrid SDKs.

Each test shows what a processor would see: the SDK's own result or exception, and what reached
the sandbox's outbox (what a person would have received).
"""

from __future__ import annotations

import json
import re
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema
import openai
import pytest
import requests
from pydantic import BaseModel, ConfigDict, Field
from python_http_client import exceptions as sendgrid_errors
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import Mail
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client as TwilioClient

from local.sandboxes import (
    FakeOpenAI,
    FakeSendGrid,
    FakeTwilio,
    InvalidOutcome,
    Outcome,
    Sandboxes,
    fingerprint,
    start_all,
)
from tests.fixtures.sandboxes import CallbackReceiver

ACCOUNT_SID = "AC" + "0" * 31 + "1"
AUTH_TOKEN = "twilio-test-token"
OPENAI_KEY = "sk-test-openai"
SENDGRID_KEY = "SG.test-sendgrid"
CANDIDATE = "+447700900123"
COMPANY_SMS = "+447700900002"

CONTEXT = json.dumps(
    {
        "company": {"company_name": "Cucumber Recruitment", "company_rep": "Carol"},
        "recipient": {"recipient_first_name": "Alex", "recipient_last_name": "Morgan"},
        "project_data": {
            "jobRole": "Healthcare Assistant",
            "clarificationPoints": [{"point": "The CV does not mention a driving licence."}],
        },
    }
)
WHATSAPP_SCHEMA = {
    "type": "object",
    "properties": {
        "1": {"type": "string", "description": "recipient first name"},
        "2": {"type": "string", "description": "job role"},
        "3": {"type": "string", "description": "company rep name"},
        "4": {"type": "string", "description": "one short sentence naming what needs clarifying"},
    },
    "required": ["1", "2", "3", "4"],
    "additionalProperties": False,
}
SMS_SCHEMA = {
    "type": "object",
    "properties": {"body": {"type": "string", "minLength": 1, "maxLength": 60}},
    "required": ["body"],
    "additionalProperties": False,
}


# -- clients as a processor would build them ------------------------------------------------------
def openai_client(sb: Sandboxes, *, timeout: float = 5.0, key: str = OPENAI_KEY) -> openai.OpenAI:
    return openai.OpenAI(api_key=key, base_url=sb.openai.url, max_retries=0, timeout=timeout)


def twilio_client(sb: Sandboxes, *, timeout: float | None = None, token: str = AUTH_TOKEN) -> TwilioClient:
    client = TwilioClient(ACCOUNT_SID, token, http_client=TwilioHttpClient(timeout=timeout))
    client.api.base_url = sb.twilio.url  # APIS.md §2 option (b)
    return client


def sendgrid_client(sb: Sandboxes, *, timeout: float | None = None, key: str = SENDGRID_KEY) -> SendGridAPIClient:
    client = SendGridAPIClient(api_key=key, host=sb.sendgrid.url)
    client.client.timeout = timeout
    return client


def structured(client: openai.OpenAI, schema: dict[str, Any], name: str = "output") -> Any:
    return client.responses.create(
        model="gpt-5-mini",
        instructions="Write the message.",
        input=CONTEXT,
        text={"format": {"type": "json_schema", "name": name, "schema": schema, "strict": True}},
        store=False,
    )


def send_sms(client: TwilioClient, to: str = CANDIDATE, body: str = "Hello Alex") -> Any:
    return client.messages.create(to=to, from_=COMPANY_SMS, body=body)


def email(to: str = "alex.morgan@example.com") -> Mail:
    return Mail(
        from_email="talent@cucumber-recruitment.example",
        to_emails=to,
        subject="Your application",
        plain_text_content="Hi Alex",
        html_content="<p>Hi Alex</p>",
    )


# -- OpenAI Responses -----------------------------------------------------------------------------
def test_openai_writes_whatsapp_variables_valid_against_the_schema_from_the_input(sandbox: Sandboxes) -> None:
    response = structured(openai_client(sandbox), WHATSAPP_SCHEMA, "whatsapp_variables")

    variables = json.loads(response.output_text)
    jsonschema.validate(variables, WHATSAPP_SCHEMA)
    assert variables == {
        "1": "Alex",
        "2": "Healthcare Assistant",
        "3": "Carol",
        "4": "The CV does not mention a driving licence.",
    }
    assert re.fullmatch(r"resp_[0-9a-f]+", response.id)
    assert response.status == "completed"
    assert response.model == "gpt-5-mini"


def test_openai_sms_body_stays_within_max_length(sandbox: Sandboxes) -> None:
    response = structured(openai_client(sandbox), SMS_SCHEMA, "sms")

    body = json.loads(response.output_text)
    jsonschema.validate(body, SMS_SCHEMA)
    assert body["body"].startswith("Hi Alex")


class EmailContent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str = Field(max_length=80)
    body: str


class Email(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailContent


def test_openai_parse_fills_a_nested_email_schema_with_refs(sandbox: Sandboxes) -> None:
    # responses.parse sends pydantic's schema, with the nested model behind a $ref.
    parsed = openai_client(sandbox).responses.parse(model="gpt-5-mini", input=CONTEXT, text_format=Email)

    sent_schema = sandbox.openai.requests[0].body["text"]["format"]["schema"]
    jsonschema.validate(json.loads(parsed.output_text), sent_schema)
    assert parsed.output_parsed is not None
    assert "Healthcare Assistant" in parsed.output_parsed.email.subject
    assert parsed.output_parsed.email.body.startswith("Hi Alex, this is Carol from Cucumber Recruitment")


def test_openai_reads_input_items_and_fills_every_kind_of_strict_schema(sandbox: Sandboxes) -> None:
    schema = {
        "type": "object",
        "properties": {
            "greeting": {"type": "string", "description": "recipient first name", "minLength": 12},
            "tone": {"type": "string", "enum": ["warm", "formal"]},
            "follow_up": {"type": ["string", "null"], "maxLength": 5},
            "points": {"type": "array", "items": {"type": "string"}, "minItems": 2},
            "urgency": {"type": "integer", "minimum": 1, "maximum": 3},
            "meta": {"$ref": "#/$defs/Meta"},
        },
        "required": ["greeting", "tone", "follow_up", "points", "urgency", "meta"],
        "additionalProperties": False,
        "$defs": {
            "Meta": {
                "type": "object",
                "properties": {"company": {"type": "string"}, "sure": {"type": "boolean"}},
                "required": ["company", "sure"],
                "additionalProperties": False,
            }
        },
    }
    items = [
        {"role": "developer", "content": "Be brief."},
        {"role": "user", "content": [{"type": "input_text", "text": CONTEXT}]},
    ]

    response = openai_client(sandbox).responses.create(
        model="gpt-5-mini",
        input=items,
        text={"format": {"type": "json_schema", "name": "everything", "schema": schema, "strict": True}},
    )

    content = json.loads(response.output_text)
    jsonschema.validate(content, schema)
    assert content["greeting"].startswith("Alex")
    assert content["meta"]["company"] == "Cucumber Recruitment"


def test_openai_usage_is_derived_from_text_lengths_and_repeatable(sandbox: Sandboxes) -> None:
    client = openai_client(sandbox)
    first, second = structured(client, SMS_SCHEMA), structured(client, SMS_SCHEMA)

    assert first.usage is not None and second.usage is not None
    assert first.usage.input_tokens == second.usage.input_tokens > len(CONTEXT) // 5
    assert first.usage.output_tokens == second.usage.output_tokens > 0
    assert first.usage.total_tokens == first.usage.input_tokens + first.usage.output_tokens
    assert first.usage.input_tokens_details.cached_tokens == 0
    assert first.usage.output_tokens_details.reasoning_tokens == 0
    assert first.id != second.id


def test_openai_records_the_request_with_the_key_only_as_a_fingerprint(sandbox: Sandboxes) -> None:
    structured(openai_client(sandbox), SMS_SCHEMA, "sms")

    (recorded,) = sandbox.openai.requests
    assert (recorded.method, recorded.path) == ("POST", "/v1/responses")
    assert recorded.body["model"] == "gpt-5-mini"
    assert recorded.body["text"]["format"]["name"] == "sms"
    assert recorded.headers["authorization"] == fingerprint(f"Bearer {OPENAI_KEY}")
    assert OPENAI_KEY not in json.dumps([r.to_json() for r in sandbox.openai.requests])


def test_openai_refuses_a_key_it_was_not_given() -> None:
    with FakeOpenAI(api_keys={OPENAI_KEY}) as fake:
        client = openai.OpenAI(api_key="sk-wrong", base_url=fake.url, max_retries=0)
        with pytest.raises(openai.AuthenticationError) as caught:
            client.responses.create(model="gpt-5-mini", input="hi")
        assert caught.value.code == "invalid_api_key"
        accepted = openai.OpenAI(api_key=OPENAI_KEY, base_url=fake.url, max_retries=0)
        assert accepted.responses.create(model="gpt-5-mini", input="hi").status == "completed"


@pytest.mark.parametrize(
    ("outcome", "error"),
    [
        (Outcome.status(429), openai.RateLimitError),
        (Outcome.status(500), openai.InternalServerError),
        (Outcome.status(503), openai.InternalServerError),
        (Outcome.provider_error(400), openai.BadRequestError),
        (Outcome.timeout(3), openai.APITimeoutError),
    ],
    ids=["429", "500", "503", "invalid_request", "timeout"],
)
def test_openai_scripted_failure_surfaces_as_the_sdk_exception_once(
    sandbox: Sandboxes, outcome: Outcome, error: type[Exception]
) -> None:
    sandbox.openai.script(outcome)
    client = openai_client(sandbox, timeout=0.5)

    with pytest.raises(error):
        structured(client, SMS_SCHEMA)
    assert sandbox.openai.outbox == []
    assert json.loads(structured(client, SMS_SCHEMA).output_text)["body"]


def test_openai_invalid_output_is_not_json_for_the_schema(sandbox: Sandboxes) -> None:
    sandbox.openai.script(Outcome.invalid_output())

    response = structured(openai_client(sandbox), SMS_SCHEMA)

    assert response.status == "completed"
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.output_text)


def test_openai_scripted_output_is_the_models_answer_whatever_was_asked(sandbox: Sandboxes) -> None:
    injected = {"body": "Confirm your PIN at http://evil.example/pin or call +19005550100"}
    requests.post(f"{sandbox.openai.control_url}/script", json={"kind": "output", "body": injected}, timeout=5)
    sandbox.openai.script(Outcome.output("plain words"))
    client = openai_client(sandbox)

    first, second, third = (structured(client, SMS_SCHEMA) for _ in range(3))

    assert first.status == "completed" and json.loads(first.output_text) == injected
    assert second.output_text == "plain words"
    assert json.loads(third.output_text)["body"] != injected["body"]  # back to the normal answer
    assert [entry["output_text"] for entry in sandbox.openai.outbox][:2] == [json.dumps(injected), "plain words"]


def test_only_the_openai_sandbox_can_script_an_output(sandbox: Sandboxes) -> None:
    answer = requests.post(f"{sandbox.twilio.control_url}/script", json={"kind": "output", "body": "hello"}, timeout=5)
    assert answer.status_code == 400
    with pytest.raises(InvalidOutcome):
        Outcome.from_json({"kind": "output"})  # nothing to answer with


# -- Twilio Messages ------------------------------------------------------------------------------
def test_twilio_sms_is_queued_and_reaches_the_outbox(sandbox: Sandboxes) -> None:
    message = send_sms(twilio_client(sandbox), body="Hello Alex")

    assert re.fullmatch(r"SM[0-9a-f]{32}", message.sid)
    assert (message.status, message.direction, message.account_sid) == ("queued", "outbound-api", ACCOUNT_SID)
    assert (message.to, message.from_, message.body, message.num_segments) == (
        CANDIDATE,
        COMPANY_SMS,
        "Hello Alex",
        "1",
    )
    assert message.error_code is None and message.price is None
    assert abs(message.date_created - datetime.now(UTC)) < timedelta(minutes=1)
    (delivered,) = sandbox.twilio.outbox
    assert delivered | {"created_at": None} == {
        "sid": message.sid,
        "channel": "sms",
        "to": CANDIDATE,
        "from": COMPANY_SMS,
        "body": "Hello Alex",
        "content_sid": None,
        "content_variables": None,
        "status_callback": None,
        "created_at": None,
    }


def test_twilio_whatsapp_template_reaches_the_outbox_with_its_variables(
    sandbox: Sandboxes, receiver: CallbackReceiver
) -> None:
    variables = {"1": "Alex", "2": "Healthcare Assistant"}
    sandbox.twilio.templates["HX" + "a" * 32] = "Hi {{1}}, about the {{2}} role: can we talk?"
    message = twilio_client(sandbox).messages.create(
        to=f"whatsapp:{CANDIDATE}",
        from_="whatsapp:+447700900001",
        content_sid="HX" + "a" * 32,
        content_variables=json.dumps(variables),
        status_callback=receiver.url("/status"),
    )

    (delivered,) = sandbox.twilio.outbox
    assert delivered["sid"] == message.sid
    assert delivered["channel"] == "whatsapp"
    assert delivered["content_sid"] == "HX" + "a" * 32
    assert delivered["content_variables"] == variables
    assert delivered["status_callback"] == receiver.url("/status")
    # Listed as Twilio lists a template send: its text with the variables filled in.
    assert delivered["body"] == "Hi Alex, about the Healthcare Assistant role: can we talk?"
    assert twilio_client(sandbox).messages(message.sid).fetch().body == delivered["body"]


@pytest.mark.parametrize("to", ["07700 900123", "+0123", "whatsapp:447700900123", ""])
def test_twilio_rejects_an_invalid_recipient_with_21211(sandbox: Sandboxes, to: str) -> None:
    with pytest.raises(TwilioRestException) as caught:
        send_sms(twilio_client(sandbox), to=to)

    assert (caught.value.status, caught.value.code) == (400, 21211)
    assert "Invalid 'To' Phone Number" in caught.value.msg
    assert sandbox.twilio.outbox == []


def test_twilio_rejects_a_whatsapp_recipient_from_an_sms_sender_with_21910(sandbox: Sandboxes) -> None:
    with pytest.raises(TwilioRestException) as caught:
        send_sms(twilio_client(sandbox), to=f"whatsapp:{CANDIDATE}")

    assert (caught.value.status, caught.value.code) == (400, 21910)
    assert sandbox.twilio.outbox == []


def test_twilio_refuses_wrong_credentials_and_a_foreign_account_with_20003() -> None:
    with FakeTwilio(credentials={ACCOUNT_SID: AUTH_TOKEN}) as fake:
        wrong_token = TwilioClient(ACCOUNT_SID, "not-the-token")
        other_account = TwilioClient(ACCOUNT_SID, AUTH_TOKEN, account_sid="AC" + "f" * 32)
        for client in (wrong_token, other_account):
            client.api.base_url = fake.url
            with pytest.raises(TwilioRestException) as caught:
                send_sms(client)
            assert (caught.value.status, caught.value.code) == (401, 20003)
        assert fake.outbox == []


@pytest.mark.parametrize(
    ("outcome", "status", "code"),
    [
        (Outcome.status(429), 429, 20429),
        (Outcome.status(503), 503, 20503),
        (Outcome.provider_error(21211), 400, 21211),
        (Outcome.provider_error(21610), 400, 21610),
        (Outcome.provider_error(21614), 400, 21614),
        (Outcome.provider_error(63016), 400, 63016),
    ],
    ids=["429", "503", "21211", "21610", "21614", "63016"],
)
def test_twilio_scripted_failure_surfaces_as_twilio_rest_exception_once(
    sandbox: Sandboxes, outcome: Outcome, status: int, code: int
) -> None:
    sandbox.twilio.script(outcome)
    client = twilio_client(sandbox)

    with pytest.raises(TwilioRestException) as caught:
        send_sms(client)

    assert (caught.value.status, caught.value.code) == (status, code)
    assert sandbox.twilio.outbox == []
    assert send_sms(client).status == "queued"


def test_twilio_scripted_timeout_surfaces_as_a_requests_timeout_and_sends_nothing(sandbox: Sandboxes) -> None:
    sandbox.twilio.script(Outcome.timeout(3))

    with pytest.raises(requests.exceptions.Timeout):
        send_sms(twilio_client(sandbox, timeout=0.5))

    assert sandbox.twilio.outbox == []


def test_twilio_accept_then_timeout_delivers_and_the_list_finds_the_message(sandbox: Sandboxes) -> None:
    # A crash between the provider's accept and the caller learning the sid: the reconciliation
    # a processor does on redelivery is to list messages from its sender to the recipient since then.
    send_started = datetime.now(UTC) - timedelta(seconds=1)
    sandbox.twilio.script(Outcome.accept_then_timeout(3))

    with pytest.raises(requests.exceptions.Timeout):
        send_sms(twilio_client(sandbox, timeout=0.5))

    (delivered,) = sandbox.twilio.outbox
    found = twilio_client(sandbox).messages.list(to=CANDIDATE, from_=COMPANY_SMS, date_sent_after=send_started, limit=5)
    assert [m.sid for m in found] == [delivered["sid"]]


def test_twilio_list_filters_by_recipient_sender_and_date(sandbox: Sandboxes) -> None:
    client = twilio_client(sandbox)
    first = send_sms(client, to=CANDIDATE)
    second = send_sms(client, to=CANDIDATE)
    send_sms(client, to="+447700900999")
    today, tomorrow = datetime.now(UTC).date(), datetime.now(UTC).date() + timedelta(days=1)

    newest_first = [m.sid for m in client.messages.list(to=CANDIDATE, from_=COMPANY_SMS)]
    assert newest_first == [second.sid, first.sid]
    assert [m.sid for m in client.messages.stream(to=CANDIDATE, date_sent=today)] == newest_first
    assert client.messages.list(to=CANDIDATE, date_sent_after=tomorrow) == []
    assert client.messages.list(to=CANDIDATE, from_="+447700900777") == []
    assert len(client.messages.list(limit=2)) == 2
    assert client.messages(first.sid).fetch().body == "Hello Alex"


def test_twilio_http_client_that_rewrites_the_host_reaches_the_sandbox(sandbox: Sandboxes) -> None:
    # APIS.md §2 option (a): the product may instead rewrite api.twilio.com in its HTTP client.
    class LocalTwilioHttpClient(TwilioHttpClient):
        def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            return super().request(method, url.replace("https://api.twilio.com", sandbox.twilio.url), *args, **kwargs)

    client = TwilioClient(ACCOUNT_SID, AUTH_TOKEN, http_client=LocalTwilioHttpClient())

    assert send_sms(client).sid == sandbox.twilio.outbox[0]["sid"]


# -- SendGrid Mail Send ---------------------------------------------------------------------------
def test_sendgrid_accepts_mail_with_a_message_id_and_delivers_text_and_html(sandbox: Sandboxes) -> None:
    response = sendgrid_client(sandbox).send(email())

    assert response.status_code == 202
    assert response.body in (b"", "")
    (delivered,) = sandbox.sendgrid.outbox
    assert delivered["message_id"] == response.headers["X-Message-Id"]
    assert delivered["from"] == "talent@cucumber-recruitment.example"
    assert delivered["to"] == ["alex.morgan@example.com"]
    assert (delivered["subject"], delivered["text"], delivered["html"]) == (
        "Your application",
        "Hi Alex",
        "<p>Hi Alex</p>",
    )
    assert sandbox.sendgrid.requests[0].headers["authorization"] == fingerprint(f"Bearer {SENDGRID_KEY}")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            lambda body: body["personalizations"][0]["to"][0].update(email="not-an-address"),
            "personalizations.0.to.0.email",
        ),
        (lambda body: body.pop("subject"), "subject"),
        (lambda body: body.pop("from"), "from.email"),
        (lambda body: body.update(content=[{"type": "text/plain", "value": ""}]), "content.0"),
    ],
    ids=["bad_to", "no_subject", "no_from", "empty_content"],
)
def test_sendgrid_rejects_an_invalid_mail_with_its_errors_body(sandbox: Sandboxes, change: Any, field: str) -> None:
    body = email().get()
    change(body)

    with pytest.raises(sendgrid_errors.BadRequestsError) as caught:
        sendgrid_client(sandbox).client.mail.send.post(request_body=body)

    errors = json.loads(caught.value.body)["errors"]
    assert field in [e["field"] for e in errors]
    assert all(set(e) == {"message", "field", "help"} for e in errors)
    assert sandbox.sendgrid.outbox == []


def test_sendgrid_refuses_a_key_it_was_not_given() -> None:
    with FakeSendGrid(api_keys={SENDGRID_KEY}) as fake:
        client = SendGridAPIClient(api_key="SG.wrong", host=fake.url)
        with pytest.raises(sendgrid_errors.UnauthorizedError) as caught:
            client.send(email())
        assert json.loads(caught.value.body)["errors"][0]["message"]
        assert SendGridAPIClient(api_key=SENDGRID_KEY, host=fake.url).send(email()).status_code == 202


@pytest.mark.parametrize(
    ("outcome", "error"),
    [
        (Outcome.status(429), sendgrid_errors.TooManyRequestsError),
        (Outcome.status(500), sendgrid_errors.InternalServerError),
        (Outcome.status(503), sendgrid_errors.ServiceUnavailableError),
        (Outcome.provider_error(400), sendgrid_errors.BadRequestsError),
    ],
    ids=["429", "500", "503", "rejected"],
)
def test_sendgrid_scripted_failure_surfaces_as_http_error_once(
    sandbox: Sandboxes, outcome: Outcome, error: type[Exception]
) -> None:
    sandbox.sendgrid.script(outcome)
    client = sendgrid_client(sandbox)

    with pytest.raises(error):
        client.send(email())

    assert sandbox.sendgrid.outbox == []
    assert client.send(email()).status_code == 202


def test_sendgrid_scripted_timeout_raises_timeout_error(sandbox: Sandboxes) -> None:
    sandbox.sendgrid.script(Outcome.timeout(3))

    with pytest.raises(TimeoutError):
        sendgrid_client(sandbox, timeout=0.5).send(email())

    assert sandbox.sendgrid.outbox == []


def test_sendgrid_accept_then_timeout_delivers_while_the_client_times_out(sandbox: Sandboxes) -> None:
    sandbox.sendgrid.script(Outcome.accept_then_timeout(3))

    with pytest.raises(TimeoutError):
        sendgrid_client(sandbox, timeout=0.5).send(email())

    assert [m["to"] for m in sandbox.sendgrid.outbox] == [["alex.morgan@example.com"]]


# -- driving a sandbox over HTTP, latency, lifecycle ----------------------------------------------
def test_control_endpoints_script_inspect_and_reset_over_http(sandbox: Sandboxes) -> None:
    control = f"{sandbox.twilio.url}/_sandbox"
    scripted = [{"kind": "status", "code": 503}, {"kind": "provider_error", "code": 21211}]
    assert requests.post(f"{control}/script", json=scripted, timeout=5).json() == {"scripted": scripted}
    assert requests.get(f"{control}/script", timeout=5).json() == scripted
    client = twilio_client(sandbox)

    codes = []
    for _ in scripted:
        with pytest.raises(TwilioRestException) as caught:
            send_sms(client)
        codes.append((caught.value.status, caught.value.code))
    sent = send_sms(client)

    assert codes == [(503, 20503), (400, 21211)]
    assert [m["sid"] for m in requests.get(f"{control}/outbox", timeout=5).json()] == [sent.sid]
    recorded = requests.get(f"{control}/requests", timeout=5).json()
    assert [r["body"]["To"] for r in recorded] == [CANDIDATE] * 3
    assert all(AUTH_TOKEN not in json.dumps(r) for r in recorded)
    assert requests.post(f"{control}/reset", timeout=5).ok
    assert requests.get(f"{control}/outbox", timeout=5).json() == []
    assert requests.get(f"{control}/requests", timeout=5).json() == []
    assert client.messages.list() == []


def test_openai_control_endpoints_answer_under_its_v1_url_too(sandbox: Sandboxes) -> None:
    requests.post(f"{sandbox.openai.url}/_sandbox/script", json=[{"kind": "status", "code": 429}], timeout=5)

    with pytest.raises(openai.RateLimitError):
        structured(openai_client(sandbox), SMS_SCHEMA)
    structured(openai_client(sandbox), SMS_SCHEMA)

    (answered,) = requests.get(f"{sandbox.openai.control_url}/outbox", timeout=5).json()
    assert set(answered) == {"id", "model", "instructions", "output_text", "usage", "created_at"}
    assert [r["path"] for r in requests.get(f"{sandbox.openai.url}/_sandbox/requests", timeout=5).json()] == [
        "/v1/responses",
        "/v1/responses",
    ]


def test_control_endpoint_refuses_a_malformed_script(sandbox: Sandboxes) -> None:
    bad = [{"kind": "explode"}, {"kind": "status"}, {"kind": "timeout", "seconds": -1}]
    for item in bad:
        answer = requests.post(f"{sandbox.sendgrid.url}/_sandbox/script", json=[item], timeout=5)
        assert answer.status_code == 400, item
    invalid_output = requests.post(
        f"{sandbox.sendgrid.url}/_sandbox/script", json=[{"kind": "invalid_output"}], timeout=5
    )
    assert invalid_output.status_code == 400
    assert sandbox.sendgrid.pending_outcomes == []


def test_outcomes_round_trip_through_their_json_form() -> None:
    outcomes = [
        Outcome.status(429, body={"error": "slow down"}),
        Outcome.timeout(2.5),
        Outcome.accept_then_timeout(1),
        Outcome.provider_error(63016),
        Outcome.invalid_output(),
        Outcome.output({"body": "hi"}),
        Outcome.output("text"),
    ]
    assert [Outcome.from_json(json.loads(json.dumps(o.to_json()))) for o in outcomes] == outcomes
    with pytest.raises(InvalidOutcome):
        Outcome.from_json({"kind": "status", "code": 503, "extra": 1})


def test_latency_set_over_http_delays_every_answer(sandbox: Sandboxes) -> None:
    requests.post(f"{sandbox.openai.control_url}/latency", json={"seconds": 0.5}, timeout=5)

    started = time.monotonic()
    structured(openai_client(sandbox), SMS_SCHEMA)

    assert 0.5 <= time.monotonic() - started < 5


def test_latency_is_paid_concurrently_by_parallel_requests(sandbox: Sandboxes) -> None:
    sandbox.openai.set_latency(1.0)
    client = openai_client(sandbox)

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(lambda _: structured(client, SMS_SCHEMA), range(10)))

    assert len({a.id for a in answers}) == 10
    assert time.monotonic() - started < 5  # ten sequential answers would take 10 s


def test_stop_releases_the_port_even_with_a_request_in_flight() -> None:
    fake = FakeSendGrid().start()
    port = fake.port
    fake.script(Outcome.timeout(30))
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(SendGridAPIClient(api_key=SENDGRID_KEY, host=fake.url).send, email())
        while not fake.requests:
            time.sleep(0.01)
        started = time.monotonic()
        fake.stop()
        assert time.monotonic() - started < 5
        with pytest.raises(sendgrid_errors.GatewayTimeoutError):
            pending.result(timeout=5)
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))


def test_start_all_binds_loopback_on_the_given_ports() -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    started = start_all(ports={"twilio": port})
    try:
        assert started.twilio.url == f"http://127.0.0.1:{port}"
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/v1", started.openai.url)
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", started.sendgrid.url)
        client = TwilioClient(ACCOUNT_SID, AUTH_TOKEN)
        client.api.base_url = started.twilio.url
        assert send_sms(client).sid == started.twilio.outbox[0]["sid"]
    finally:
        started.stop()


def test_a_hold_keeps_provider_requests_waiting_until_released_and_not_the_control_endpoints(
    sandbox: Sandboxes,
) -> None:
    control = sandbox.openai.control_url
    assert requests.post(f"{control}/hold", timeout=5).json() == {"holding": True}
    with ThreadPoolExecutor(max_workers=2) as pool:
        pending = [pool.submit(structured, openai_client(sandbox, timeout=30), SMS_SCHEMA) for _ in range(2)]
        while requests.get(f"{control}/hold", timeout=5).json()["waiting"] < 2:
            time.sleep(0.01)
        assert not any(future.done() for future in pending)
        assert len(requests.get(f"{control}/requests", timeout=5).json()) == 2  # recorded while held
        assert sandbox.openai.outbox == []

        assert requests.post(f"{control}/release", timeout=5).json() == {"released": 2}
        answers = [future.result(timeout=10) for future in pending]

    assert len({answer.id for answer in answers}) == 2
    assert requests.get(f"{control}/hold", timeout=5).json() == {"holding": False, "waiting": 0}


def test_a_reset_ends_a_hold(sandbox: Sandboxes) -> None:
    sandbox.twilio.hold()
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(send_sms, twilio_client(sandbox))
        while sandbox.twilio.holding != (True, 1):
            time.sleep(0.01)
        sandbox.twilio.reset()
        assert pending.result(timeout=10).status == "queued"
    assert sandbox.twilio.holding == (False, 0)
