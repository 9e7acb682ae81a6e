"""What each provider's webhook accepts as a body, and how its signature check decides."""

from __future__ import annotations

import base64
import json
from decimal import Decimal

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from local.rest_proxy_event import rest_proxy_event
from shared.processing.credentials import SendGridCredentials, TwilioCredentials
from shared.webhooks.refusals import BodyInvalid, SignatureRefused
from shared.webhooks.request import read_webhook_request
from shared.webhooks.routes import SENDGRID_EVENTS, TWILIO_STATUS
from shared.webhooks.sendgrid_webhook import SendGridWebhook
from shared.webhooks.twilio_webhook import TwilioWebhook
from shared.webhooks.verification_keys import KeyUnusable
from tests.fixtures.webhook_signing import SendGridSigner, form_body, twilio_signature

URL = "https://hooks.example.test/dev/webhooks/twilio/ci-1/pi-1/status"
NOW = 1_795_512_615
TOKEN = "fake-auth-token-0000000000000000"
# str.isdigit() is true for these; int() reads them too.
FULLWIDTH_DIGITS = "".join(chr(0xFF10 + int(digit)) for digit in "1795512615")


def _request(route, headers, query=None):
    return read_webhook_request(rest_proxy_event(body="x", resource=route.path, headers=headers, query=query))


# The Twilio form and the Event Webhook's JSON read the body alone.
_ANY_REQUEST = _request(TWILIO_STATUS, {})


def _twilio_credentials(token=TOKEN):
    return TwilioCredentials(twilio_account_sid="ACfake", twilio_auth_token=token)


# --- Twilio ------------------------------------------------------------------------------------


def test_a_twilio_form_keeps_blank_values():
    assert TwilioWebhook().payloads(_ANY_REQUEST, b"MessageSid=SM1&ErrorCode=&MessageStatus=sent") == [
        {"MessageSid": "SM1", "ErrorCode": "", "MessageStatus": "sent"}
    ]


@pytest.mark.parametrize(
    "body",
    [b"", b"MessageSid=SM1&MessageSid=SM2", b"MessageSid", b"a=1&&b=2", b"Body=%ff", b"\xff=1"],
    ids=["empty", "repeated", "no value", "empty field", "bad percent utf-8", "not utf-8"],
)
def test_a_body_that_is_not_a_clean_twilio_form_is_refused(body):
    with pytest.raises(BodyInvalid):
        TwilioWebhook().payloads(_ANY_REQUEST, body)


def test_the_twilio_check_verifies_the_auth_tokens_signature_over_url_and_params():
    params = {"MessageSid": "SM1", "ErrorCode": ""}
    request = _request(TWILIO_STATUS, {"X-Twilio-Signature": twilio_signature(TOKEN, URL, params)})

    check = TwilioWebhook().signature_check(request, URL, b"", [params], NOW)

    assert check(_twilio_credentials())
    assert not check(_twilio_credentials("another-fake-token-0000000000000"))


def test_the_twilio_signature_covers_every_parameter():
    params = {"MessageSid": "SM1", "MessageStatus": "sent"}
    request = _request(TWILIO_STATUS, {"X-Twilio-Signature": twilio_signature(TOKEN, URL, params)})

    check = TwilioWebhook().signature_check(request, URL, b"", [{**params, "MessageStatus": "read"}], NOW)

    assert not check(_twilio_credentials())


def test_a_twilio_request_without_a_signature_is_refused_before_any_secret_is_needed():
    with pytest.raises(SignatureRefused):
        TwilioWebhook().signature_check(_request(TWILIO_STATUS, {}), URL, b"", [{"a": "1"}], NOW)


def test_a_twilio_request_with_a_query_string_is_refused():
    params = {"a": "1"}
    signed = twilio_signature(TOKEN, URL + "?x=1", params)
    request = _request(TWILIO_STATUS, {"X-Twilio-Signature": signed}, query={"x": "1"})

    with pytest.raises(SignatureRefused):
        TwilioWebhook().signature_check(request, URL, b"", [params], NOW)


# --- SendGrid ----------------------------------------------------------------------------------


def test_a_sendgrid_batch_becomes_one_payload_per_event_with_exact_numbers():
    body = b'[{"event": "delivered", "sg_event_id": "e1", "score": 0.1}, {"event": "open", "sg_event_id": "e2"}]'

    payloads = SendGridWebhook(300).payloads(_ANY_REQUEST, body)

    assert payloads == [
        {"event": "delivered", "sg_event_id": "e1", "score": Decimal("0.1")},
        {"event": "open", "sg_event_id": "e2"},
    ]


