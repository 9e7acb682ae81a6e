"""The sandboxes play the person (issue 11): ``POST /_sandbox/person/reply`` reads the conversation
from the emulator and delivers the person's answer to the API as the provider would — a Twilio
inbound form signed with the tenant's auth token, or an Inbound Parse form with the project's
token — and says what it posted. A loopback receiver stands in for the API."""

from __future__ import annotations

import email.parser
import email.policy
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from sendgrid.helpers.mail import Header, ReplyTo
from twilio.request_validator import RequestValidator

from local.person_directory import EmulatorDirectory
from local.reply import main as reply_main
from local.sandboxes import Sandboxes
from local.sandboxes.person import EmailPerson, TwilioPerson
from local.seed import ProviderSecrets, connect_webhooks, create_api, seed_sample_tenant
from shared.webhooks.routes import SENDGRID_INBOUND, TWILIO_INBOUND
from stacks.settings import load_settings
from tests.fixtures.sandboxes import CallbackReceiver, Received
from tests.integration.test_sandboxes import email as sample_email
from tests.integration.test_sandboxes import sendgrid_client

COMPANY, PROJECT = "ci-demo-001", "pi-demo-001"
PERSON_TEL, PERSON_EMAIL = "+447700900123", "alex.morgan@example.com"
COMPANY_EMAIL = "talent@cucumber-recruitment.example"
REPLY_TO = "reply+abcdefghijklmnopqrstuvwxyz@replies.cucumber-recruitment.example"
ENGINE_MESSAGE_ID = "<reply-abcdefghijklmnopqrstuvwxyz.0@replies.cucumber-recruitment.example>"
EMAIL_SECRET = f"ai-multi-comms/email-credentials/{COMPANY}/{PROJECT}/sendgrid-dev"


@pytest.fixture
def stage(aws, sandbox: Sandboxes, receiver: CallbackReceiver) -> Iterator[dict[str, Any]]:
    """The seeded tenant, its webhooks connected to the receiver (standing in for the API's stage
    URL), and a person attached to the Twilio and SendGrid sandboxes."""
    api_url = receiver.url("/dev")
    tenant = seed_sample_tenant(aws, create_api(aws, load_settings("dev")), ProviderSecrets())
    connect_webhooks(aws, tenant, sandbox.sendgrid, api_url)
    directory = EmulatorDirectory(aws)
    sandbox.twilio.person = TwilioPerson(sandbox.twilio, directory, api_url)
    sandbox.sendgrid.person = EmailPerson(sandbox.sendgrid, directory, api_url)
    yield {"aws": aws, "sandbox": sandbox, "receiver": receiver, "api_url": api_url, "tenant": tenant}
    sandbox.twilio.person = sandbox.sendgrid.person = None


def put_conversation(aws, channel: str, **fields: Any) -> str:
    person = PERSON_EMAIL if channel == "email" else PERSON_TEL
    company = {"whatsapp": "+447700900001", "sms": "+447700900002", "email": COMPANY_EMAIL}[channel]
    conversation_id = f"{COMPANY}#{PROJECT}#req-{channel}#{company}"
    aws.table("conversations").put_item(
        Item={
            "primary_channel": person,
            "conversation_id": conversation_id,
            "company_id": COMPANY,
            "project_id": PROJECT,
            "request_id": f"req-{channel}",
            "channel_method": channel,
            "conversation_status": "initial_message_sent",
            "created_at": "2026-11-26T09:00:00Z",
            "updated_at": "2026-11-26T09:00:00Z",
            "recipient_first_name": "Alex",
            "recipient_last_name": "Morgan",
            "company_sender": company,
            **({"recipient_email": person} if channel == "email" else {"recipient_tel": person}),
            **fields,
        }
    )
    return conversation_id


def engine_email(sandbox: Sandboxes, *, subject: str = "Your application", reply_to: bool = True) -> str:
    """The engine's first email to the person, through the SendGrid sandbox; its X-Message-Id."""
    mail = sample_email(PERSON_EMAIL)
    mail.subject = subject
    if reply_to:
        mail.reply_to = ReplyTo(REPLY_TO)
        mail.header = [Header("Message-ID", ENGINE_MESSAGE_ID), Header("References", "<first@example.com>")]
    # Another key than the tenant's: no Event Webhook posts mix with the person's.
    return sendgrid_client(sandbox).send(mail).headers["X-Message-Id"]


