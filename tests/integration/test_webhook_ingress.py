"""The webhook ingress handler against moto, with requests signed as Twilio and SendGrid sign them.

Two tenants (A: the example record, B: another company) each hold their own Twilio tokens and
SendGrid key pair. Every refusal must leave the events queue empty and be counted.
"""

from __future__ import annotations

import importlib.util
import io
import itertools
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer

from local.emulator import LocalResources
from local.rest_proxy_event import rest_proxy_event
from shared.events.envelope import EventKind, Provider, ProviderEvent
from shared.processing import metric_names
from shared.tables import COMPANY_DATA
from shared.webhooks.routes import SENDGRID_EVENTS, TWILIO_STATUS, WebhookRoute
from shared.webhooks.settings import WebhookSettings
from shared.webhooks.twilio_webhook import EMPTY_TWIML
from tests.conftest import ROOT
from tests.fixtures.processors import emitted_metrics
from tests.fixtures.tenants import record_for_tenant
from tests.fixtures.webhook_signing import SendGridSigner, form_body, twilio_signature
from tests.integration.conftest import FakeLambdaContext

BASE_URL = "https://hooks.example.test/dev"
HANDLER = ROOT / "lambdas" / "webhook_ingress" / "handler.py"
_loads = itertools.count()

RECIPIENT = "+447700900123"
RECIPIENT_EMAIL = "alex.morgan@example.com"


@dataclass
class Tenant:
    company_id: str
    project_id: str
    whatsapp_token: str
    sms_token: str
    sendgrid: SendGridSigner
    record: dict[str, Any]

    def url(self, route: WebhookRoute) -> str:
        return route.url(BASE_URL, self.company_id, self.project_id)

    def secret_id(self, channel: str) -> str:
        return self.record["channel_config"][channel][f"{channel}_credentials_id"]


def twilio_params(**overrides: str) -> dict[str, str]:
    params = {
        "MessageSid": "SM0123456789abcdef0123456789abcdef",
        "AccountSid": "ACtestwebhook00000000000000000001",
        "MessageStatus": "delivered",
        "To": f"whatsapp:{RECIPIENT}",
        "From": "whatsapp:+447700900001",
        "ApiVersion": "2010-04-01",
    }
    params.update(overrides)
    return params


def sendgrid_events(count: int = 3) -> list[dict[str, Any]]:
    kinds = ["processed", "delivered", "open", "click", "bounce", "deferred"]
    return [
        {
            "email": RECIPIENT_EMAIL,
            "timestamp": 1795512600 + index,
            "event": kinds[index % len(kinds)],
            "sg_event_id": f"ZGVsaXZlcmVkLTAtMjQ{index:04d}",
            "sg_message_id": f"14c5d75ce93.dfd.64b469.filter0001p{index}.16648.5515E0B88.0",
            "conversation_id": "ci-demo-001#pi-demo-001#req#talent@cucumber-recruitment.example",
        }
        for index in range(count)
    ]


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: str


