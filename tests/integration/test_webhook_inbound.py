"""The inbound routes against moto: the person's WhatsApp/SMS message (Twilio, signed) and email
(SendGrid Inbound Parse, authenticated by the project's URL token), each queued as one event.
Every refusal must leave the events queue empty and be counted.
"""

from __future__ import annotations

import base64
import json

import pytest
import requests

from local.api_keys import ApiKeyStore
from local.gateway import LocalApiGateway, RouteThrottle
from local.seed import create_api
from shared.events.envelope import EventKind, Provider
from shared.processing import metric_names
from shared.webhooks.routes import SENDGRID_INBOUND, TWILIO_INBOUND, TWILIO_STATUS
from shared.webhooks.settings import DEFAULT_SENDGRID_INBOUND_MAX_BODY_BYTES
from shared.webhooks.twilio_webhook import EMPTY_TWIML
from stacks.settings import load_settings
from tests.fixtures import webhook_ingress
from tests.fixtures.emf import emitted_metrics
from tests.fixtures.inbound_parse import CONTENT_TYPE, Upload, inbound_fields, multipart_body
from tests.fixtures.webhook_ingress import BASE_URL, RECIPIENT, RECIPIENT_EMAIL, assert_refused
from tests.fixtures.webhook_signing import twilio_signature
from tests.integration.conftest import FakeLambdaContext

start_ingress = webhook_ingress.start_ingress
ingress = webhook_ingress.ingress

