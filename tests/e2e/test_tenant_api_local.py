"""Issue 13 on the local stack: the tenant's side of the API, as the tenant's system sees it.

HTTP in (``POST /initiate-conversation``, the person's answers through the sandboxes), and out: the
read API (``GET /conversations``, ``GET /conversations/{id}``) and the signed webhooks a real HTTP
receiver on 127.0.0.1 gets from the webhook sender (conversations stream → tenant-events function →
FIFO queue → sender). One stack for the module; each test has its own project, key, numbers and
addresses, so no test sees another's conversations or events.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any
from urllib.parse import quote

import pytest
import requests
from boto3.dynamodb.conditions import Key
from standardwebhooks import Webhook

from shared.models.conversation import project_key
from shared.models.tenant_api import ConversationPage, ConversationView
from shared.models.tenant_events import WebhookEvent, WebhookEventType, event_id
from shared.secret_names import webhook_secret_name
from stacks.names import WEBHOOKS_QUEUE, fifo_dlq_name
from tests.e2e.conftest import ROOT, RunningStack, start_local_stack, stop_local_stack
from tests.e2e.local_tenants import Project, add_project, as_json, initiate, read, secret_string
from tests.e2e.test_local_stack import _aws, conversation, wait_for
from tests.e2e.test_replies_local import person_replies
from tests.fixtures.webhook_receiver import Reply, WebhookReceiver

pytestmark = pytest.mark.e2e

HOOKS = "/hooks"
RELEASE = "/release"  # the test tells the receiver to answer a held request
HOLD_SECONDS = 4  # at most; below the sender's WEBHOOK_TIMEOUT_SECONDS (5)
WAIT = 60  # seconds: a pipeline turn on a loaded machine, or a retried webhook
# What never leaves the engine (shared/models/tenant_api.py): a body holding one of these keys
# anywhere, or a key starting with "gsi_", leaks internals.
FORBIDDEN_KEYS = {"last_error", "ai_response_id", "reply_response_id", "written_by", "version", "api_key_ids",
                  "credentials", "twilio_auth_token", "sendgrid_api_key", "ai_api_key", "secret_reference",
                  "primary_channel", "claim_token", "processing_token"}  # fmt: skip


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    running = start_local_stack(tmp_path_factory.mktemp("tenant-api-stack"))
    yield running
    if running.process.poll() is None:
        stop_local_stack(running)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as running:
        yield running


def senders(n: int) -> dict[str, str]:
    """A project's own senders (conversation ids are made of them; inbound is matched on them)."""
    return {"whatsapp": f"+4477009004{n:02d}", "sms": f"+4477009005{n:02d}", "email": f"team{n}@cucumber.example"}