def person_replies(sandbox_url: str, **body: Any) -> requests.Response:
    return requests.post(f"{sandbox_url}/_sandbox/person/reply", json=body, timeout=30)


def inbound(stage: dict[str, Any]) -> list[Received]:
    """What reached the API's inbound routes (the SendGrid Event Webhook posts elsewhere)."""
    return [r for r in stage["receiver"].received if r.path.partition("?")[0].endswith("/inbound")]


def form_of(received: Received) -> dict[str, str]:
    return dict(parse_qsl(received.body.decode(), keep_blank_values=True))


def multipart_of(received: Received) -> tuple[dict[str, str], dict[str, tuple[str, bytes]]]:
    """(text fields, files by field name as (content type, bytes)) of a multipart/form-data post."""
    head = f"Content-Type: {received.headers['content-type']}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + received.body)
    fields, files = {}, {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if part.get_filename():
            files[name] = (part.get_content_type(), part.get_payload(decode=True))
        else:
            fields[name] = part.get_payload(decode=True).decode()
    return fields, files


def email_secret(aws) -> dict[str, Any]:
    return json.loads(aws.client("secretsmanager").get_secret_value(SecretId=EMAIL_SECRET)["SecretString"])


# -- WhatsApp and SMS: Twilio's inbound webhook ----------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "person", "company"),
    [("whatsapp", f"whatsapp:{PERSON_TEL}", "whatsapp:+447700900001"), ("sms", PERSON_TEL, "+447700900002")],
)
def test_the_person_answers_with_a_twilio_inbound_form_signed_with_the_tenants_token(stage, channel, person, company):
    conversation_id = put_conversation(stage["aws"], channel)

    answer = person_replies(stage["sandbox"].twilio.url, conversation_id=conversation_id, text="Yes, I drive.")

    assert answer.status_code == 200, answer.text
    [received] = inbound(stage)
    url = TWILIO_INBOUND.url(stage["api_url"], COMPANY, PROJECT)
    assert received.path == urlsplit(url).path
    form = form_of(received)
    assert (form["From"], form["To"], form["Body"], form["NumMedia"]) == (person, company, "Yes, I drive.", "0")
    assert form["MessageSid"].startswith("SM") and len(form["MessageSid"]) == 34
    assert form["AccountSid"] == ProviderSecrets().twilio_account_sid
    signature = received.headers["x-twilio-signature"]
    assert RequestValidator(ProviderSecrets().twilio_auth_token).validate(url, form, signature)
    assert not RequestValidator("another-tenants-token").validate(url, form, signature)
    assert answer.json() == {
        "channel": channel,
        "conversation_id": conversation_id,
        "message_id": form["MessageSid"],
        "from": person,
        "to": company,
        "posts": [{"http_status": 200, "error": None}],
    }
    [logged] = stage["sandbox"].twilio.callback_log(form["MessageSid"])
    assert (logged.label, logged.http_status) == ("inbound", 200)


def test_the_same_delivery_three_times_is_one_message_id_and_one_signature(stage):
    conversation_id = put_conversation(stage["aws"], "sms")
    stage["receiver"].answer(500)  # the API's answer to each post is reported as it came

    answer = person_replies(stage["sandbox"].twilio.url, conversation_id=conversation_id, text="Hi", times=3).json()

    received = inbound(stage)
    assert len(received) == 3
    assert len({r.body for r in received}) == 1 and len({r.headers["x-twilio-signature"] for r in received}) == 1
    assert [p["http_status"] for p in answer["posts"]] == [500, 200, 200]


def test_a_given_message_id_repeats_an_earlier_delivery(stage):
    conversation_id = put_conversation(stage["aws"], "whatsapp")
    first = person_replies(
        stage["sandbox"].twilio.url, conversation_id=conversation_id, text="Hi", media=["image/jpeg"]
    )

    again = person_replies(
        stage["sandbox"].twilio.url,
        conversation_id=conversation_id, text="Hi", media=["image/jpeg"], message_id=first.json()["message_id"],
    )  # fmt: skip

    one, two = inbound(stage)
    assert again.json()["message_id"] == first.json()["message_id"]
    assert one.body == two.body  # the same form, media URLs included, as Twilio retries it


