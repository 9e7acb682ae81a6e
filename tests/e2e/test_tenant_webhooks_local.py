"""Issue 13 on the local stack, as a tenant sees it: a receiver of its own gets the conversation's
events, signed (Standard Webhooks), in the order they happened, again after it answered 500; the
read routes answer through the local gateway with the tenant's key.

The whole path is real: the gateway and router, the channel processor and the sandboxes' status
callbacks, the conversations table's stream (local/stream_poller.py), the tenant-events function,
the FIFO queue, the webhook sender and an HTTP receiver on 127.0.0.1 (the project's webhook set
with ``python -m local.tenant_webhook`` from a fresh shell)."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import pytest
import requests
from standardwebhooks.webhooks import Webhook

from tests.e2e.conftest import ROOT, start_local_stack, stop_local_stack
from tests.e2e.test_delivery_status_local import record_when, start
from tests.e2e.test_local_stack import wait_for
from tests.e2e.test_replies_local import answered, person_replies, put_second_project, start_in
from tests.fixtures.webhook_receiver import Received, Reply, WebhookReceiver

pytestmark = pytest.mark.e2e

DELIVERY_SECONDS = 60
PATH = "/events"


def _tool(stack, arguments: str) -> subprocess.CompletedProcess[str]:
    env_file = stack.state_dir / "env"
    script = f". {env_file}; {sys.executable} -m local.tenant_webhook --env-file {env_file} {arguments}"
    fresh = {"PATH": "/usr/bin:/bin", "HOME": str(stack.state_dir / "no-home")}
    return subprocess.run(["bash", "-c", script], cwd=ROOT, env=fresh, capture_output=True, text=True, timeout=120)


@pytest.fixture
def hooked(local_stack) -> Iterator[tuple[str, WebhookReceiver, str]]:
    """A project of its own (the tenant-events function reads a project's webhook once a minute:
    the seeded one may be cached as having none) whose webhook is the receiver; the project, the
    receiver and the signing secret the tool printed."""
    project_id = f"pi-hooks-{uuid.uuid4().hex[:8]}"
    put_second_project(local_stack, project_id)
    with WebhookReceiver() as receiver:
        secret = _secret(_tool(local_stack, f"--url {receiver.url(PATH)} --project-id {project_id}"))
        try:
            yield project_id, receiver, secret
        finally:
            assert _tool(local_stack, f"--remove --project-id {project_id}").returncode == 0


def _secret(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stderr
    (line,) = [line for line in done.stdout.splitlines() if line.startswith("signing secret")]
    return line.rsplit(" ", 1)[-1]


def _of(receiver: WebhookReceiver, conversation_id: str) -> list[Received]:
    return [r for r in receiver.requests(PATH) if r.json()["data"]["conversation_id"] == conversation_id]


def test_a_conversations_events_reach_the_tenant_signed_in_order_and_again_after_a_500(local_stack, hooked):
    project_id, receiver, secret = hooked
    receiver.script(PATH, Reply(500), Reply(500))
    conversation_id = start_in(local_stack, "sms", project_id)
    record_when(local_stack, "sms", conversation_id, conversation_status="initial_message_sent")

    def accepted_types() -> list[str]:
        # Refused deliveries are the first two requests; each later one was answered 200.
        return [r.json()["type"] for r in _of(receiver, conversation_id)[2:]]

    wait_for(lambda: accepted_types()[:2] == ["conversation.sent", "conversation.delivered"], timeout=DELIVERY_SECONDS)
    person_replies(local_stack, conversation_id, "sms", "Yes, Tuesday works")
    answered(local_stack, "sms", conversation_id, through=1)
    wanted = ["conversation.sent", "conversation.delivered", "conversation.reply_received", "conversation.reply_sent"]
    wait_for(lambda: [t for t in accepted_types() if t in wanted] == wanted, timeout=DELIVERY_SECONDS)

    deliveries = _of(receiver, conversation_id)
    # The first event was refused twice and came again, with the same id each time.
    assert len({r.headers["webhook-id"] for r in deliveries[:3]}) == 1
    verifier = Webhook(secret)
    for delivery in deliveries:
        event = verifier.verify(delivery.body, delivery.headers)  # raises on a bad signature
        assert event["id"] == delivery.headers["webhook-id"]
        assert (event["data"]["company_id"], event["data"]["project_id"]) == (local_stack.env["COMPANY_ID"], project_id)
    accepted = [r.json() for r in deliveries[2:]]
    assert len({e["id"] for e in accepted}) == len(accepted)  # each accepted once
    times = [e["timestamp"] for e in accepted]
    assert times == sorted(times)


def test_the_read_routes_answer_through_the_gateway_with_the_tenant_key(local_stack):
    conversation_id = start(local_stack, "sms")
    headers = {"x-api-key": local_stack.api_key}
    by_id = f"{local_stack.api_url}/conversations/{quote(conversation_id, safe='')}"

    read = wait_for(lambda: (r := requests.get(by_id, headers=headers, timeout=30)).status_code == 200 and r)
    listing = requests.get(
        f"{local_stack.api_url}/conversations",
        params={"company_id": local_stack.env["COMPANY_ID"], "project_id": local_stack.env["PROJECT_ID"]},
        headers=headers,
        timeout=30,
    )
    without_key = requests.get(by_id, timeout=30)
    posted = requests.post(by_id, headers=headers, timeout=30)

    assert read.json()["conversation_id"] == conversation_id
    assert listing.status_code == 200, listing.text
    assert conversation_id in [item["conversation_id"] for item in listing.json()["conversations"]]
    assert (without_key.status_code, without_key.json()["error_code"]) == (403, "INVALID_API_KEY")
    assert (posted.status_code, posted.json()["error_code"]) == (405, "METHOD_NOT_ALLOWED")


def test_events_still_being_retried_at_the_stop_are_delivered_after_the_restart_with_their_ids(tmp_path):
    with WebhookReceiver() as down, WebhookReceiver() as back:
        down.script(PATH, *[Reply(503)] * 10_000)  # never accepts
        first = start_local_stack(tmp_path)
        try:
            secret = _secret(_tool(first, f"--url {down.url(PATH)}"))
            conversation_id = start(first, "sms")
            wait_for(
                lambda: (
                    {r.json()["type"] for r in _of(down, conversation_id)} == {"conversation.sent"}
                    and len(_of(down, conversation_id)) >= 2
                ),  # refused, and retried
                timeout=DELIVERY_SECONDS,
            )
        finally:
            assert stop_local_stack(first) == 0
        refused = {r.headers["webhook-id"] for r in _of(down, conversation_id)}

        second = start_local_stack(tmp_path)
        try:
            moved = _tool(second, f"--url {back.url(PATH)}")
            assert moved.returncode == 0 and "unchanged" in moved.stdout  # the restored secret is kept
            wanted = ["conversation.sent", "conversation.delivered"]
            wait_for(
                lambda: [r.json()["type"] for r in _of(back, conversation_id)][:2] == wanted, timeout=DELIVERY_SECONDS
            )
        finally:
            assert stop_local_stack(second) == 0

    delivered = _of(back, conversation_id)
    assert refused == {delivered[0].headers["webhook-id"]}  # the same event, the same id
    for delivery in delivered:
        Webhook(secret).verify(delivery.body, delivery.headers)
