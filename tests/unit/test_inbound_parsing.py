"""The person's message as the engine reads it from Twilio's inbound form and SendGrid Inbound Parse."""

from __future__ import annotations

import pytest

from shared.channels import Channel
from shared.consent.keywords import ConsentKeyword
from shared.events.status_updates import MalformedEvent
from shared.replies.inbound import MAX_TEXT_CHARS, html_to_text, parse_inbound, strip_quoted
from tests.fixtures.inbound import (
    COMPANY_EMAIL,
    PERSON_EMAIL,
    SMS_NUMBER,
    WHATSAPP_NUMBER,
    sendgrid_inbound,
    twilio_inbound,
)


def _with(event, **payload):
    return event.model_copy(update={"payload": {**event.payload, **payload}})


# -- Twilio ---------------------------------------------------------------------------------------------
def test_a_whatsapp_message_is_read_by_its_whatsapp_prefix():
    message = parse_inbound(twilio_inbound(sid="SM123", body="Hi", media=("image/jpeg", "video/mp4")))

    assert (message.channel, message.provider, message.inbound_id) == (Channel.WHATSAPP, "twilio", "SM123")
    assert (message.sender, message.company_address, message.text) == ("+447700900123", WHATSAPP_NUMBER, "Hi")
    assert (message.media_count, message.media_types) == (2, ("image/jpeg", "video/mp4"))
    assert message.sent_at is None  # Twilio's form carries no time: the receive time is used


def test_an_sms_has_plain_numbers():
    message = parse_inbound(twilio_inbound(channel=Channel.SMS, body="See you then"))

    assert (message.channel, message.sender, message.company_address) == (Channel.SMS, "+447700900123", SMS_NUMBER)
    assert (message.text, message.media_count, message.media_types) == ("See you then", 0, ())


def test_a_long_text_is_capped():
    assert len(parse_inbound(twilio_inbound(body="x" * 10_000)).text) == MAX_TEXT_CHARS


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"MessageSid": None, "SmsMessageSid": None}, "MessageSid"),
        ({"From": None}, "From"),
        ({"To": ""}, "From or To"),
        ({"From": "whatsapp:alex"}, "E.164"),
        ({"Body": 42}, "not text"),
    ],
)
def test_a_twilio_form_without_an_id_or_numbers_is_malformed(changes, why):
    event = twilio_inbound()
    payload = {k: v for k, v in {**event.payload, **changes}.items() if v is not None}

    with pytest.raises(MalformedEvent, match=why):
        parse_inbound(event.model_copy(update={"payload": payload}))


# -- SendGrid Inbound Parse ------------------------------------------------------------------------------
def test_an_email_is_read_with_its_threading_headers_and_recipients():
    message = parse_inbound(
        sendgrid_inbound(
            sender='"Morgan, Alex" <Alex.Morgan@Example.COM>',
            to="Talent <talent@cucumber-recruitment.example>",
            cc="boss@example.org",
            in_reply_to="<reply-abc.0@replies.example>",
            references="<a@x> <reply-abc.0@replies.example>",
            envelope_to=["reply+token@replies.example", "TALENT@cucumber-recruitment.example"],
            attachments={"cv.pdf": "application/pdf", "photo.png": "image/png"},
        )
    )

    assert (message.channel, message.provider, message.sender) == (Channel.EMAIL, "sendgrid", PERSON_EMAIL)
    assert message.inbound_id == message.email_message_id == "<CAF-reply-1@mail.example.com>"
    assert (message.in_reply_to, message.references) == (
        "<reply-abc.0@replies.example>",
        "<a@x> <reply-abc.0@replies.example>",
    )
    assert message.recipients == (COMPANY_EMAIL, "boss@example.org", "reply+token@replies.example")
    assert (message.subject, message.sent_at) == ("Re: Your application", "2026-11-26T03:10:00.000Z")
    assert (message.media_count, message.media_types) == (2, ("application/pdf", "image/png"))
    assert message.company_address is None


def test_the_quoted_history_is_not_kept():
    text = (
        "Yes, March.\r\n\r\n> earlier line\r\nSecond paragraph.\r\n\r\n\r\n\r\n"
        "On Wed, 25 Nov 2026 at 09:00, Carol <talent@example.com> wrote:\r\n> Hello Alex\r\nsignature"
    )

    assert strip_quoted(text) == "Yes, March.\n\nSecond paragraph."
    assert strip_quoted("Fine\n-----Original Message-----\nFrom: x") == "Fine"