@pytest.mark.parametrize(
    "body",
    [b"", b"{}", b"[]", b'["delivered"]', b"[[]]", b"[null]", b"[{}, 1]", b"[NaN]", b'[{"a": Infinity}]', b"\xff"],
)
def test_a_body_that_is_not_an_array_of_event_objects_is_refused(body):
    with pytest.raises(BodyInvalid):
        SendGridWebhook(300).payloads(_ANY_REQUEST, body)


def _sendgrid_check(signer, body, *, timestamp=NOW, now=NOW, signature=None):
    headers = {
        "X-Twilio-Email-Event-Webhook-Signature": signature or signer.sign(str(timestamp), body),
        "X-Twilio-Email-Event-Webhook-Timestamp": str(timestamp),
    }
    return SendGridWebhook(300).signature_check(_request(SENDGRID_EVENTS, headers), "unused", body.encode(), [], now)


def _sendgrid_credentials(key):
    return SendGridCredentials(sendgrid_api_key="SG.fake", sendgrid_webhook_public_key=key)


def test_the_sendgrid_check_verifies_the_accounts_key_over_timestamp_and_raw_body():
    signer, other = SendGridSigner.generate(), SendGridSigner.generate()
    body = json.dumps([{"event": "delivered"}]) + "\r\n"

    check = _sendgrid_check(signer, body)

    assert check(_sendgrid_credentials(signer.public_key))
    assert not check(_sendgrid_credentials(other.public_key))


def test_the_sendgrid_signature_covers_the_exact_bytes():
    signer = SendGridSigner.generate()
    body = json.dumps([{"event": "delivered"}]) + "\r\n"
    check = _sendgrid_check(signer, body.rstrip(), signature=signer.sign(str(NOW), body))

    assert not check(_sendgrid_credentials(signer.public_key))


@pytest.mark.parametrize("offset", [301, -301, 10_000])
def test_a_timestamp_outside_the_window_is_refused_before_any_key_is_needed(offset):
    signer = SendGridSigner.generate()

    with pytest.raises(SignatureRefused, match="outside"):
        _sendgrid_check(signer, "[]", timestamp=NOW - offset)


@pytest.mark.parametrize("offset", [0, 300, -300])
def test_a_timestamp_inside_the_window_is_checked(offset):
    signer = SendGridSigner.generate()

    assert _sendgrid_check(signer, "[{}]", timestamp=NOW - offset)(_sendgrid_credentials(signer.public_key))


@pytest.mark.parametrize("timestamp", ["", "soon", "1795512615.5", "-1795512615", FULLWIDTH_DIGITS, "9" * 20])
def test_a_timestamp_that_is_not_unix_seconds_is_refused(timestamp):
    headers = {"X-Twilio-Email-Event-Webhook-Signature": "c2ln", "X-Twilio-Email-Event-Webhook-Timestamp": timestamp}

    with pytest.raises(SignatureRefused):
        SendGridWebhook(300).signature_check(_request(SENDGRID_EVENTS, headers), "", b"[]", [], NOW)


@pytest.mark.parametrize("signature", ["%%%", "c2ln", "A" * 95 + "=", "not base64 at all!"])
def test_a_malformed_signature_does_not_verify(signature):
    signer = SendGridSigner.generate()

    check = _sendgrid_check(signer, "[{}]", signature=signature)

    assert check(_sendgrid_credentials(signer.public_key)) is False


@pytest.mark.parametrize(
    "key",
    [None, "", "not-a-key", "TUZrd0V3WUhLb1pJemowQ0FRWUlLb1pJemowREFRY0RRZ0FF"],
    ids=["none", "empty", "text", "cut"],
)
def test_a_missing_or_unusable_verification_key_is_named(key):
    signer = SendGridSigner.generate()
    check = _sendgrid_check(signer, "[{}]")

    with pytest.raises(KeyUnusable, match="sendgrid_webhook_public_key"):
        check(_sendgrid_credentials(key))


def test_an_rsa_key_is_not_a_sendgrid_verification_key():
    der = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    check = _sendgrid_check(SendGridSigner.generate(), "[{}]")

    with pytest.raises(KeyUnusable, match="elliptic-curve"):
        check(_sendgrid_credentials(base64.b64encode(der).decode()))


def test_the_form_body_helper_round_trips():
    assert TwilioWebhook().payloads(_ANY_REQUEST, form_body({"a": "1 2", "b": ""}).encode()) == [{"a": "1 2", "b": ""}]