@dataclass
class IngressHarness:
    aws: LocalResources
    queue_url: str
    handler: Any
    log_stream: io.StringIO
    a: Tenant
    b: Tenant
    request_ids: list[str] = field(default_factory=list)

    def call(self, event: dict[str, Any]) -> Reply:
        raw = self.handler(event, FakeLambdaContext(function_name="ai-multi-comms-webhook-ingress-dev"))
        assert set(raw) == {"statusCode", "headers", "body", "isBase64Encoded"}
        return Reply(raw["statusCode"], raw["headers"], raw["body"])

    def event(
        self,
        route: WebhookRoute,
        tenant: Tenant,
        body: str,
        headers: dict[str, str],
        *,
        path_ids: tuple[str, str] | None = None,
        **options: Any,
    ) -> dict[str, Any]:
        company_id, project_id = path_ids or (tenant.company_id, tenant.project_id)
        path = route.path.format(company_id=company_id, project_id=project_id)
        event = rest_proxy_event(body=body, path=path, resource=route.path, headers=headers, **options)
        # API Gateway fills the path parameters of the resource template.
        event["pathParameters"] = {"company_id": company_id, "project_id": project_id}
        self.request_ids.append(event["requestContext"]["requestId"])
        return event

    def twilio(
        self,
        tenant: Tenant,
        params: dict[str, str],
        *,
        token: str | None = None,
        signed_url: str | None = None,
        signature: str | None = None,
        content_type: str = "application/x-www-form-urlencoded; charset=UTF-8",
        body: str | None = None,
        **options: Any,
    ) -> Reply:
        url = signed_url or tenant.url(TWILIO_STATUS)
        headers = {"Content-Type": content_type, "User-Agent": "TwilioProxy/1.1"}
        if signature is None:
            signature = twilio_signature(token or tenant.whatsapp_token, url, params)
        if signature:
            headers["X-Twilio-Signature"] = signature
        return self.call(
            self.event(TWILIO_STATUS, tenant, form_body(params) if body is None else body, headers, **options)
        )

    def sendgrid(
        self,
        tenant: Tenant,
        events: Any,
        *,
        signer: SendGridSigner | None = None,
        timestamp: int | None = None,
        body: str | None = None,
        signed_body: str | None = None,
        signature: str | None = None,
        content_type: str = "application/json",
        **options: Any,
    ) -> Reply:
        text = json.dumps(events) + "\r\n" if body is None else body
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        headers = {"Content-Type": content_type, "User-Agent": "SendGrid Event API"}
        if signature is None:
            signature = (signer or tenant.sendgrid).sign(stamp, text if signed_body is None else signed_body)
        if signature:
            headers["X-Twilio-Email-Event-Webhook-Signature"] = signature
            headers["X-Twilio-Email-Event-Webhook-Timestamp"] = stamp
        return self.call(self.event(SENDGRID_EVENTS, tenant, text, headers, **options))

    def queued(self) -> list[ProviderEvent]:
        sqs = self.aws.client("sqs")
        found: list[ProviderEvent] = []
        while True:
            batch = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=600)
            messages = batch.get("Messages", [])
            if not messages:
                return found
            found.extend(ProviderEvent.from_body(message["Body"]) for message in messages)

    def put_record(self, record: dict[str, Any]) -> None:
        serializer = TypeSerializer()
        self.aws.client("dynamodb").put_item(
            TableName=self.aws.table_name(COMPANY_DATA.logical_name),
            Item={name: serializer.serialize(value) for name, value in record.items()},
        )

    def put_secret(self, secret_id: str, value: dict[str, Any]) -> None:
        secrets = self.aws.client("secretsmanager")
        try:
            secrets.create_secret(Name=secret_id, SecretString=json.dumps(value))
        except secrets.exceptions.ResourceExistsException:
            secrets.put_secret_value(SecretId=secret_id, SecretString=json.dumps(value))

    def logs(self) -> str:
        return self.log_stream.getvalue()

    def log_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.logs().splitlines() if line.strip()]


def _tenant(record: dict[str, Any], label: str) -> Tenant:
    return Tenant(
        company_id=record["company_id"],
        project_id=record["project_id"],
        whatsapp_token=f"whatsapp-token-of-{label}-fake-000000",
        sms_token=f"sms-token-of-{label}-fake-0000000000",
        sendgrid=SendGridSigner.generate(),
        record=record,
    )


def _store_tenant(harness: IngressHarness, tenant: Tenant) -> None:
    harness.put_record(tenant.record)
    harness.put_secret(
        tenant.secret_id("whatsapp"),
        {"twilio_account_sid": "ACtestwebhook00000000000000000001", "twilio_auth_token": tenant.whatsapp_token},
    )
    harness.put_secret(
        tenant.secret_id("sms"),
        {"twilio_account_sid": "ACtestwebhook00000000000000000002", "twilio_auth_token": tenant.sms_token},
    )
    harness.put_secret(
        tenant.secret_id("email"),
        {"sendgrid_api_key": "SG.fake-key-of-the-test", "sendgrid_webhook_public_key": tenant.sendgrid.public_key},
    )


