"""SendGrid Inbound Parse: the multipart form, the queued payload, and the URL token check."""

from __future__ import annotations

import json

import pytest
from pydantic import SecretStr

from local.rest_proxy_event import rest_proxy_event
from shared.processing.credentials import SendGridCredentials
from shared.webhooks.multipart_form import read_form
from shared.webhooks.refusals import BodyInvalid, SignatureRefused
from shared.webhooks.request import read_webhook_request
from shared.webhooks.routes import SENDGRID_INBOUND
from shared.webhooks.sendgrid_inbound import FIELD_CAPS, SendGridInboundWebhook, inbound_payload
from shared.webhooks.verification_keys import KeyUnusable
from tests.fixtures.inbound_parse import CONTENT_TYPE, Upload, inbound_fields, multipart_body

TOKEN = "fake-inbound-token-0123456789abcdef"
URL = "https://hooks.example.test/dev/webhooks/sendgrid/ci-1/pi-1/inbound"
PHOTO = Upload("photo.jpg", "image/jpeg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 4)


def _payload(fields, uploads=None):
    return inbound_payload(read_form(multipart_body(fields, uploads), CONTENT_TYPE))


def _request(query=None):
    event = rest_proxy_event(
        body="x", resource=SENDGRID_INBOUND.path, headers={"Content-Type": CONTENT_TYPE}, query=query
    )
    return read_webhook_request(event)


def _check(query):
    return SendGridInboundWebhook().signature_check(_request(query), URL, b"", [], 0.0)


def _credentials(token: str | None = TOKEN):
    return SendGridCredentials(
        sendgrid_api_key=SecretStr("SG.fake"), sendgrid_inbound_token=None if token is None else SecretStr(token)
    )


# --- The form ----------------------------------------------------------------------------------


def test_the_form_keeps_each_fields_bytes_and_marks_files():
    fields = read_form(multipart_body({"text": b"Caf\xe9"}, {"attachment1": PHOTO}), CONTENT_TYPE)

    assert list(fields) == ["text", "attachment1"]
    assert (fields["text"].value, fields["text"].filename) == (b"Caf\xe9", None)
    assert (fields["attachment1"].value, fields["attachment1"].filename) == (PHOTO.data, "photo.jpg")


_GOOD = multipart_body({"from": "a@example.com", "to": "b@example.com"})


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (_GOOD, "multipart/form-data"),  # no boundary
        (_GOOD, "multipart/form-data; boundary=other"),  # the body's boundary is not this one
        (_GOOD, "multipart/mixed; boundary=xYzZY"),
        (_GOOD, "multipart/form-data; boundary=xYzZY\r\nX-Injected: 1"),
        (b"just some text", CONTENT_TYPE),
        (_GOOD[:60], CONTENT_TYPE),  # cut short: no closing boundary
        (b"--xYzZY--\r\n", CONTENT_TYPE),  # no field at all
        (_GOOD.replace(b'form-data; name="to"', b'form-data; filename="x"'), CONTENT_TYPE),  # a part without a name
        (_GOOD.replace(b"form-data; name", b"attachment; name"), CONTENT_TYPE),
        (_GOOD.replace(b'name="to"', b'name="from"'), CONTENT_TYPE),  # a field twice
    ],
    ids=[
        "no boundary",
        "another boundary",
        "not form-data",
        "header injection",
        "not multipart",
        "cut short",
        "no fields",
        "unnamed part",
        "not form-data part",
        "repeated field",
    ],
)
def test_a_body_that_is_not_a_whole_form_is_refused(body, content_type):
    with pytest.raises(BodyInvalid):
        read_form(body, content_type)


# --- The payload -------------------------------------------------------------------------------


def test_the_payload_is_the_text_fields_with_html_dropped_beside_text():
    fields = inbound_fields()

    payload = _payload(fields)

    expected = {name: fields[name] for name in fields if name not in ("html", "sender_ip")}
    assert payload == expected
    assert list(payload) == [
        "from",
        "to",
        "subject",
        "text",
        "headers",
        "envelope",
        "charsets",
        "SPF",
        "dkim",
        "attachments",
    ]


def test_html_is_kept_when_the_text_is_empty():
    payload = _payload(inbound_fields(text=""))

    assert payload["html"] == "<p>Yes, Tuesday works for me.</p>"
    assert payload["text"] == ""


def test_attachments_are_counted_never_queued():
    fields = inbound_fields(
        attachments="2", **{"attachment-info": json.dumps({"attachment1": {"filename": "photo.jpg"}})}
    )

    payload = _payload(fields, {"attachment1": PHOTO, "attachment2": PHOTO})

    assert payload["attachments"] == "2"
    assert json.loads(payload["attachment-info"]) == {"attachment1": {"filename": "photo.jpg"}}
    assert not {"attachment1", "attachment2"} & set(payload)
    assert "JFIF" not in json.dumps(payload)


def test_file_parts_are_counted_when_the_form_does_not_say_how_many():
    fields = {k: v for k, v in inbound_fields().items() if k != "attachments"}

    assert _payload(fields, {"attachment1": PHOTO})["attachments"] == "1"
    assert "attachments" not in _payload(fields)


def test_long_fields_are_cut_to_their_caps():
    payload = _payload(inbound_fields(text="t" * 50_000, headers="h" * 50_000, subject="s" * 3_000))

    assert len(payload["text"]) == FIELD_CAPS["text"] == 20_000
    assert len(payload["headers"]) == FIELD_CAPS["headers"] == 16_000
    assert len(payload["subject"]) == 3_000