def configure_webhook(stack, project: Project, url: str) -> str:
    """``python -m local.tenant_webhook`` from a fresh shell that sourced the stack's env file, as
    the README runs it; returns the signing secret it prints once."""
    command = (
        f"{sys.executable} -m local.tenant_webhook --env-file {stack.state_dir / 'env'} --url {url}"
        f" --company-id {project.company_id} --project-id {project.project_id}"
    )
    fresh = {"PATH": "/usr/bin:/bin", "HOME": str(stack.state_dir / "no-home")}
    done = subprocess.run(["bash", "-c", f". {stack.state_dir / 'env'}; {command}"], cwd=ROOT, env=fresh,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    [secret] = re.findall(r"whsec_[A-Za-z0-9+/=]+", done.stdout)
    return secret


def conversation_path(conversation_id: str) -> str:
    return f"/conversations/{quote(conversation_id, safe='')}"


def record_of(stack, address: str, conversation_id: str, **wanted: Any) -> dict[str, Any]:
    return wait_for(
        lambda: (
            (r := conversation(stack, address, conversation_id))
            and all(r.get(name) == value for name, value in wanted.items())
            and r
        ),
        timeout=WAIT,
    )


def events_of(receiver: WebhookReceiver, conversation_id: str) -> list[dict[str, Any]]:
    """The deliveries about one conversation, in arrival order: headers, parsed body, and the
    request's place among every delivery the receiver got."""
    found = []
    for place, delivery in enumerate(receiver.requests(HOOKS)):
        body = delivery.json()
        if body["data"]["conversation_id"] == conversation_id:
            found.append({"headers": delivery.headers, "raw": delivery.body, "body": body, "place": place})
    return found


def first_arrivals(deliveries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each event once (its first delivery): at least once means a tenant dedupes on webhook-id."""
    seen: dict[str, dict[str, Any]] = {}
    for delivery in deliveries:
        seen.setdefault(delivery["headers"]["webhook-id"], delivery)
    return list(seen.values())


def assert_nothing_internal(value: Any, path: str = "$") -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            assert key not in FORBIDDEN_KEYS and not key.startswith("gsi_"), f"{path}.{key} leaves the engine"
            assert_nothing_internal(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            assert_nothing_internal(item, f"{path}[{index}]")


# -- 1. the webhook receiver gets each event in order, signed ------------------------------------------


def test_the_tenants_receiver_gets_sent_delivered_reply_received_reply_sent_in_order_signed(stack, receiver):
    project = add_project(stack, "pi-hooks-001", senders(1))
    secret = configure_webhook(stack, project, receiver.url(HOOKS))
    person = "+447700900411"

    started = initiate(stack, project, "sms", person)
    assert started.status_code == 200, started.text
    conversation_id = started.json()["conversation_id"]
    first = record_of(stack, person, conversation_id, conversation_status="initial_message_sent",
                      delivery_status="delivered")  # fmt: skip
    # The person answers once the first message is delivered (and the tenant was told), so the
    # order of occurrence is the one the test names.
    wait_for(lambda: len(first_arrivals(events_of(receiver, conversation_id))) >= 2, timeout=WAIT)
    posted = person_replies(stack, conversation_id, "sms", "Yes, I have a full UK licence.")
    answered = record_of(stack, person, conversation_id, conversation_status="reply_sent", answered_through=1)
    reply_id = answered["provider_message_id"]
    record_of(stack, person, conversation_id, provider_message_id=reply_id, delivery_status="delivered")
    wait_for(lambda: len(first_arrivals(events_of(receiver, conversation_id))) >= 5, timeout=WAIT)

    deliveries = events_of(receiver, conversation_id)
    events = first_arrivals(deliveries)
    sent, delivered = WebhookEventType.SENT, WebhookEventType.DELIVERED
    assert [e["body"]["type"] for e in events] == [
        sent, delivered, WebhookEventType.REPLY_RECEIVED, WebhookEventType.REPLY_SENT, delivered,
    ]  # fmt: skip
    verifier = Webhook(secret)
    for delivery in deliveries:  # the receiver answered each 200
        verifier.verify(delivery["raw"], delivery["headers"])  # raises when the signature is wrong
        assert delivery["headers"]["webhook-id"] == delivery["body"]["id"]
        assert delivery["headers"]["content-type"].startswith("application/json")
        WebhookEvent.model_validate(delivery["body"])
        assert_nothing_internal(delivery["body"])
        assert secret not in delivery["raw"].decode()
    for again in deliveries:  # a redelivery is the same event, byte for byte
        assert again["raw"] == next(e for e in events if e["body"]["id"] == again["body"]["id"])["raw"]
    # Stable ids: what the tenant dedupes on is derived from the conversation and the occurrence.
    ids = [e["body"]["id"] for e in events]
    assert len(set(ids)) == 5
    assert ids[1:] == [
        event_id(conversation_id, delivered, first["provider_message_id"]),
        event_id(conversation_id, WebhookEventType.REPLY_RECEIVED, "in#1"),
        event_id(conversation_id, WebhookEventType.REPLY_SENT, f"out#{reply_id}"),
        event_id(conversation_id, delivered, reply_id),
    ]
    timestamps = [datetime.fromisoformat(e["body"]["timestamp"]) for e in events]
    assert timestamps == sorted(timestamps)  # the time each happened, in the order each arrived
    data = [e["body"]["data"] for e in events]
    assert {(d["company_id"], d["project_id"]) for d in data} == {(project.company_id, project.project_id)}
    assert data[0]["message"]["message_id"] == first["provider_message_id"]
    assert data[1]["delivery"] == {"message_id": first["provider_message_id"], "status": "delivered",
                                   "error_code": None}  # fmt: skip
    assert data[2]["message"]["direction"] == "inbound"
    assert (data[2]["message"]["message_id"], data[2]["message"]["content"]) == (
        posted["message_id"], "Yes, I have a full UK licence.",
    )  # fmt: skip
    assert (data[3]["message"]["message_id"], data[3]["message"]["answers_through"]) == (reply_id, 1)
    assert data[4]["delivery"]["message_id"] == reply_id
    # The record keeps where the secret is, never the secret.
    company = _aws(stack, "dynamodb", resource=True).Table(f"ai-multi-comms-company-data-{stack.env['ENVIRONMENT']}")
    item = company.get_item(Key={"company_id": project.company_id, "project_id": project.project_id})["Item"]
    assert item["webhook"] == {
        "url": receiver.url(HOOKS),
        "secret_reference": webhook_secret_name(project.company_id, project.project_id, stack.env["ENVIRONMENT"]),
    }
    assert secret in secret_string(stack, item["webhook"]["secret_reference"])
    assert secret not in json.dumps(item, default=str)

    # The same conversation read back: the history with the person's reply, the statuses, nothing internal.
    answer = read(stack, conversation_path(conversation_id), project.api_key)
    assert answer.status_code == 200, answer.text
    body = as_json(answer)
    assert_nothing_internal(body)
    view = ConversationView.model_validate(body)
    assert (view.conversation_id, view.company_id, view.project_id) == (
        conversation_id, project.company_id, project.project_id,
    )  # fmt: skip
    assert (view.conversation_status, view.delivery_status, view.task_complete) == ("reply_sent", "delivered", False)
    assert view.recipient.tel == person
    assert [(m.direction, m.message_id) for m in view.messages] == [
        ("outbound", first["provider_message_id"]), ("inbound", posted["message_id"]), ("outbound", reply_id),
    ]  # fmt: skip
    assert view.messages[1].content == "Yes, I have a full UK licence." and view.messages[1].inbound_seq == 1
    assert view.messages[2].answers_through == 1
    assert view.sent_at and view.last_inbound_at and view.last_reply_at and view.delivery_updated_at


# -- 2. a failing receiver gets the same event again, and nothing of that conversation overtakes it ----


def test_an_event_answered_500_twice_arrives_a_third_time_and_later_events_wait_for_it(stack):
    project = add_project(stack, "pi-retry-001", senders(2))
    person = "+447700900412"
    log = _aws(stack, "dynamodb", resource=True).Table(f"ai-multi-comms-webhook-events-{stack.env['ENVIRONMENT']}")
    with WebhookReceiver() as receiver:
        # 500 twice, then 200 for everything. Each 500 waits (less than the sender's timeout, so it
        # is a 500 and not a timeout) until the test saw the conversation's next event queued and
        # told the receiver on its "/release" path: that event is queued behind a failing one.
        held_500 = Reply(500, hold_until=RELEASE, delay=HOLD_SECONDS)
        receiver.script(HOOKS, held_500, held_500)
        configure_webhook(stack, project, receiver.url(HOOKS))
        started = initiate(stack, project, "sms", person)
        assert started.status_code == 200, started.text
        conversation_id = started.json()["conversation_id"]
        wait_for(lambda: len(logged(log, conversation_id)) >= 2, timeout=WAIT)  # sent and delivered queued
        requests.post(receiver.url(RELEASE), timeout=10)
        wait_for(lambda: len(first_arrivals(events_of(receiver, conversation_id))) >= 2, timeout=WAIT)
        deliveries = events_of(receiver, conversation_id)

    # Nothing else posts to this receiver: its first three requests were answered 500, 500, 200.
    first_three = deliveries[:3]
    assert [d["place"] for d in first_three] == [0, 1, 2]
    assert {d["body"]["type"] for d in first_three} == {WebhookEventType.SENT}
    assert len({d["headers"]["webhook-id"] for d in first_three}) == 1
    assert len({d["raw"] for d in first_three}) == 1
    # FIFO per conversation: the delivered event, queued while the sent one was failing, arrives
    # only after the sent one was accepted, and the sent one is not sent again.
    later = [d["body"]["type"] for d in deliveries[3:]]
    assert later[:1] == [WebhookEventType.DELIVERED]
    assert WebhookEventType.SENT not in later
    items = logged(log, conversation_id)
    [sent_item] = [i for i in items if i["webhook_id"] == first_three[0]["headers"]["webhook-id"]]
    [delivered_item] = [i for i in items if i["webhook_id"] == deliveries[3]["headers"]["webhook-id"]]
    assert (sent_item["delivery_state"], int(sent_item["attempts"]), int(sent_item["last_status"])) == (
        "delivered", 3, 200,
    )  # fmt: skip
    # The delivered event was queued before the sent one was accepted, and still came after it.
    assert datetime.fromisoformat(delivered_item["logged_at"]) < datetime.fromisoformat(sent_item["last_attempt_at"])
    assert delivered_item["delivery_state"] == "delivered"
    # A 5xx is retried, never dead-lettered.
    sqs = _aws(stack, "sqs")
    dlq = sqs.get_queue_url(QueueName=fifo_dlq_name(WEBHOOKS_QUEUE, stack.env["ENVIRONMENT"]))["QueueUrl"]
    assert sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"] == {
        "ApproximateNumberOfMessages": "0"
    }


def logged(log, conversation_id: str) -> list[dict[str, Any]]:
    """The webhook-events log of a conversation: each event queued for the tenant, oldest first."""
    return log.query(KeyConditionExpression=Key("conversation_id").eq(conversation_id), ConsistentRead=True)["Items"]


# -- 3. a key of another project reads nothing of this one ---------------------------------------------


def test_a_key_of_another_project_gets_403_on_every_read_and_every_page_and_lists_only_its_own(stack):
    first = Project(stack.env["COMPANY_ID"], stack.env["PROJECT_ID"], stack.env["API_KEY_ID"], stack.api_key)
    other = add_project(stack, "pi-other-001", senders(3))
    ours = [initiate(stack, first, "email", f"reader-{n}@example.com") for n in range(5)]
    theirs = [initiate(stack, other, "email", f"other-reader-{n}@example.com") for n in range(2)]
    assert {r.status_code for r in ours + theirs} == {200}, [r.text for r in ours + theirs]
    our_ids = [r.json()["conversation_id"] for r in ours]
    their_ids = [r.json()["conversation_id"] for r in theirs]
    for n, conversation_id in enumerate(our_ids):
        record_of(stack, f"reader-{n}@example.com", conversation_id, conversation_status="initial_message_sent")
    for n, conversation_id in enumerate(their_ids):
        record_of(stack, f"other-reader-{n}@example.com", conversation_id, conversation_status="initial_message_sent")

    by_id = read(stack, conversation_path(our_ids[0]), first.api_key)
    assert by_id.status_code == 200, by_id.text
    refused = read(stack, conversation_path(our_ids[0]), other.api_key)
    assert refused.status_code == 403, refused.text
    assert as_json(refused)["error_code"] == "API_KEY_NOT_AUTHORIZED"
    assert our_ids[0] not in refused.text and "reader-0@example.com" not in refused.text

    query = {"company_id": first.company_id, "project_id": first.project_id, "limit": "2"}
    listed, token, pages = [], None, 0
    while True:
        page_query = query | ({"next_token": token} if token else {})
        foreign = read(stack, "/conversations", other.api_key, **page_query)
        assert foreign.status_code == 403, foreign.text
        assert as_json(foreign)["error_code"] == "API_KEY_NOT_AUTHORIZED"
        page = read(stack, "/conversations", first.api_key, **page_query)
        assert page.status_code == 200, page.text
        body = ConversationPage.model_validate(as_json(page))
        listed += [c.conversation_id for c in body.conversations]
        pages += 1
        token = body.next_token
        if token is None:
            break
        # The cursor is bound to the caller: the other key cannot use it on its own listing either.
        own_query = {"company_id": other.company_id, "project_id": other.project_id, "limit": "2", "next_token": token}
        stolen = read(stack, "/conversations", other.api_key, **own_query)
        assert stolen.status_code == 400 and as_json(stolen)["error_code"] == "INVALID_NEXT_TOKEN", stolen.text
    assert pages >= 3
    assert sorted(listed) == sorted(our_ids)

    own = read(stack, "/conversations", other.api_key, company_id=other.company_id, project_id=other.project_id)
    assert own.status_code == 200, own.text
    own_ids = [c.conversation_id for c in ConversationPage.model_validate(as_json(own)).conversations]
    assert sorted(own_ids) == sorted(their_ids)
    assert not set(own_ids) & set(our_ids)


# -- 4. a listing of 250 conversations pages through all of them exactly once --------------------------

BULK = 250
PAGE = 40


def test_a_listing_of_250_conversations_pages_through_each_exactly_once_newest_first(stack):
    limits = {"requests_per_minute": 10_000, "requests_per_day": 100_000, "max_message_length": 1600}
    project = add_project(stack, "pi-bulk-001", senders(4), key_rate_limit=500, rate_limits=limits)
    # Concurrent, as a tenant's batch job sends; the project's own usage plan and limits are high.
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda n: initiate(stack, project, "email", f"bulk-{n}@example.com"), range(BULK)))
    assert {a.status_code for a in answers} == {200}, [a.text for a in answers if a.status_code != 200][:3]
    created = {a.json()["conversation_id"] for a in answers}
    assert len(created) == BULK
    index = _aws(stack, "dynamodb", resource=True).Table(f"ai-multi-comms-conversations-{stack.env['ENVIRONMENT']}")
    wait_for(lambda: _indexed(index, project) == BULK, timeout=3 * WAIT)

    query = {"company_id": project.company_id, "project_id": project.project_id, "limit": str(PAGE)}
    pages: list[ConversationPage] = []
    token = None
    while True:
        answer = read(stack, "/conversations", project.api_key, **(query | ({"next_token": token} if token else {})))
        assert answer.status_code == 200, answer.text
        pages.append(ConversationPage.model_validate(as_json(answer)))
        token = pages[-1].next_token
        if token is None:
            break
        assert len(pages) <= BULK // PAGE + 1, "the listing does not end"

    rows = [row for page in pages for row in page.conversations]
    assert [len(page.conversations) for page in pages] == [PAGE] * (BULK // PAGE) + [BULK % PAGE]
    ids = [row.conversation_id for row in rows]
    assert len(ids) == len(set(ids)) == BULK  # no duplicates
    assert set(ids) == created  # no gaps
    stamps = [row.created_at for row in rows]
    assert stamps == sorted(stamps, reverse=True)  # newest first
    assert {(row.company_id, row.project_id) for row in rows} == {(project.company_id, project.project_id)}


def _indexed(table, project: Project) -> int:
    """How many of the project's conversations the listing index holds (what the reader queries)."""
    count, start = 0, {}
    while True:
        found = table.query(IndexName="project-created-at-index", Select="COUNT",
                            KeyConditionExpression=Key("gsi_project_key").eq(
                                project_key(project.company_id, project.project_id)), **start)  # fmt: skip
        count += found["Count"]
        if "LastEvaluatedKey" not in found:
            return count
        start = {"ExclusiveStartKey": found["LastEvaluatedKey"]}