def _load_handler() -> Any:
    """Import ``lambdas/webhook_ingress/handler.py`` afresh: a cold container with empty caches."""
    spec = importlib.util.spec_from_file_location(f"_webhook_ingress_{next(_loads)}", HANDLER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler


@pytest.fixture
def start_ingress(aws: LocalResources, monkeypatch: pytest.MonkeyPatch, company_record_example):
    """``start_ingress(events_queue_url=None)``: a cold handler wired to moto, tenants A and B stored."""
    queue_url = aws.client("sqs").create_queue(QueueName="webhook-ingress-test-events")["QueueUrl"]
    stream = io.StringIO()
    capture = logging.StreamHandler(stream)
    service_logger = logging.getLogger("webhook-ingress")

    def start(events_queue_url: str | None = None) -> IngressHarness:
        settings = WebhookSettings(
            environment="dev",
            company_table_name=aws.table_name(COMPANY_DATA.logical_name),
            events_queue_url=events_queue_url or queue_url,
            public_base_url=BASE_URL,
        )
        for name, value in settings.to_environment().items():
            monkeypatch.setenv(name, value)
        handler = _load_handler()
        capture.setFormatter(next(h.formatter for h in service_logger.handlers if h.formatter is not None))
        service_logger.addHandler(capture)
        record_b = record_for_tenant(company_record_example, "ci-other-002", "pi-other-002")
        harness = IngressHarness(
            aws=aws,
            queue_url=queue_url,
            handler=handler,
            log_stream=stream,
            a=_tenant(company_record_example, "a"),
            b=_tenant(record_b, "b"),
        )
        _store_tenant(harness, harness.a)
        _store_tenant(harness, harness.b)
        return harness

    yield start
    service_logger.removeHandler(capture)


@pytest.fixture
def ingress(start_ingress) -> IngressHarness:
    return start_ingress()


def assert_refused(reply: Reply, status: int, ingress: IngressHarness, captured: str, *, signature: bool) -> None:
    assert (reply.status, reply.body) == (status, "")
    assert ingress.queued() == []
    metrics = emitted_metrics(captured)
    assert metrics.count(metric_names.WEBHOOK_REJECTED) == 1
    assert metrics.count(metric_names.WEBHOOK_SIGNATURE_REJECTED) == (1 if signature else 0)
    assert metric_names.WEBHOOK_ACCEPTED not in metrics


# --- Twilio status callbacks -------------------------------------------------------------------


def test_a_signed_twilio_callback_is_answered_with_empty_twiml_and_queued_once(ingress, capsys):
    params = twilio_params()

    reply = ingress.twilio(ingress.a, params)

    assert (reply.status, reply.headers, reply.body) == (200, {"Content-Type": "text/xml"}, EMPTY_TWIML)
    (event,) = ingress.queued()
    assert event.provider is Provider.TWILIO and event.kind is EventKind.TWILIO_STATUS
    assert (event.company_id, event.project_id) == (ingress.a.company_id, ingress.a.project_id)
    assert event.payload == params
    assert event.correlation_id == ingress.request_ids[-1]
    assert event.callback_base_url == BASE_URL
    assert abs(event.received_at.timestamp() - time.time()) < 60
    assert emitted_metrics(capsys.readouterr().out) == [metric_names.WEBHOOK_ACCEPTED]


def test_a_blank_parameter_is_part_of_what_twilio_signed(ingress):
    params = twilio_params(MessageStatus="undelivered", ErrorCode="")

    reply = ingress.twilio(ingress.a, params)

    assert reply.status == 200
    (event,) = ingress.queued()
    assert event.payload["ErrorCode"] == ""


def test_the_sms_channels_token_verifies_too(ingress):
    assert ingress.twilio(ingress.a, twilio_params(To=RECIPIENT), token=ingress.a.sms_token).status == 200
    assert len(ingress.queued()) == 1


def test_a_base64_encoded_body_verifies_like_the_text(ingress):
    assert ingress.twilio(ingress.a, twilio_params(), base64_body=True).status == 200
    assert len(ingress.queued()) == 1


@pytest.mark.parametrize(
    "case",
    ["forged", "missing", "another tenants token", "another tenants url", "another base url", "query string"],
)
def test_a_twilio_callback_not_signed_for_this_projects_url_is_refused(ingress, capsys, case):
    params = twilio_params()
    a, b = ingress.a, ingress.b
    reply = {
        "forged": lambda: ingress.twilio(a, params, signature="bm90IGEgcmVhbCBzaWduYXR1cmUgYXQgYWxsIQ=="),
        "missing": lambda: ingress.twilio(a, params, signature=""),
        # Tenant B signs with its own (valid) token and posts to tenant A's URL.
        "another tenants token": lambda: ingress.twilio(a, params, token=b.whatsapp_token),
        # Tenant A's valid signature for tenant B's URL, replayed against A's.
        "another tenants url": lambda: ingress.twilio(
            a,
            params,
            signed_url=a.url(TWILIO_STATUS).replace(
                f"/{a.company_id}/{a.project_id}/", f"/{b.company_id}/{b.project_id}/"
            ),
        ),
        "another base url": lambda: ingress.twilio(
            a, params, signed_url=TWILIO_STATUS.url("https://attacker.example", a.company_id, a.project_id)
        ),
        "query string": lambda: ingress.twilio(a, params, signed_url=a.url(TWILIO_STATUS) + "?x=1", query={"x": "1"}),
    }[case]()

    assert_refused(reply, 403, ingress, capsys.readouterr().out, signature=True)
    (line,) = [line for line in ingress.log_lines() if line["message"] == "Webhook refused"]
    assert line["status"] == 403 and line["refusal"] == "SignatureRefused"


def test_tenant_bs_token_posting_to_its_own_url_is_accepted_for_b_only(ingress):
    assert ingress.twilio(ingress.b, twilio_params(), token=ingress.b.whatsapp_token).status == 200
    (event,) = ingress.queued()
    assert (event.company_id, event.project_id) == ("ci-other-002", "pi-other-002")


def test_a_repeated_form_parameter_is_refused_before_any_lookup(ingress, capsys):
    params = twilio_params()
    body = form_body(params) + "&MessageStatus=read"

    reply = ingress.twilio(ingress.a, params, body=body)

    assert_refused(reply, 400, ingress, capsys.readouterr().out, signature=False)


@pytest.mark.parametrize(
    "content_type", ["application/json", "text/plain", "application/x-www-form-urlencoded; charset=latin-1"]
)
def test_a_twilio_callback_of_another_content_type_is_refused(ingress, capsys, content_type):
    reply = ingress.twilio(ingress.a, twilio_params(), content_type=content_type)

    assert_refused(reply, 400, ingress, capsys.readouterr().out, signature=False)


def test_an_oversized_twilio_body_is_refused(ingress, capsys):
    params = twilio_params(Body="x" * (64 * 1024))

    reply = ingress.twilio(ingress.a, params)

    assert_refused(reply, 413, ingress, capsys.readouterr().out, signature=False)


# --- SendGrid Event Webhook --------------------------------------------------------------------


def test_a_signed_sendgrid_batch_of_three_becomes_three_queue_messages(ingress, capsys):
    events = sendgrid_events(3)

    reply = ingress.sendgrid(ingress.a, events)

    assert (reply.status, reply.body) == (200, "")
    queued = ingress.queued()
    assert sorted((e.payload for e in queued), key=lambda p: p["sg_event_id"]) == events
    assert {(e.provider, e.kind, e.company_id, e.project_id) for e in queued} == {
        (Provider.SENDGRID, EventKind.SENDGRID_EVENT, ingress.a.company_id, ingress.a.project_id)
    }
    assert {e.correlation_id for e in queued} == {ingress.request_ids[-1]}
    assert emitted_metrics(capsys.readouterr().out) == [metric_names.WEBHOOK_ACCEPTED]


def test_a_batch_larger_than_one_sqs_call_is_queued_whole(ingress):
    events = sendgrid_events(23)

    assert ingress.sendgrid(ingress.a, events).status == 200

    assert sorted(e.payload["sg_event_id"] for e in ingress.queued()) == sorted(e["sg_event_id"] for e in events)


@pytest.mark.parametrize("age", [6 * 60, -6 * 60])
def test_a_batch_signed_outside_the_five_minute_window_is_refused(ingress, capsys, age):
    reply = ingress.sendgrid(ingress.a, sendgrid_events(), timestamp=int(time.time()) - age)

    assert_refused(reply, 403, ingress, capsys.readouterr().out, signature=True)


def test_a_batch_four_minutes_old_is_still_accepted(ingress):
    assert ingress.sendgrid(ingress.a, sendgrid_events(), timestamp=int(time.time()) - 4 * 60).status == 200


@pytest.mark.parametrize(
    "case", ["tampered body", "another tenants key", "malformed signature", "missing", "timestamp not a number"]
)
def test_a_sendgrid_batch_not_signed_by_this_projects_key_is_refused(ingress, capsys, case):
    events = sendgrid_events()
    original = json.dumps(events) + "\r\n"
    tampered = original.replace('"delivered"', '"bounce"')
    a = ingress.a
    reply = {
        "tampered body": lambda: ingress.sendgrid(a, None, body=tampered, signed_body=original),
        "another tenants key": lambda: ingress.sendgrid(a, events, signer=ingress.b.sendgrid),
        "malformed signature": lambda: ingress.sendgrid(a, events, signature="%%%not-base64"),
        "missing": lambda: ingress.sendgrid(a, events, signature=""),
        "timestamp not a number": lambda: ingress.call(
            ingress.event(
                SENDGRID_EVENTS,
                a,
                original,
                {
                    "Content-Type": "application/json",
                    "X-Twilio-Email-Event-Webhook-Signature": a.sendgrid.sign("soon", original),
                    "X-Twilio-Email-Event-Webhook-Timestamp": "soon",
                },
            )
        ),
    }[case]()

    assert_refused(reply, 403, ingress, capsys.readouterr().out, signature=True)


def test_a_project_whose_secret_holds_no_verification_key_is_refused(ingress, capsys):
    ingress.put_secret(ingress.a.secret_id("email"), {"sendgrid_api_key": "SG.fake-key-of-the-test"})

    reply = ingress.sendgrid(ingress.a, sendgrid_events())

    assert_refused(reply, 403, ingress, capsys.readouterr().out, signature=True)
    (line,) = [line for line in ingress.log_lines() if line["message"] == "Webhook refused"]
    assert "sendgrid_webhook_public_key" in line["reason"]


@pytest.mark.parametrize(
    "body", ['{"event": "delivered"}', '[{"event": "delivered"}, "not an object"]', "[]", "not json", "[NaN]"]
)
def test_a_body_that_is_not_an_array_of_events_is_refused(ingress, capsys, body):
    reply = ingress.sendgrid(ingress.a, None, body=body)

    assert_refused(reply, 400, ingress, capsys.readouterr().out, signature=False)


def test_a_sendgrid_batch_of_another_content_type_is_refused(ingress, capsys):
    reply = ingress.sendgrid(ingress.a, sendgrid_events(), content_type="application/x-www-form-urlencoded")

    assert_refused(reply, 400, ingress, capsys.readouterr().out, signature=False)


def test_an_oversized_sendgrid_batch_is_refused(ingress, capsys):
    events = sendgrid_events(1) * 6000  # ~2 MB

    reply = ingress.sendgrid(ingress.a, events)

    assert_refused(reply, 413, ingress, capsys.readouterr().out, signature=False)


# --- The project -------------------------------------------------------------------------------


def test_an_unknown_project_is_refused(ingress, capsys):
    reply = ingress.twilio(ingress.a, twilio_params(), path_ids=("ci-demo-001", "pi-nobody-999"))

    assert_refused(reply, 403, ingress, capsys.readouterr().out, signature=False)


def test_path_ids_that_are_not_ids_are_refused(ingress, capsys):
    reply = ingress.twilio(ingress.a, twilio_params(), path_ids=("ci-demo-001", "../pi-demo-001"))

    assert_refused(reply, 403, ingress, capsys.readouterr().out, signature=False)


def test_a_project_without_an_email_channel_refuses_sendgrid_events(ingress, capsys):
    record = {
        **ingress.a.record,
        "channel_config": {k: v for k, v in ingress.a.record["channel_config"].items() if k != "email"},
    }
    ingress.put_record(record)

    reply = ingress.sendgrid(ingress.a, sendgrid_events())

    assert_refused(reply, 403, ingress, capsys.readouterr().out, signature=False)


def test_a_record_naming_another_tenants_secret_is_refused_without_reading_it(ingress, capsys):
    # Tenant A's record is edited to point at tenant B's WhatsApp secret; B signs a request to A's URL.
    record = json.loads(json.dumps(ingress.a.record))
    record["channel_config"]["whatsapp"]["whatsapp_credentials_id"] = ingress.b.secret_id("whatsapp")
    ingress.put_record(record)

    reply = ingress.twilio(ingress.a, twilio_params(), token=ingress.b.whatsapp_token)

    assert_refused(reply, 403, ingress, capsys.readouterr().out, signature=False)
    (line,) = [line for line in ingress.log_lines() if line["message"] == "Webhook refused"]
    assert "is not the whatsapp credentials of ci-demo-001/pi-demo-001" in line["reason"]


def test_an_inactive_project_still_records_events_of_messages_it_sent(ingress):
    ingress.put_record({**ingress.a.record, "project_status": "inactive", "allowed_channels": []})

    assert ingress.twilio(ingress.a, twilio_params()).status == 200
    assert len(ingress.queued()) == 1


# --- Dependencies ------------------------------------------------------------------------------


def test_secrets_manager_failing_answers_503_and_queues_nothing(aws, faulty_secrets, start_ingress, capsys):
    ingress = start_ingress()
    faulty_secrets.failing = ("GetSecretValue", "email-credentials")

    reply = ingress.sendgrid(ingress.a, sendgrid_events())

    assert_refused(reply, 503, ingress, capsys.readouterr().out, signature=False)


def test_sqs_failing_answers_503(aws, start_ingress, capsys):
    ingress = start_ingress(events_queue_url=f"{aws.endpoint_url}/123456789012/no-such-queue")

    reply = ingress.twilio(ingress.a, twilio_params())

    assert (reply.status, reply.body) == (503, "")
    assert metric_names.WEBHOOK_REJECTED in emitted_metrics(capsys.readouterr().out)


def test_a_flood_of_forged_callbacks_reads_each_secret_at_most_once_a_minute(faulty_secrets, start_ingress):
    ingress = start_ingress()
    assert ingress.twilio(ingress.a, twilio_params()).status == 200  # the WhatsApp token is now cached

    for _ in range(5):
        assert ingress.twilio(ingress.a, twilio_params(), signature="Zm9yZ2VkIGZvcmdlZCBmb3JnZWQ=").status == 403

    reads = [body for target, body in faulty_secrets.requests if target.endswith("GetSecretValue")]
    for channel in ("whatsapp", "sms"):
        assert sum(ingress.a.secret_id(channel).encode() in body for body in reads) == 1, channel
    assert len(reads) == 2
    assert [e.payload["MessageStatus"] for e in ingress.queued()] == ["delivered"]


def test_unsigned_or_stale_requests_read_no_project_and_no_secret(faulty_dynamodb, faulty_secrets, start_ingress):
    ingress = start_ingress()

    assert ingress.twilio(ingress.a, twilio_params(), signature="").status == 403
    assert ingress.sendgrid(ingress.a, sendgrid_events(), signature="").status == 403
    assert ingress.sendgrid(ingress.a, sendgrid_events(), timestamp=int(time.time()) - 3600).status == 403

    assert faulty_dynamodb.requests == []
    assert faulty_secrets.requests == []


def test_a_resource_that_is_not_a_webhook_route_is_404(ingress, capsys):
    event = rest_proxy_event(body="a=1", path="/initiate-conversation")

    reply = ingress.call(event)

    assert_refused(reply, 404, ingress, capsys.readouterr().out, signature=False)


def test_an_event_api_gateway_would_never_send_is_a_bare_500_logged_without_detail(ingress, capsys):
    reply = ingress.call({"resource": TWILIO_STATUS.path, "headers": ["not", "a", "map"], "body": "a=1"})

    assert (reply.status, reply.body) == (500, "")
    assert emitted_metrics(capsys.readouterr().out) == [metric_names.WEBHOOK_REJECTED]
    (line,) = [line for line in ingress.log_lines() if line["message"] == "Unexpected failure"]
    assert line["cause"].startswith("AttributeError")


# --- Logs --------------------------------------------------------------------------------------


def test_no_token_key_signature_or_address_reaches_the_logs(ingress, capsys):
    params = twilio_params()
    signature = twilio_signature(ingress.b.whatsapp_token, ingress.a.url(TWILIO_STATUS), params)
    ingress.twilio(ingress.a, params)
    ingress.twilio(ingress.a, params, signature=signature)
    ingress.sendgrid(ingress.a, sendgrid_events())
    ingress.sendgrid(ingress.a, sendgrid_events(), signer=ingress.b.sendgrid)
    ingress.twilio(ingress.a, params, path_ids=("ci-demo-001", RECIPIENT_EMAIL))

    written = ingress.logs() + capsys.readouterr().out
    assert ingress.log_lines(), "the ingress logged nothing"
    for secret in (
        ingress.a.whatsapp_token,
        ingress.b.whatsapp_token,
        signature,
        RECIPIENT,
        RECIPIENT_EMAIL,
        "SG.fake-key-of-the-test",
    ):
        assert secret not in written