COMPANY_NUMBER = "+447700900001"
PHOTO = Upload("photo.jpg", "image/jpeg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 64)


def inbound_params(**overrides: str) -> dict[str, str]:
    """The person's WhatsApp message to the company's sender, as Twilio posts it."""
    params = {
        "SmsMessageSid": "SM9f0e1d2c3b4a59687f0e1d2c3b4a5968",
        "NumMedia": "1",
        "ProfileName": "Alex",
        "MessageType": "image",
        "SmsSid": "SM9f0e1d2c3b4a59687f0e1d2c3b4a5968",
        "WaId": RECIPIENT.removeprefix("+"),
        "SmsStatus": "received",
        "Body": "Yes, Tuesday works.",
        "To": f"whatsapp:{COMPANY_NUMBER}",
        "NumSegments": "1",
        "ReferralNumMedia": "0",
        "MessageSid": "SM9f0e1d2c3b4a59687f0e1d2c3b4a5968",
        "AccountSid": "ACtestwebhook00000000000000000001",
        "From": f"whatsapp:{RECIPIENT}",
        "MediaContentType0": "image/jpeg",
        "MediaUrl0": "https://api.twilio.example/2010-04-01/Accounts/AC1/Messages/SM1/Media/ME1",
        "ApiVersion": "2010-04-01",
    }
    params.update(overrides)
    return params


# --- Twilio: a message comes in ----------------------------------------------------------------


def test_a_signed_inbound_message_is_answered_with_empty_twiml_and_queued_as_posted(ingress, capsys):
    params = inbound_params()

    reply = ingress.twilio(ingress.a, params, route=TWILIO_INBOUND)

    assert (reply.status, reply.headers, reply.body) == (200, {"Content-Type": "text/xml"}, EMPTY_TWIML)
    (event,) = ingress.queued()
    assert (event.provider, event.kind) == (Provider.TWILIO, EventKind.TWILIO_INBOUND)
    assert (event.company_id, event.project_id) == (ingress.a.company_id, ingress.a.project_id)
    assert event.payload == params
    assert event.correlation_id == ingress.request_ids[-1]
    assert event.callback_base_url == BASE_URL
    assert emitted_metrics(capsys.readouterr().out) == [metric_names.WEBHOOK_ACCEPTED]
    (line,) = [line for line in ingress.log_lines() if line["message"] == "Webhook accepted"]
    assert (line["provider"], line["kind"]) == ("twilio", "twilio_inbound")


def test_an_sms_reply_verifies_with_the_sms_token(ingress):
    params = inbound_params(To=COMPANY_NUMBER, From=RECIPIENT, NumMedia="0", OptOutType="STOP", Body="STOP")

    assert ingress.twilio(ingress.a, params, route=TWILIO_INBOUND, token=ingress.a.sms_token).status == 200
    (event,) = ingress.queued()
    assert event.kind is EventKind.TWILIO_INBOUND and event.payload["OptOutType"] == "STOP"


@pytest.mark.parametrize(
    "case", ["forged", "missing", "another tenants token", "signed for the status route", "query string"]
)
def test_an_inbound_message_not_signed_for_this_projects_inbound_url_is_refused(ingress, capsys, case):
    params = inbound_params()
    a = ingress.a
    reply = {
        "forged": lambda: ingress.twilio(a, params, route=TWILIO_INBOUND, signature="Zm9yZ2VkIHNpZ25hdHVyZSE="),
        "missing": lambda: ingress.twilio(a, params, route=TWILIO_INBOUND, signature=""),
        "another tenants token": lambda: ingress.twilio(
            a, params, route=TWILIO_INBOUND, token=ingress.b.whatsapp_token
        ),
        # A valid status callback's signature replayed against the inbound route: the URL differs.
        "signed for the status route": lambda: ingress.twilio(
            a, params, route=TWILIO_INBOUND, signed_url=a.url(TWILIO_STATUS)
        ),
        "query string": lambda: ingress.twilio(
            a, params, route=TWILIO_INBOUND, signed_url=a.url(TWILIO_INBOUND) + "?x=1", query={"x": "1"}
        ),
    }[case]()

    assert_refused(reply, 403, ingress, capsys.readouterr().out, signature=True)


def test_tenant_bs_inbound_message_is_queued_for_b(ingress):
    assert (
        ingress.twilio(ingress.b, inbound_params(), route=TWILIO_INBOUND, token=ingress.b.whatsapp_token).status == 200
    )
    (event,) = ingress.queued()
    assert (event.company_id, event.project_id, event.kind) == (
        "ci-other-002",
        "pi-other-002",
        EventKind.TWILIO_INBOUND,
    )


# --- SendGrid Inbound Parse --------------------------------------------------------------------


def test_a_posted_email_with_the_projects_token_is_queued_as_its_text_fields(ingress, capsys):
    fields = inbound_fields(attachments="1", **{"attachment-info": '{"attachment1": {"filename": "photo.jpg"}}'})

    reply = ingress.inbound_parse(ingress.a, fields, {"attachment1": PHOTO})

    assert (reply.status, reply.headers, reply.body) == (200, {}, "")
    (event,) = ingress.queued()
    assert (event.provider, event.kind) == (Provider.SENDGRID, EventKind.SENDGRID_INBOUND)
    assert (event.company_id, event.project_id) == (ingress.a.company_id, ingress.a.project_id)
    assert event.payload == {name: value for name, value in fields.items() if name not in ("html", "sender_ip")}
    assert event.correlation_id == ingress.request_ids[-1]
    assert emitted_metrics(capsys.readouterr().out) == [metric_names.WEBHOOK_ACCEPTED]


def test_attachment_bytes_never_reach_the_queue(ingress):
    fields = {k: v for k, v in inbound_fields().items() if k != "attachments"}

    assert ingress.inbound_parse(ingress.a, fields, {"attachment1": PHOTO, "attachment2": PHOTO}).status == 200

    sqs = ingress.aws.client("sqs")
    (message,) = sqs.receive_message(QueueUrl=ingress.queue_url, MaxNumberOfMessages=10)["Messages"]
    assert "JFIF" not in message["Body"]
    assert base64.b64encode(PHOTO.data[:48]).decode() not in message["Body"]
    assert json.loads(message["Body"])["payload"]["attachments"] == "2"


def test_a_long_email_is_cut_so_one_queue_message_stays_small(ingress):
    fields = inbound_fields(text="t" * 200_000, html="h" * 200_000, headers="Received: x\n" * 20_000)

    assert ingress.inbound_parse(ingress.a, fields).status == 200

    (event,) = ingress.queued()
    assert (len(event.payload["text"]), len(event.payload["headers"])) == (20_000, 16_000)
    assert "html" not in event.payload
    assert len(event.to_body().encode()) < 64 * 1024


def test_a_field_in_another_charset_is_decoded_by_charsets(ingress):
    fields = inbound_fields(
        text="Très bien, à mardi".encode("iso-8859-1"),
        charsets=json.dumps({"text": "iso-8859-1", "from": "UTF-8", "to": "UTF-8", "subject": "UTF-8"}),
    )

    assert ingress.inbound_parse(ingress.a, fields).status == 200

    (event,) = ingress.queued()
    assert event.payload["text"] == "Très bien, à mardi"


def test_tenant_bs_token_on_its_own_url_is_queued_for_b(ingress):
    assert ingress.inbound_parse(ingress.b, inbound_fields()).status == 200
    (event,) = ingress.queued()
    assert (event.company_id, event.project_id) == ("ci-other-002", "pi-other-002")


@pytest.mark.parametrize(
    "case", ["wrong token", "missing token", "empty token", "another tenants token", "another query parameter"]
)
def test_a_post_without_this_projects_token_is_refused(ingress, capsys, case):
    a, fields = ingress.a, inbound_fields()
    reply = {
        "wrong token": lambda: ingress.inbound_parse(a, fields, token="inbound-token-guessed-000000000000"),
        "missing token": lambda: ingress.inbound_parse(a, fields, query={}),
        "empty token": lambda: ingress.inbound_parse(a, fields, query={"token": ""}),
        "another tenants token": lambda: ingress.inbound_parse(a, fields, token=ingress.b.inbound_token),
        "another query parameter": lambda: ingress.inbound_parse(
            a, fields, query={"token": a.inbound_token, "next": "1"}
        ),
    }[case]()

    assert_refused(reply, 403, ingress, capsys.readouterr().out, signature=True)
    (line,) = [line for line in ingress.log_lines() if line["message"] == "Webhook refused"]
    assert (line["refusal"], line["kind"]) == ("SignatureRefused", "sendgrid_inbound")


def test_a_project_whose_email_secret_holds_no_inbound_token_is_refused(ingress, capsys):
    ingress.put_secret(ingress.a.secret_id("email"), {"sendgrid_api_key": "SG.fake-key-of-the-test"})

    reply = ingress.inbound_parse(ingress.a, inbound_fields())

    assert_refused(reply, 403, ingress, capsys.readouterr().out, signature=True)
    (line,) = [line for line in ingress.log_lines() if line["message"] == "Webhook refused"]
    assert "sendgrid_inbound_token" in line["reason"]


def test_a_project_without_an_email_channel_refuses_inbound_parse(ingress, capsys):
    record = {
        **ingress.a.record,
        "channel_config": {k: v for k, v in ingress.a.record["channel_config"].items() if k != "email"},
    }
    ingress.put_record(record)

    reply = ingress.inbound_parse(ingress.a, inbound_fields())

    assert_refused(reply, 403, ingress, capsys.readouterr().out, signature=False)


def test_a_flood_of_wrong_tokens_reads_the_email_secret_at_most_once_a_minute(faulty_secrets, start_ingress):
    ingress = start_ingress()
    assert ingress.inbound_parse(ingress.a, inbound_fields()).status == 200  # the secret is now cached

    for index in range(5):
        assert ingress.inbound_parse(ingress.a, inbound_fields(), token=f"guess-{index}-000000000000000").status == 403

    reads = [body for target, body in faulty_secrets.requests if target.endswith("GetSecretValue")]
    assert len(reads) == 1 and ingress.a.secret_id("email").encode() in reads[0]
    assert len(ingress.queued()) == 1


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"this is not a form", "multipart/form-data; boundary=xYzZY"),
        (multipart_body(inbound_fields())[:300], "multipart/form-data; boundary=xYzZY"),
        (multipart_body(inbound_fields()), "multipart/form-data"),
        (multipart_body({"text": "no sender, no recipient"}), "multipart/form-data; boundary=xYzZY"),
        (multipart_body(inbound_fields()), "application/x-www-form-urlencoded"),
    ],
    ids=["not multipart", "cut short", "no boundary", "not inbound parse", "another content type"],
)
def test_a_body_that_is_not_an_inbound_parse_form_is_refused(ingress, capsys, body, content_type):
    reply = ingress.inbound_parse(ingress.a, {}, body=body, content_type=content_type)

    assert_refused(reply, 400, ingress, capsys.readouterr().out, signature=False)


