"""The webhook ingress handler against moto: Twilio status callbacks and SendGrid's signed Event
Webhook. Every refusal must leave the events queue empty and be counted.
"""

from __future__ import annotations

import json
import time

import pytest

from local.rest_proxy_event import rest_proxy_event
from shared.events.envelope import EventKind, Provider
from shared.processing import metric_names
from shared.webhooks.routes import SENDGRID_EVENTS, TWILIO_STATUS
from shared.webhooks.twilio_webhook import EMPTY_TWIML
from tests.fixtures import webhook_ingress
from tests.fixtures.emf import emitted_metrics
from tests.fixtures.webhook_ingress import (
    BASE_URL,
    RECIPIENT,
    RECIPIENT_EMAIL,
    assert_refused,
    sendgrid_events,
    twilio_params,
)
from tests.fixtures.webhook_signing import form_body, twilio_signature

start_ingress = webhook_ingress.start_ingress
ingress = webhook_ingress.ingress


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