def test_the_html_cap_applies_when_it_is_kept():
    assert len(_payload(inbound_fields(text="", html="<b>" * 10_000))["html"]) == 20_000


def test_fields_are_decoded_by_the_charsets_inbound_parse_names():
    charsets = json.dumps({"text": "iso-8859-1", "subject": "windows-1252", "from": "UTF-8", "to": "UTF-8"})
    fields = inbound_fields(
        text="Très bien, à mardi".encode("iso-8859-1"),
        subject="Re: “Entretien”".encode("windows-1252"),
        charsets=charsets,
    )

    payload = _payload(fields)

    assert payload["text"] == "Très bien, à mardi"
    assert payload["subject"] == "Re: “Entretien”"


@pytest.mark.parametrize("charsets", ['{"text": "no-such-charset"}', "not json", '["UTF-8"]'])
def test_an_unusable_charset_falls_back_to_utf8_with_bad_bytes_replaced(charsets):
    payload = _payload(inbound_fields(text=b"ok \xff\xfe done", charsets=charsets))

    assert payload["text"] == "ok \ufffd\ufffd done"


def test_a_form_without_sender_or_recipient_is_not_inbound_parse():
    with pytest.raises(BodyInvalid, match="from"):
        _payload({"text": "hello"})


RAW_EMAIL = (
    b"Received: by mx.example.test\r\n"
    b"From: =?utf-8?q?Ren=C3=A9e?= <renee@example.com>\r\n"
    b"To: reply+01J0000000000000000000TOKEN@reply.example.test\r\n"
    b"Cc: boss@example.com\r\n"
    b"Subject: =?iso-8859-1?q?R=E9ponse?=\r\n"
    b"In-Reply-To: <reply-01J0000000000000000000TOKEN.1@reply.example.test>\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="outer"\r\n'
    b"\r\n"
    b"--outer\r\n"
    b'Content-Type: multipart/alternative; boundary="alt"\r\n\r\n'
    b"--alt\r\n"
    b"Content-Type: text/plain; charset=iso-8859-1\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    b"Tr=E8s bien\r\n"
    b"--alt\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n\r\n"
    b"<p>Tr\xc3\xa8s bien</p>\r\n"
    b"--alt--\r\n"
    b"--outer\r\n"
    b'Content-Type: application/pdf; name="cv.pdf"\r\n'
    b'Content-Disposition: attachment; filename="cv.pdf"\r\n'
    b"Content-Transfer-Encoding: base64\r\n\r\n"
    b"JVBERi0xLjQK\r\n"
    b"--outer--\r\n"
)


def test_raw_mode_derives_the_fields_from_the_whole_message():
    fields = {"email": RAW_EMAIL, "envelope": '{"to": ["x@reply.example.test"]}', "SPF": "pass"}

    payload = _payload(fields)

    assert payload == {
        "from": "Renée <renee@example.com>",
        "to": "reply+01J0000000000000000000TOKEN@reply.example.test",
        "cc": "boss@example.com",
        "subject": "Réponse",
        "text": "Très bien",
        "headers": RAW_EMAIL.split(b"\r\n\r\n")[0].decode(),
        "envelope": '{"to": ["x@reply.example.test"]}',
        "SPF": "pass",
        "attachments": "1",
    }
    assert "JVBERi0" not in json.dumps(payload)


def test_raw_mode_reads_malformed_addresses_and_8bit_headers_as_text():
    raw = (
        b'From: "unterminated <renee@example.com\r\n'
        b"To: <a@\r\n"
        b"Subject: Caf\xc3\xa9 \xff =?bogus-charset?q?x?=\r\n"
        b"\r\n"
        b"plain body\r\n"
    )

    payload = _payload({"email": raw})

    assert payload["from"] == '"unterminated <renee@example.com'
    assert payload["to"] == "<a@"
    assert payload["subject"] == "Café \ufffd =?bogus-charset?q?x?="
    assert payload["text"] == "plain body\r\n"
    json.dumps(payload).encode("utf-8")  # queueable: no lone surrogates


def test_raw_mode_is_not_used_when_the_form_has_text():
    payload = _payload({**inbound_fields(), "email": RAW_EMAIL})

    assert payload["text"] == "Yes, Tuesday works for me.\n"
    assert payload["from"] == "Alex Morgan <alex.morgan@example.com>"


# --- The token ---------------------------------------------------------------------------------


def test_the_projects_token_verifies_and_any_other_does_not():
    check = _check({"token": TOKEN})

    assert check(_credentials()) is True
    assert check(_credentials("another-projects-token-0000000000")) is False
    assert _check({"token": TOKEN[:-1]})(_credentials()) is False
    assert _check({"token": TOKEN + "x"})(_credentials()) is False
    assert _check({"token": "ünïcode-guess-0000000000000000"})(_credentials()) is False
    assert _check({"token": "\ud800-lone-surrogate-guess-000000"})(_credentials()) is False


@pytest.mark.parametrize(
    "query",
    [None, {"token": ""}, [("token", TOKEN), ("token", TOKEN)], {"token": TOKEN, "utm": "1"}, {"Token": TOKEN}],
    ids=["none", "empty", "repeated", "another parameter", "another spelling"],
)
def test_a_request_without_exactly_the_token_parameter_is_refused_before_any_read(query):
    with pytest.raises(SignatureRefused):
        _check(query)


@pytest.mark.parametrize(("token", "problem"), [(None, "hold no sendgrid_inbound_token"), ("short-token", "shorter")])
def test_a_secret_without_a_usable_token_cannot_verify(token, problem):
    with pytest.raises(KeyUnusable, match=problem):
        _check({"token": TOKEN})(_credentials(token))