def test_media_are_named_by_content_type_and_url_never_fetched(stage):
    conversation_id = put_conversation(stage["aws"], "whatsapp")

    person_replies(
        stage["sandbox"].twilio.url, conversation_id=conversation_id, text="", media=["image/jpeg", "application/pdf"]
    ).raise_for_status()

    form = form_of(inbound(stage)[0])
    assert (form["NumMedia"], form["MediaContentType0"], form["MediaContentType1"]) == (
        "2", "image/jpeg", "application/pdf",
    )  # fmt: skip
    assert form["MediaUrl0"].startswith(f"https://api.twilio.com/2010-04-01/Accounts/{form['AccountSid']}/Messages/")
    assert form["MessageType"] == "image" and form["WaId"] == PERSON_TEL.removeprefix("+")


def test_after_the_person_wrote_on_whatsapp_a_free_form_answer_may_go(stage):
    twilio = stage["sandbox"].twilio
    twilio.whatsapp_window = True
    try:
        conversation_id = put_conversation(stage["aws"], "whatsapp")
        person_replies(twilio.url, conversation_id=conversation_id, text="Hi").raise_for_status()

        assert not twilio._window_closed(f"whatsapp:{PERSON_TEL}", "whatsapp:+447700900001")
        assert twilio._window_closed(f"whatsapp:{PERSON_TEL}", "whatsapp:+447700900009")
    finally:
        twilio.whatsapp_window = False


# -- email: SendGrid Inbound Parse -----------------------------------------------------------------


def test_the_person_answers_the_engines_email_by_inbound_parse_to_its_reply_to_in_thread(stage):
    sandbox = stage["sandbox"]
    conversation_id = put_conversation(stage["aws"], "email", provider_message_id=engine_email(sandbox))

    answer = person_replies(sandbox.sendgrid.url, conversation_id=conversation_id, text="Yes, I drive.\nAlex")

    assert answer.status_code == 200, answer.text
    [received] = inbound(stage)
    route, _, query = received.path.partition("?")
    assert route == urlsplit(SENDGRID_INBOUND.url(stage["api_url"], COMPANY, PROJECT)).path
    token = email_secret(stage["aws"])["sendgrid_inbound_token"]
    assert dict(parse_qsl(query)) == {"token": token}
    fields, files = multipart_of(received)
    assert files == {}
    assert fields["from"] == f"Alex Morgan <{PERSON_EMAIL}>"
    assert (fields["to"], fields["subject"]) == (REPLY_TO, "Re: Your application")
    answer_text, quote = fields["text"].split("\n\n", 1)
    assert answer_text == "Yes, I drive.\nAlex"  # above the engine's mail, quoted as a mail client does
    quote_line, quoted = quote.split("\n")
    assert quote_line.startswith("On ") and quote_line.endswith(f"{COMPANY_EMAIL} wrote:") and quoted == "> Hi Alex"
    assert json.loads(fields["envelope"]) == {"to": [REPLY_TO], "from": PERSON_EMAIL}
    assert json.loads(fields["charsets"])["text"] == "UTF-8" and fields["SPF"] == "pass"
    headers = email.parser.Parser().parsestr(fields["headers"])
    assert headers["In-Reply-To"] == ENGINE_MESSAGE_ID
    assert headers["References"] == f"<first@example.com> {ENGINE_MESSAGE_ID}"
    assert headers["Message-ID"] == answer.json()["message_id"]
    assert answer.json()["to"] == REPLY_TO and answer.json()["subject"] == "Re: Your application"
    # The log shows the post, never the token.
    [logged] = sandbox.sendgrid.callback_log(answer.json()["message_id"])
    assert logged.url.endswith("?token=***") and token not in json.dumps(logged.to_json())


def test_without_a_reply_to_the_person_answers_the_sender_and_keeps_one_re(stage):
    sandbox = stage["sandbox"]
    message_id = engine_email(sandbox, subject="Re: Your application", reply_to=False)
    conversation_id = put_conversation(stage["aws"], "email", provider_message_id=message_id)

    answer = person_replies(sandbox.sendgrid.url, conversation_id=conversation_id, text="Hi").json()

    fields, _ = multipart_of(inbound(stage)[0])
    assert (answer["to"], fields["subject"]) == (COMPANY_EMAIL, "Re: Your application")
    assert "In-Reply-To" not in fields["headers"]


