"""Every email the email processor sends (first message and reply) carries RFC 8058's one-click
unsubscribe: the SendGrid sandbox's outbox shows ``List-Unsubscribe`` with a token that verifies
for that recipient, and ``List-Unsubscribe-Post``; a POST to that URL through the webhook ingress
suppresses the person, and the router then answers 409 for that email."""

from __future__ import annotations

import re

import pytest

from shared.channels import Channel
from shared.consent.suppressions import SuppressionReason
from shared.consent.unsubscribe_token import UnsubscribeTarget, read_token
from shared.processing.adapters.email import EmailChannel
from shared.processing.errors import CredentialsMissing
from tests.fixtures import webhook_ingress
from tests.fixtures.processors import CALLBACK_BASE_URL
from tests.fixtures.webhook_ingress import consent_key
from tests.integration.reply_setup import (
    PERSON_ADDRESS,
    answer,
    company_record_example,  # noqa: F401 - the fixture override
    first_message_sent,
)

start_ingress = webhook_ingress.start_ingress
MAILTO = "unsubscribe@cucumber-recruitment.example"
_URL = re.compile(r"<(?P<base>[^<>]+)/unsubscribe/(?P<token>[A-Za-z0-9_-]+)>")


def _link(headers: dict[str, str]) -> tuple[str, str]:
    found = _URL.fullmatch(headers["List-Unsubscribe"].split(", ")[0])
    assert found, headers["List-Unsubscribe"]
    return found["base"], found["token"]


def test_the_first_email_carries_a_one_click_link_whose_token_names_that_recipient(aws, processor_for, context_message):
    processor = processor_for(Channel.EMAIL)
    message = context_message(Channel.EMAIL)

    first_message_sent(processor, message)

    headers = processor.provider_outbox[-1]["headers"]
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    base, token = _link(headers)
    assert base == CALLBACK_BASE_URL
    key = consent_key(aws)
    assert read_token(key, token) == UnsubscribeTarget(
        message.company_data.company_id, message.company_data.project_id, key.digest(PERSON_ADDRESS[Channel.EMAIL])
    )
    assert headers["List-Unsubscribe"] == f"<{CALLBACK_BASE_URL}/unsubscribe/{token}>"  # no mailto configured
    assert "Message-ID" in headers  # the thread's headers stay


def test_the_projects_mailto_follows_the_url(aws, processor_for, context_message):
    processor = processor_for(Channel.EMAIL)
    message = context_message(Channel.EMAIL, **{"project.consent.unsubscribe_mailto": MAILTO})

    first_message_sent(processor, message)

    headers = processor.provider_outbox[-1]["headers"]
    _, token = _link(headers)
    assert headers["List-Unsubscribe"] == (
        f"<{CALLBACK_BASE_URL}/unsubscribe/{token}>, <mailto:{MAILTO}?subject=unsubscribe>"
    )
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_a_message_without_a_callback_url_gets_the_mailto_alone_or_no_header(processor_for, context_message):
    processor = processor_for(Channel.EMAIL)
    with_mailto = context_message(
        Channel.EMAIL, **{"metadata.callback_base_url": None, "project.consent.unsubscribe_mailto": MAILTO}
    )
    without = context_message(Channel.EMAIL, **{"metadata.callback_base_url": None})

    first_message_sent(processor, with_mailto)
    mailto_only = processor.provider_outbox[-1]["headers"]
    first_message_sent(processor, without)
    bare = processor.provider_outbox[-1]["headers"]

    assert mailto_only["List-Unsubscribe"] == f"<mailto:{MAILTO}?subject=unsubscribe>"
    # One-click needs a URL to POST to.
    assert "List-Unsubscribe-Post" not in mailto_only
    assert not any(name.startswith("List-Unsubscribe") for name in bare)


def test_every_reply_carries_the_same_link(aws, processor_for, context_message, sandbox):
    processor = processor_for(Channel.EMAIL)
    message = context_message(Channel.EMAIL)
    first_message_sent(processor, message)
    first = processor.provider_outbox[-1]["headers"]
    seq = processor.record_inbound(message, "Is the role remote?", subject="Re: The role")
    sandbox.openai.script(answer("Two days a week in the office."))

    processor.deliver_job(processor.reply_job(message, seq))

    reply = processor.provider_outbox[-1]["headers"]
    assert len(processor.provider_outbox) == 2
    assert reply["List-Unsubscribe"] == first["List-Unsubscribe"]
    assert reply["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert reply["Message-ID"] != first["Message-ID"]  # the thread headers are still its own


def test_posting_the_headers_url_suppresses_the_recipient(aws, processor_for, context_message, start_ingress):
    processor = processor_for(Channel.EMAIL)
    message = context_message(Channel.EMAIL)
    first_message_sent(processor, message)
    _, token = _link(processor.provider_outbox[-1]["headers"])
    ingress = start_ingress()

    assert ingress.unsubscribe(token, "GET").status == 200
    assert not ingress.suppressions().is_suppressed(
        message.company_data.company_id, Channel.EMAIL, PERSON_ADDRESS[Channel.EMAIL]
    )
    reply = ingress.unsubscribe(token)

    assert reply.status == 200 and "You are unsubscribed" in reply.body
    entry = ingress.suppressions().entry(message.company_data.company_id, Channel.EMAIL, PERSON_ADDRESS[Channel.EMAIL])
    assert entry is not None and entry.is_active and entry.reason is SuppressionReason.UNSUBSCRIBE_LINK
    assert entry.project_id == message.company_data.project_id


def test_an_email_channel_without_a_consent_key_refuses_to_build_an_email(context_message):
    message = context_message(Channel.EMAIL)

    with pytest.raises(CredentialsMissing, match="consent key"):
        EmailChannel().outgoing(message, {"subject": "s", "body": "b"}, credentials=None)


def test_after_the_one_click_post_the_router_answers_409_for_that_email_only(
    router, processor_for, context_message, start_ingress, initiate_request_example
):
    processor = processor_for(Channel.EMAIL)
    first_message_sent(processor, context_message(Channel.EMAIL))
    _, token = _link(processor.provider_outbox[-1]["headers"])
    request = initiate_request_example
    request["request_data"]["channel_method"] = Channel.EMAIL.value
    assert request["recipient_data"]["recipient_email"] == PERSON_ADDRESS[Channel.EMAIL]

    assert start_ingress().unsubscribe(token).status == 200
    refused = router.post(request)
    request["request_data"]["channel_method"] = Channel.SMS.value
    request["request_data"]["request_id"] = "5f0c7a3e-2b1d-4e8f-9a6b-3c2d1e0f9a8b"
    by_sms = router.post(request)

    assert (refused.status, refused.body["error_code"]) == (409, "RECIPIENT_OPTED_OUT")
    assert router.messages(Channel.EMAIL) == []
    assert by_sms.status == 200, by_sms.body  # an email unsubscribe does not stop texts
