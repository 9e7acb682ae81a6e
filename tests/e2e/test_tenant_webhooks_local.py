"""Issue 13 on the local stack, as a tenant sees it: the read routes answer through the local
gateway with the tenant's key, and events still being retried when the stack stops reach the
tenant after the restart (the order, signatures and 500-retries of a live thread are
tests/e2e/test_tenant_api_local.py's).

The whole path is real: the gateway and router, the channel processor and the sandboxes' status
callbacks, the conversations table's stream (local/stream_poller.py), the tenant-events function,
the FIFO queue, the webhook sender and an HTTP receiver on 127.0.0.1 (the project's webhook set
with ``python -m local.tenant_webhook`` from a fresh shell)."""

from __future__ import annotations

import subprocess
import sys
from urllib.parse import quote

import pytest
import requests
from standardwebhooks.webhooks import Webhook

from tests.e2e.conftest import ROOT, start_local_stack, stop_local_stack
from tests.e2e.test_delivery_status_local import start
from tests.e2e.test_local_stack import wait_for
from tests.fixtures.webhook_receiver import Received, Reply, WebhookReceiver

pytestmark = pytest.mark.e2e

DELIVERY_SECONDS = 60
PATH = "/events"


def _tool(stack, arguments: str) -> subprocess.CompletedProcess[str]:
    env_file = stack.state_dir / "env"
    script = f". {env_file}; {sys.executable} -m local.tenant_webhook --env-file {env_file} {arguments}"
    fresh = {"PATH": "/usr/bin:/bin", "HOME": str(stack.state_dir / "no-home")}
    return subprocess.run(["bash", "-c", script], cwd=ROOT, env=fresh, capture_output=True, text=True, timeout=120)


def _secret(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stderr
    (line,) = [line for line in done.stdout.splitlines() if line.startswith("signing secret")]
    return line.rsplit(" ", 1)[-1]


def _of(receiver: WebhookReceiver, conversation_id: str) -> list[Received]:
    return [r for r in receiver.requests(PATH) if r.json()["data"]["conversation_id"] == conversation_id]


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
