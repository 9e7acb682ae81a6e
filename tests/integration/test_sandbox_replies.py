"""The sandboxes' side of the person's replies (issue 11), driven by the real SDKs: the OpenAI
sandbox answers reply prompts by the reply schema, Twilio keeps WhatsApp's 24-hour window, and
SendGrid's outbox shows what threads an email (Reply-To, custom headers)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema
import pytest
from sendgrid.helpers.mail import CustomArg, Header, ReplyTo
from twilio.base.exceptions import TwilioRestException

from local.sandboxes import Sandboxes
from tests.integration.test_sandboxes import (
    CANDIDATE,
    CONTEXT,
    email,
    openai_client,
    sendgrid_client,
    twilio_client,
)

WHATSAPP_SENDER = "whatsapp:+447700900001"
PERSON = f"whatsapp:{CANDIDATE}"


def reply_schema(max_length: int) -> dict[str, Any]:
    """The engine's reply schema (common brief: ``<channel>_reply``)."""
    return {
        "type": "object",
        "properties": {
            "reply": {"type": "string", "maxLength": max_length},
            "task_complete": {"type": "boolean"},
            "needs_human": {"type": "boolean"},
        },
        "required": ["reply", "task_complete", "needs_human"],
        "additionalProperties": False,
    }


def history(*person_says: str) -> list[dict[str, Any]]:
    """The context block, the first message, then the person's messages (each answered but the last)."""
    items: list[dict[str, Any]] = [
        {"role": "user", "content": f"<context_data>\n{CONTEXT}\n</context_data>"},
        {"role": "assistant", "content": [{"type": "output_text", "text": "Hi Alex, do you drive?"}]},
    ]
    for index, said in enumerate(person_says):
        items.append({"role": "user", "content": [{"type": "input_text", "text": said}]})
        if index < len(person_says) - 1:
            items.append({"role": "assistant", "content": "Thanks, noted."})
    return items


def answer(sandbox: Sandboxes, items: list[dict[str, Any]], *, name: str = "sms_reply", max_length: int = 320):
    schema = reply_schema(max_length)
    response = openai_client(sandbox).responses.create(
        model="gpt-5-mini",
        instructions="Answer the candidate.",
        input=items,
        text={"format": {"type": "json_schema", "name": name, "schema": schema, "strict": True}},
        store=False,
    )
    content = json.loads(response.output_text)
    jsonschema.validate(content, schema)
    return content, response


# -- OpenAI: reply prompts -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["whatsapp_reply", "sms_reply", "email_reply"])
def test_a_reply_prompt_is_answered_by_the_reply_schema_quoting_the_persons_last_message(sandbox, name):
    content, response = answer(sandbox, history("I passed my test in May.", "Yes, a full UK licence."), name=name)

    assert content["reply"].startswith('Thanks Alex, you wrote: "Yes, a full UK licence."')
    assert "Carol from Cucumber Recruitment" in content["reply"]
    assert "I passed my test" not in content["reply"]  # the last message, not an earlier one
    assert (content["needs_human"], content["task_complete"]) == (False, False)
    assert response.usage.input_tokens > 0 and response.usage.output_tokens > 0


def test_the_same_history_gets_the_same_reply(sandbox):
    first, _ = answer(sandbox, history("Yes, a full UK licence."))
    again, _ = answer(sandbox, history("Yes, a full UK licence."))

    assert first == again


@pytest.mark.parametrize(
    "said", ["Can I talk to a human?", "I'd rather speak to a person", "Put me through to an agent", "Call me tonight"]
)
def test_asking_for_a_person_sets_needs_human(sandbox, said):
    content, _ = answer(sandbox, history(said))

    assert content["needs_human"] is True and content["task_complete"] is False
    assert "get in touch with you personally" in content["reply"]


@pytest.mark.parametrize("said", ["That's all, thanks", "that is all", "I'm done", "Thanks, bye!"])
def test_saying_it_is_done_sets_task_complete(sandbox, said):
    content, _ = answer(sandbox, history(said))

    assert content["task_complete"] is True and content["needs_human"] is False


def test_words_that_only_contain_a_trigger_set_nothing(sandbox):
    content, _ = answer(sandbox, history("My personal email is fine; the agency abandoned it."))

    assert (content["needs_human"], content["task_complete"]) == (False, False)


def test_asking_for_a_person_wins_over_being_done(sandbox):
    content, _ = answer(sandbox, history("I'm done here, get me a human."))

    assert (content["needs_human"], content["task_complete"]) == (True, False)


