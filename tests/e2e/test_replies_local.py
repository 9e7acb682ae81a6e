"""Issue 11 on the local stack: the person answers and the AI carries the conversation on.

The sandboxes play the person (``POST /_sandbox/person/reply``: a signed Twilio inbound webhook, or
an Inbound Parse form with the project's token) through the real gateway, the webhook ingress, the
events processor (match, record, queue the reply job) and the channel processor (the turn: OpenAI
sandbox, send, record). HTTP in; records, the sandbox outbox and the functions' metrics out.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import time
import uuid
from typing import Any

import pytest
import requests

from shared.processing import metric_names
from shared.webhooks.routes import SENDGRID_INBOUND, TWILIO_INBOUND
from tests.e2e.conftest import ROOT, start_local_stack, stop_local_stack
from tests.e2e.test_delivery_status_local import (
    post_twilio_status,
    record_when,
    start,
    tenant_twilio_token,
)
from tests.e2e.test_local_stack import ADDRESS_OF, PROVIDER_OF, _aws, conversation, example_request, wait_for
from tests.fixtures.comms import run_comms
from tests.fixtures.conversation_output import shown_fields, thread_heads
from tests.fixtures.emf import emitted_metrics

pytestmark = pytest.mark.e2e

REPLY_DOMAIN = "replies.cucumber-recruitment.example"
COMPANY_SENDER = {"whatsapp": "+447700900001", "sms": "+447700900002", "email": "talent@cucumber-recruitment.example"}
# A second project of the same company, with its own numbers and address (seeded by the tests).
SECOND_SENDER = {"whatsapp": "+447700900011", "sms": "+447700900012", "email": "careers@cucumber-recruitment.example"}
CHANNELS = ["whatsapp", "sms", "email"]


# -- the person, the outbox, the queues --------------------------------------------------------------


def person_replies(stack, conversation_id: str, channel: str, text: str, **options: Any) -> dict[str, Any]:
    """The person answers the conversation's last message, through the provider's sandbox."""
    url = f"{stack.env[f'{PROVIDER_OF[channel].upper()}_SANDBOX_URL']}/_sandbox/person/reply"
    answer = requests.post(url, json={"conversation_id": conversation_id, "text": text, **options}, timeout=60)
    assert answer.status_code == 200, answer.text
    posted = answer.json()
    assert {post["http_status"] for post in posted["posts"]} == {200}, posted
    return posted


def outbox(stack, channel: str) -> list[dict[str, Any]]:
    answer = requests.get(f"{stack.env[f'{PROVIDER_OF[channel].upper()}_SANDBOX_URL']}/_sandbox/outbox", timeout=10)
    answer.raise_for_status()
    return answer.json()


def sent_to(stack, channel: str, person: str, sender: str) -> list[dict[str, Any]]:
    """What the engine sent the person from ``sender`` on ``channel``, oldest first."""
    if channel == "email":
        return [m for m in outbox(stack, channel) if person in m["to"] and m["from"] == sender]
    prefix = "whatsapp:" if channel == "whatsapp" else ""
    return [m for m in outbox(stack, channel) if (m["to"], m["from"]) == (prefix + person, prefix + sender)]


def by_id(stack, channel: str, message_id: str) -> dict[str, Any]:
    key = "message_id" if channel == "email" else "sid"
    [found] = [m for m in outbox(stack, channel) if m[key] == message_id]
    return found


def settled(stack) -> bool:
    """Nothing queued, delayed or in flight on the events queue and the channel queues: every
    webhook was applied and every reply job ran."""
    sqs = _aws(stack, "sqs")
    names = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ]
    for queue in ("events", *CHANNELS):
        url = sqs.get_queue_url(QueueName=f"ai-multi-comms-{queue}-queue-{stack.env['ENVIRONMENT']}")["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
        if any(attributes[name] != "0" for name in names):
            return False
    return True


def wait_settled(stack) -> None:
    # Twice in a row: a job queued by the events processor between two looks is not missed.
    wait_for(lambda: settled(stack) and (time.sleep(0.5) or settled(stack)))


def answered(stack, channel: str, conversation_id: str, through: int, status: str = "reply_sent") -> dict[str, Any]:
    return record_when(stack, channel, conversation_id, conversation_status=status, answered_through=through)


def events_metrics(stack) -> list[str]:
    return emitted_metrics((stack.state_dir / "logs" / "events-processor.log").read_text())


# -- a second project of the same company --------------------------------------------------------------


def put_second_project(stack, project_id: str, **changes: Any) -> None:
    """What an operator does: another project of the seeded company, with its own senders and its
    own provider secrets (the same sandbox accounts), the same API key."""
    env = stack.env["ENVIRONMENT"]
    table = _aws(stack, "dynamodb", resource=True).Table(f"ai-multi-comms-company-data-{env}")
    record = table.get_item(Key={"company_id": stack.env["COMPANY_ID"], "project_id": stack.env["PROJECT_ID"]})["Item"]
    record = copy.deepcopy(record) | {"project_id": project_id, "project_name": "Second", **changes}
    manager = _aws(stack, "secretsmanager")
    numbers = {"whatsapp": "company_whatsapp_number", "sms": "company_sms_number", "email": "company_email"}
    for channel, config in record["channel_config"].items():
        provider = PROVIDER_OF[channel]
        name = f"ai-multi-comms/{channel}-credentials/{stack.env['COMPANY_ID']}/{project_id}/{provider}-{env}"
        source = config[f"{channel}_credentials_id"]
        config[f"{channel}_credentials_id"] = name
        config[numbers[channel]] = SECOND_SENDER[channel]
        value = manager.get_secret_value(SecretId=source)["SecretString"]
        try:
            manager.create_secret(Name=name, SecretString=value)
        except manager.exceptions.ResourceExistsException:
            manager.put_secret_value(SecretId=name, SecretString=value)
    table.put_item(Item=record)


def start_in(stack, channel: str, project_id: str) -> str:
    body = example_request(channel)
    body["company_data"]["project_id"] = project_id
    response = stack.post(body)
    assert response.status_code == 200, response.text
    return response.json()["conversation_id"]


# -- each channel ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("channel", CHANNELS)
def test_the_persons_reply_is_answered_in_thread_to_the_right_person_from_the_right_sender(local_stack, channel):
    conversation_id = start(local_stack, channel)
    first = record_when(local_stack, channel, conversation_id, conversation_status="initial_message_sent")
    first_sent = by_id(local_stack, channel, first["provider_message_id"])

    posted = person_replies(local_stack, conversation_id, channel, "Yes, I have a full UK licence.")

    record = answered(local_stack, channel, conversation_id, through=1)
    reply = by_id(local_stack, channel, record["provider_message_id"])
    person, sender = ADDRESS_OF[channel], COMPANY_SENDER[channel]
    assert sent_to(local_stack, channel, person, sender)[-2:] == [first_sent, reply]
    if channel == "email":
        token = record["gsi_reply_token"]
        assert reply["reply_to"] == first_sent["reply_to"] == f"reply+{token}@{REPLY_DOMAIN}"
        assert reply["subject"] == f"Re: {first_sent['subject']}"
        headers = {name.lower(): value for name, value in reply["headers"].items()}
        assert headers["in-reply-to"] == posted["message_id"]
        assert posted["message_id"] in headers["references"]
        assert 'you wrote: "Yes, I have a full UK licence."' in reply["text"]
    else:
        assert 'you wrote: "Yes, I have a full UK licence."' in reply["body"]
        assert reply["content_sid"] is None  # free-form: the person wrote within 24 hours
    # The history, in the order it happened: the first message, the person's, the answer (with its
    # tokens). Not by timestamp: an email's is its Date header, whole seconds on the person's clock.
    messages = record["messages"]
    assert [m["role"] for m in messages] == ["assistant", "user", "assistant"]
    theirs, ours = messages[1], messages[2]
    assert (theirs["message_id"], theirs["inbound_seq"]) == (posted["message_id"], 1)
    assert theirs["content"] == "Yes, I have a full UK licence."  # the quoted mail below it is not kept
    assert ours["message_id"] == record["provider_message_id"] and ours["answers_through"] == 1
    assert ours["total_tokens"] > 0 and ours["total_tokens"] == ours["prompt_tokens"] + ours["completion_tokens"]
    assert (record["inbound_count"], record["ai_turns"]) == (1, 1)


@pytest.mark.parametrize("channel", CHANNELS)
def test_the_same_inbound_delivered_three_times_gets_one_answer(local_stack, channel):
    conversation_id = start(local_stack, channel)
    record_when(local_stack, channel, conversation_id, conversation_status="initial_message_sent")

    question = f"Is the job full time? (asked on {channel})"
    posted = person_replies(local_stack, conversation_id, channel, question, times=3)

    assert len(posted["posts"]) == 3
    answered(local_stack, channel, conversation_id, through=1)
    wait_settled(local_stack)
    record = conversation(local_stack, ADDRESS_OF[channel], conversation_id)
    assert [m["role"] for m in record["messages"]] == ["assistant", "user", "assistant"]
    assert record["inbound_count"] == 1 and record["inbound_message_ids"] == [posted["message_id"]]
    replies = [m for m in record["messages"] if m.get("answers_through") is not None]
    assert len(replies) == 1
    sent = sent_to(local_stack, channel, ADDRESS_OF[channel], COMPANY_SENDER[channel])
    answers = [m for m in sent if question in json.dumps(m, ensure_ascii=False)]
    assert len(answers) == 1


@pytest.mark.parametrize("channel", ["whatsapp", "email"])
def test_a_photo_from_the_person_is_noted_in_the_thread_never_fetched(local_stack, channel):
    conversation_id = start(local_stack, channel)
    record_when(local_stack, channel, conversation_id, conversation_status="initial_message_sent")

    person_replies(local_stack, conversation_id, channel, "My licence", media=["image/jpeg"])

    record = answered(local_stack, channel, conversation_id, through=1)
    theirs = record["messages"][1]
    assert (theirs["content"], theirs["media_count"], theirs["media_types"]) == ("My licence", 1, ["image/jpeg"])


def post_as_stranger(stack, channel: str, stranger: str) -> requests.Response:
    """A message from someone the project never wrote to, posted as the provider would: signed with
    the tenant's auth token (Twilio), or with the project's Inbound Parse token (SendGrid)."""
    company, project = stack.env["COMPANY_ID"], stack.env["PROJECT_ID"]
    if channel == "email":
        secret_id = f"ai-multi-comms/email-credentials/{company}/{project}/sendgrid-{stack.env['ENVIRONMENT']}"
        secret = json.loads(_aws(stack, "secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"])
        fields = {
            "from": f"A Stranger <{stranger}>", "to": COMPANY_SENDER["email"], "subject": "Hello",
            "text": "Who is this?", "envelope": json.dumps({"to": [COMPANY_SENDER["email"]], "from": stranger}),
            "headers": f"Message-ID: <stranger-{uuid.uuid4().hex}@example.net>\nSubject: Hello\n",
        }  # fmt: skip
        url = f"{SENDGRID_INBOUND.url(stack.api_url, company, project)}?token={secret['sendgrid_inbound_token']}"
        return requests.post(url, files={name: (None, value) for name, value in fields.items()}, timeout=30)
    prefix = "whatsapp:" if channel == "whatsapp" else ""
    form = {
        "MessageSid": "SM" + uuid.uuid4().hex, "AccountSid": "AClocalsandbox", "From": prefix + stranger,
        "To": prefix + COMPANY_SENDER[channel], "Body": "Who is this?", "NumMedia": "0",
    }  # fmt: skip
    url = TWILIO_INBOUND.url(stack.api_url, company, project)
    return post_twilio_status(stack, url, form, tenant_twilio_token(stack, company, project))


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_reply_from_someone_unknown_gets_no_answer_and_is_counted_unmatched(local_stack, channel):
    stranger = "stranger@example.net" if channel == "email" else "+447700900999"
    unmatched_before = events_metrics(local_stack).count(metric_names.INBOUND_UNMATCHED)

    answer = post_as_stranger(local_stack, channel, stranger)

    assert answer.status_code == 200
    wait_for(lambda: events_metrics(local_stack).count(metric_names.INBOUND_UNMATCHED) > unmatched_before)
    wait_settled(local_stack)
    assert sent_to(local_stack, channel, stranger, COMPANY_SENDER[channel]) == []


@pytest.mark.parametrize("channel", CHANNELS)
def test_two_open_conversations_of_one_person_with_two_projects_each_get_their_own_replies(local_stack, channel):
    put_second_project(local_stack, "pi-demo-002")
    mine = start(local_stack, channel)
    theirs = start_in(local_stack, channel, "pi-demo-002")
    record_when(local_stack, channel, mine, conversation_status="initial_message_sent")
    record_when(local_stack, channel, theirs, conversation_status="initial_message_sent")

    person_replies(local_stack, mine, channel, "First project: yes, I drive.")
    person_replies(local_stack, theirs, channel, "Second project: no gap at all.")

    first, second = answered(local_stack, channel, mine, 1), answered(local_stack, channel, theirs, 1)
    person = ADDRESS_OF[channel]
    assert "First project" in first["messages"][1]["content"] and len(first["messages"]) == 3
    assert "Second project" in second["messages"][1]["content"] and len(second["messages"]) == 3
    to_first = by_id(local_stack, channel, first["provider_message_id"])
    to_second = by_id(local_stack, channel, second["provider_message_id"])
    assert to_first in sent_to(local_stack, channel, person, COMPANY_SENDER[channel])
    assert to_second in sent_to(local_stack, channel, person, SECOND_SENDER[channel])
    assert "First project" in json.dumps(to_first) and "Second project" in json.dumps(to_second)


@pytest.mark.parametrize("channel", CHANNELS)
def test_replies_off_records_the_persons_message_and_sends_nothing(local_stack, channel):
    put_second_project(local_stack, "pi-quiet-001", auto_queue_reply_message=False)
    conversation_id = start_in(local_stack, channel, "pi-quiet-001")
    record_when(local_stack, channel, conversation_id, conversation_status="initial_message_sent")
    before = sent_to(local_stack, channel, ADDRESS_OF[channel], SECOND_SENDER[channel])

    posted = person_replies(local_stack, conversation_id, channel, "Hello, anyone there?")

    record_when(local_stack, channel, conversation_id, inbound_count=1)
    wait_settled(local_stack)
    record = conversation(local_stack, ADDRESS_OF[channel], conversation_id)
    assert record["conversation_status"] == "reply_received" and record.get("answered_through", 0) == 0
    assert [m["role"] for m in record["messages"]] == ["assistant", "user"]
    assert record["messages"][1]["message_id"] == posted["message_id"]
    assert sent_to(local_stack, channel, ADDRESS_OF[channel], SECOND_SENDER[channel]) == before


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_needs_human_answer_stops_the_automatic_thread(local_stack, channel):
    conversation_id = start(local_stack, channel)
    record_when(local_stack, channel, conversation_id, conversation_status="initial_message_sent")

    person_replies(local_stack, conversation_id, channel, "Can I talk to a human, please?")

    handed = answered(local_stack, channel, conversation_id, through=1, status="needs_human")
    assert handed["handoff_reason"] == "ai_requested"
    handover = by_id(local_stack, channel, handed["provider_message_id"])
    assert "get in touch with you personally" in json.dumps(handover)
    sent_before = sent_to(local_stack, channel, ADDRESS_OF[channel], COMPANY_SENDER[channel])

    person_replies(local_stack, conversation_id, channel, "Hello? Still there?")

    record_when(local_stack, channel, conversation_id, inbound_count=2)
    wait_settled(local_stack)
    record = conversation(local_stack, ADDRESS_OF[channel], conversation_id)
    assert record["conversation_status"] == "needs_human" and record["answered_through"] == 1
    assert [m["role"] for m in record["messages"]] == ["assistant", "user", "assistant", "user"]
    assert sent_to(local_stack, channel, ADDRESS_OF[channel], COMPANY_SENDER[channel]) == sent_before


# -- what an operator does: make reply, make show ---------------------------------------------------------


def test_make_reply_answers_as_the_person_and_comms_shows_the_thread(local_stack):
    conversation_id = start(local_stack, "whatsapp")
    record_when(local_stack, "whatsapp", conversation_id, conversation_status="initial_message_sent")
    env_file = str(local_stack.state_dir / "env")

    replied = subprocess.run(
        [sys.executable, "-m", "local.reply", "--env-file", env_file],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "CONVERSATION": conversation_id, "TEXT": "It's a full licence", "TIMES": "2"},
    )  # fmt: skip

    assert replied.returncode == 0, replied.stderr
    assert "delivery 1: HTTP 200" in replied.stdout and "delivery 2: HTTP 200" in replied.stdout
    answered(local_stack, "whatsapp", conversation_id, through=1)
    # What `make show WHAT=conversation` runs.
    shown = run_comms(local_stack.state_dir / "env", "conversations", "show", conversation_id, "--full")
    assert shown.code == 0, shown.stderr
    fields = shown_fields(shown)
    assert (fields["status"], fields["answered through"]) == ("reply_sent", "1")
    assert [direction for direction, _, _ in thread_heads(shown)] == ["outbound", "inbound", "outbound"]
    assert "      It's a full licence" in shown.stdout and 'you wrote: "It\'s a full licence"' in shown.stdout


def test_the_env_file_names_the_inbound_urls_and_nothing_written_holds_the_inbound_token(local_stack):
    company, project = local_stack.env["COMPANY_ID"], local_stack.env["PROJECT_ID"]
    secret_id = f"ai-multi-comms/email-credentials/{company}/{project}/sendgrid-{local_stack.env['ENVIRONMENT']}"
    secret = json.loads(_aws(local_stack, "secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"])

    assert local_stack.env["TWILIO_INBOUND_URL"] == TWILIO_INBOUND.url(local_stack.api_url, company, project)
    assert local_stack.env["SENDGRID_INBOUND_URL"] == SENDGRID_INBOUND.url(local_stack.api_url, company, project)
    token = secret["sendgrid_inbound_token"]
    # Nor in any log, after an email was answered (its Inbound Parse URL carried the token).
    conversation_id = start(local_stack, "email")
    record_when(local_stack, "email", conversation_id, conversation_status="initial_message_sent")
    person_replies(local_stack, conversation_id, "email", "Noted, thanks.")
    answered(local_stack, "email", conversation_id, through=1)
    written = [local_stack.state_dir / "env", local_stack.state_dir / "stack.log"]
    written += sorted((local_stack.state_dir / "logs").glob("*.log"))
    assert [path.name for path in written if token in path.read_text()] == []


def test_after_a_restart_the_person_still_answers_an_earlier_email_in_its_thread(tmp_path):
    stack = start_local_stack(tmp_path)
    try:
        conversation_id = start(stack, "email")
        record_when(stack, "email", conversation_id, conversation_status="initial_message_sent")
    finally:
        assert stop_local_stack(stack) == 0

    stack = start_local_stack(tmp_path)  # restored, on new ports, with a new inbound token
    try:
        posted = person_replies(stack, conversation_id, "email", "Sorry for the delay: yes, I drive.")

        record = answered(stack, "email", conversation_id, through=1)
        reply = by_id(stack, "email", record["provider_message_id"])
        assert reply["reply_to"] == f"reply+{record['gsi_reply_token']}@{REPLY_DOMAIN}"
        assert {k.lower(): v for k, v in reply["headers"].items()}["in-reply-to"] == posted["message_id"]
    finally:
        stop_local_stack(stack)