def test_an_email_over_the_size_limit_is_refused(ingress, capsys):
    big = Upload("scan.pdf", "application/pdf", b"%PDF" + b"\x00" * DEFAULT_SENDGRID_INBOUND_MAX_BODY_BYTES)

    reply = ingress.inbound_parse(ingress.a, inbound_fields(), {"attachment1": big})

    assert_refused(reply, 413, ingress, capsys.readouterr().out, signature=False)


def test_a_post_without_a_token_reads_no_project_and_no_secret(faulty_dynamodb, faulty_secrets, start_ingress):
    ingress = start_ingress()

    assert ingress.inbound_parse(ingress.a, inbound_fields(), query={}).status == 403
    assert ingress.twilio(ingress.a, inbound_params(), route=TWILIO_INBOUND, signature="").status == 403

    assert faulty_dynamodb.requests == []
    assert faulty_secrets.requests == []


def test_no_token_address_or_message_text_reaches_the_logs(ingress, capsys):
    fields = inbound_fields()
    ingress.inbound_parse(ingress.a, fields)
    ingress.inbound_parse(ingress.a, fields, token=ingress.b.inbound_token)
    ingress.inbound_parse(ingress.a, {}, body=b"broken", content_type="multipart/form-data; boundary=xYzZY")
    params = inbound_params()
    ingress.twilio(ingress.a, params, route=TWILIO_INBOUND)
    ingress.twilio(ingress.a, params, route=TWILIO_INBOUND, signature=twilio_signature("x" * 32, "u", params))

    written = ingress.logs() + capsys.readouterr().out
    assert len([line for line in ingress.log_lines() if line["message"] == "Webhook refused"]) == 3
    for secret in (
        ingress.a.inbound_token,
        ingress.b.inbound_token,
        RECIPIENT,
        RECIPIENT_EMAIL,
        "Tuesday works",
        str(fields["subject"]),
    ):
        assert secret not in written