def test_a_reply_is_cut_to_the_channels_limit_and_a_long_message_is_quoted_short(sandbox):
    long_message = "I drive every day to work and back, " * 20

    content, _ = answer(sandbox, history(long_message), max_length=70)
    roomy, _ = answer(sandbox, history(long_message), max_length=10_000)

    assert len(content["reply"]) <= 70
    quoted = roomy["reply"].split('"')[1]
    assert len(quoted) == 60 and quoted.endswith("…")


def test_other_schemas_are_filled_as_before(sandbox):
    content, _ = answer(sandbox, history("Can I talk to a human?"), name="sms")

    # Not a reply prompt: booleans are filled as any schema's, whatever the person wrote.
    assert content["needs_human"] is True and content["task_complete"] is True
    assert not content["reply"].startswith("Thanks Alex, you wrote")


# -- Twilio: WhatsApp's 24-hour window -------------------------------------------------------------


def free_form(sandbox: Sandboxes, body: str = "Thanks Alex, noted."):
    return twilio_client(sandbox).messages.create(to=PERSON, from_=WHATSAPP_SENDER, body=body)


@pytest.fixture
def window(sandbox: Sandboxes):
    sandbox.twilio.whatsapp_window = True
    yield sandbox
    sandbox.twilio.whatsapp_window = False


def test_free_form_whatsapp_is_sent_without_a_content_sid_and_recorded(sandbox):
    message = free_form(sandbox, "Thanks Alex, noted.")

    assert message.status == "queued"
    [sent] = sandbox.twilio.outbox
    assert (sent["body"], sent["content_sid"], sent["to"], sent["from"]) == (
        "Thanks Alex, noted.", None, PERSON, WHATSAPP_SENDER,
    )  # fmt: skip


def test_free_form_whatsapp_to_a_person_who_never_wrote_is_refused_with_63016(window):
    with pytest.raises(TwilioRestException) as refused:
        free_form(window)

    assert refused.value.code == 63016 and refused.value.status == 400
    assert window.twilio.outbox == []


def test_free_form_whatsapp_is_sent_within_24_hours_of_the_persons_message(window):
    window.twilio.note_inbound(PERSON, WHATSAPP_SENDER, datetime.now(UTC) - timedelta(hours=23))

    assert free_form(window).status == "queued"


def test_free_form_whatsapp_after_24_hours_is_refused_and_a_template_still_goes(window):
    window.twilio.note_inbound(PERSON, WHATSAPP_SENDER, datetime.now(UTC) - timedelta(hours=24, minutes=1))

    with pytest.raises(TwilioRestException) as refused:
        free_form(window)
    template = twilio_client(window).messages.create(
        to=PERSON, from_=WHATSAPP_SENDER, content_sid="HX" + "0" * 32, content_variables=json.dumps({"1": "Alex"})
    )

    assert refused.value.code == 63016
    assert template.status == "queued"


def test_the_window_is_per_sender_and_sms_has_none(window):
    window.twilio.note_inbound(PERSON, "whatsapp:+447700900009")  # wrote to another sender

    with pytest.raises(TwilioRestException):
        free_form(window)
    sms = twilio_client(window).messages.create(to=CANDIDATE, from_="+447700900002", body="Thanks")

    assert sms.status == "queued"


def test_who_wrote_when_survives_a_restart(window):
    window.twilio.note_inbound(PERSON, WHATSAPP_SENDER)
    saved = window.twilio.saved_state()
    window.twilio.reset()

    window.twilio.restore_state(saved)

    assert free_form(window).status == "queued"


# -- SendGrid: what threads an email ---------------------------------------------------------------


def test_the_outbox_shows_the_reply_to_the_custom_headers_and_args_of_a_mail(sandbox):
    mail = email()
    mail.reply_to = ReplyTo("reply+abcdefghijklmnopqrstuvwxyz@replies.cucumber-recruitment.example")
    mail.header = [
        Header("Message-ID", "<reply-abcdefghijklmnopqrstuvwxyz.1@replies.cucumber-recruitment.example>"),
        Header("In-Reply-To", "<person-1@example.com>"),
    ]
    mail.custom_arg = [CustomArg("conversation_id", "c1")]

    sendgrid_client(sandbox).send(mail)

    [sent] = sandbox.sendgrid.outbox
    assert sent["reply_to"] == "reply+abcdefghijklmnopqrstuvwxyz@replies.cucumber-recruitment.example"
    assert sent["headers"] == {
        "Message-ID": "<reply-abcdefghijklmnopqrstuvwxyz.1@replies.cucumber-recruitment.example>",
        "In-Reply-To": "<person-1@example.com>",
    }
    assert sent["custom_args"] == {"conversation_id": "c1"}


def test_a_mail_without_them_shows_none(sandbox):
    sendgrid_client(sandbox).send(email())

    [sent] = sandbox.sendgrid.outbox
    assert (sent["reply_to"], sent["headers"], sent["custom_args"]) == (None, {}, {})