def test_the_html_body_is_reduced_to_text_when_there_is_no_text_part():
    html = (
        "<html><head><style>p{color:red}</style></head><body><p>Hello&nbsp;Carol,</p>"
        "<div>March <b>works</b>.</div><blockquote class='gmail_quote'>old message</blockquote></body></html>"
    )

    assert html_to_text(html) == "Hello Carol,\n\nMarch works."
    message = parse_inbound(sendgrid_inbound(text="", html=html))
    assert message.text == "Hello Carol,\n\nMarch works."


def test_an_email_without_a_message_id_gets_a_digest_that_is_stable_across_re_posts():
    first = parse_inbound(sendgrid_inbound(message_id=None))
    again = parse_inbound(sendgrid_inbound(message_id=None))
    other = parse_inbound(sendgrid_inbound(message_id=None, text="Something else"))

    assert first.inbound_id == again.inbound_id and first.inbound_id.startswith("sha256:")
    assert other.inbound_id != first.inbound_id
    assert first.email_message_id is None


@pytest.mark.parametrize("sender", ["", "Alex Morgan", "<>"])
def test_an_email_without_a_sender_address_is_malformed(sender):
    with pytest.raises(MalformedEvent, match="sender"):
        parse_inbound(_with(sendgrid_inbound(), **{"from": sender}))


def test_a_broken_envelope_or_attachment_info_is_ignored_not_fatal():
    event = _with(sendgrid_inbound(), envelope="{not json", **{"attachment-info": "[1, 2]", "attachments": "x"})

    message = parse_inbound(event)

    assert message.recipients == (COMPANY_EMAIL,)
    assert (message.media_count, message.media_types) == (0, ())


# -- consent keywords (issue 12) ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "opt_out_type", "keyword", "from_provider"),
    [
        ("STOP", None, ConsentKeyword.OPT_OUT, False),
        ("Stop!", "STOP", ConsentKeyword.OPT_OUT, False),  # the text says it too: the person's keyword
        ("Remove me", "STOP", ConsentKeyword.OPT_OUT, True),  # only Twilio's (the tenant's keyword list)
        ("start", None, ConsentKeyword.OPT_IN, False),
        ("Help", None, ConsentKeyword.HELP, False),
        ("stop by tomorrow", None, None, False),
    ],
)
def test_a_twilio_message_says_which_consent_keyword_it_is(body, opt_out_type, keyword, from_provider):
    extra = {"OptOutType": opt_out_type} if opt_out_type else {}
    message = parse_inbound(twilio_inbound(channel=Channel.SMS, body=body, **extra))

    assert (message.consent_keyword, message.keyword_from_provider) == (keyword, from_provider)
    assert message.text == body  # recorded as the person wrote it


def test_a_media_only_twilio_message_is_no_keyword():
    message = parse_inbound(_with(twilio_inbound(media=("image/jpeg",)), Body=""))

    assert message.consent_keyword is None


def test_an_email_opts_out_by_its_new_text_not_the_quoted_history():
    quoted = "Unsubscribe\n\nOn Thu, 26 Nov 2026 at 03:00, Talent <talent@x.example> wrote:\n> Hello Alex"
    history_only = "Thanks, that works.\n\nOn Thu, 26 Nov 2026, Talent wrote:\n> Reply STOP to opt out\n> STOP"

    assert parse_inbound(sendgrid_inbound(text=quoted)).consent_keyword is ConsentKeyword.OPT_OUT
    assert parse_inbound(sendgrid_inbound(text=history_only)).consent_keyword is None
    assert parse_inbound(sendgrid_inbound(text="", subject="Re: STOP")).consent_keyword is ConsentKeyword.OPT_OUT


def test_a_message_is_referred_to_without_personal_data():
    sms = parse_inbound(twilio_inbound(sid="SM123"))
    email = parse_inbound(sendgrid_inbound(message_id=f"<{PERSON_EMAIL}.1@mail.example.com>"))

    assert sms.reference == "SM123"
    assert len(email.reference) == 16 and PERSON_EMAIL not in email.reference