def test_attachments_are_file_parts_with_their_info(stage):
    sandbox = stage["sandbox"]
    conversation_id = put_conversation(stage["aws"], "email", provider_message_id=engine_email(sandbox))

    person_replies(sandbox.sendgrid.url, conversation_id=conversation_id, text="My licence", media=["image/png"])

    fields, files = multipart_of(inbound(stage)[0])
    assert fields["attachments"] == "1"
    assert json.loads(fields["attachment-info"])["attachment1"]["type"] == "image/png"
    assert files["attachment1"][0] == "image/png" and files["attachment1"][1]


def test_the_inbound_token_is_new_on_every_connect(stage):
    before = email_secret(stage["aws"])["sendgrid_inbound_token"]

    connect_webhooks(stage["aws"], stage["tenant"], stage["sandbox"].sendgrid, stage["api_url"])

    after = email_secret(stage["aws"])["sendgrid_inbound_token"]
    assert before != after and len(after) >= 40


# -- what it refuses -------------------------------------------------------------------------------


def test_refusals_say_why_and_post_nothing(stage):
    sandbox = stage["sandbox"]
    email_conversation = put_conversation(stage["aws"], "email")
    sms_conversation = put_conversation(stage["aws"], "sms")

    answers = {
        "unknown conversation": person_replies(sandbox.twilio.url, conversation_id="nope", text="Hi"),
        "another provider's channel": person_replies(sandbox.twilio.url, conversation_id=email_conversation, text="Hi"),
        "nothing emailed yet": person_replies(sandbox.sendgrid.url, conversation_id=email_conversation, text="Hi"),
        "no text": person_replies(sandbox.twilio.url, conversation_id=sms_conversation, text=""),
        "too many times": person_replies(sandbox.twilio.url, conversation_id=sms_conversation, text="Hi", times=11),
        "unknown field": person_replies(sandbox.twilio.url, conversation_id=sms_conversation, text="Hi", to="+1"),
        "not a content type": person_replies(
            sandbox.twilio.url, conversation_id=sms_conversation, text="Hi", media=["a photo"]
        ),
    }

    assert {name: a.status_code for name, a in answers.items()} == {
        "unknown conversation": 404, "another provider's channel": 400, "nothing emailed yet": 400, "no text": 400,
        "too many times": 400, "unknown field": 400, "not a content type": 400,
    }  # fmt: skip
    assert "the SendGrid sandbox plays that person" in answers["another provider's channel"].json()["error"]
    assert inbound(stage) == []


def test_a_sandbox_without_a_person_says_so(sandbox):
    answer = person_replies(sandbox.twilio.url, conversation_id="c", text="Hi")

    assert answer.status_code == 409 and "no person" in answer.json()["error"]


# -- make reply ------------------------------------------------------------------------------------


def test_make_reply_asks_the_sandbox_of_the_conversations_provider(stage, tmp_path, capsys):
    sandbox, aws = stage["sandbox"], stage["aws"]
    sms = put_conversation(aws, "sms")
    mail = put_conversation(aws, "email", provider_message_id=engine_email(sandbox))
    env_file = tmp_path / "env"
    env = {
        "AWS_ENDPOINT_URL": aws.endpoint_url, "AWS_REGION": aws.region, "ENVIRONMENT": "dev",
        "TWILIO_SANDBOX_URL": sandbox.twilio.url, "SENDGRID_SANDBOX_URL": sandbox.sendgrid.url,
    }  # fmt: skip
    env_file.write_text("".join(f"export {name}={value}\n" for name, value in env.items()))

    assert reply_main(["--conversation", sms, "--text", "It's fine", "--times", "2", "--env-file", str(env_file)]) == 0
    assert reply_main(["--conversation", mail, "--text", "Yes", "--env-file", str(env_file)]) == 0
    stage["receiver"].answer(403)
    assert reply_main(["--conversation", sms, "--text", "Hi", "--env-file", str(env_file)]) == 1
    assert reply_main(["--conversation", "nope", "--text", "Hi", "--env-file", str(env_file)]) == 1

    out = capsys.readouterr()
    assert out.out.count("delivery 1: HTTP 200") == 2 and "delivery 2: HTTP 200" in out.out
    assert "delivery 1: HTTP 403" in out.out and "error: no conversation nope" in out.err
    paths = [r.path.partition("?")[0].rsplit("/", 4)[-4:] for r in inbound(stage)]
    assert [p[0] for p in paths] == ["twilio", "twilio", "sendgrid", "twilio"]
    assert [p[-1] for p in paths] == ["inbound"] * 4