def test_a_post_through_the_local_gateway_reaches_the_ingress_unchanged(ingress):
    # Over HTTP, through the local API gateway (binary media type → base64), into the real handler.
    api = create_api(ingress.aws, load_settings("dev"))
    gateway = LocalApiGateway(
        stage=api.stage,
        keys=ApiKeyStore(ingress.aws.client("apigateway"), api.rest_api_id, api.stage),
        invoke_router=lambda event: {"statusCode": 500},
        invoke_reader=lambda event: {"statusCode": 500},
        invoke_webhook_ingress=lambda event: ingress.handler(event, FakeLambdaContext()),
        webhook_throttle=RouteThrottle(rate=100, burst=100),
    ).start()
    fields = inbound_fields(
        text="Très bien".encode("iso-8859-1"),
        charsets=json.dumps({"text": "iso-8859-1", "from": "UTF-8", "to": "UTF-8", "subject": "UTF-8"}),
    )
    try:
        answer = requests.post(
            SENDGRID_INBOUND.url(gateway.url, ingress.a.company_id, ingress.a.project_id),
            params={"token": ingress.a.inbound_token},
            data=multipart_body(fields, {"attachment1": PHOTO}),
            headers={"Content-Type": CONTENT_TYPE},
            timeout=30,
        )
    finally:
        gateway.stop()

    assert (answer.status_code, answer.text) == (200, "")
    (event,) = ingress.queued()
    assert event.kind is EventKind.SENDGRID_INBOUND
    assert event.payload["text"] == "Très bien"
    assert event.payload["attachments"] == "0"  # Inbound Parse's own count, as posted
