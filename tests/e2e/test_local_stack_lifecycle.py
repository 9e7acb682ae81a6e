"""``make local`` as a newcomer meets it: the printed curl works, Ctrl-C leaves nothing behind,
and a restart keeps what the developer had (``make local-reset`` forgets it)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest
import requests

from tests.e2e.conftest import ROOT, start_local_stack, stop_local_stack
from tests.e2e.test_local_stack import ADDRESS_OF, conversation, example_request, sandbox_outbox, wait_for

pytestmark = pytest.mark.e2e


def _printed_curl(log: str) -> str:
    lines = log.split("Try it:\n", 1)[1].splitlines()
    command = []
    for line in lines:
        if not line.strip():
            break
        command.append(line)
    return "\n".join(command)


def test_printed_curl_succeeds_and_ctrl_c_stops_every_process(tmp_path):
    stack = start_local_stack(tmp_path)
    try:
        env_names = set(stack.env)
        assert {"API_URL", "API_KEY", "AWS_ENDPOINT_URL", "AWS_REGION", "COMPANY_ID", "PROJECT_ID"} <= env_names

        deadline = time.monotonic() + 30
        while "Try it:" not in (log := (tmp_path / "stack.log").read_text()) and time.monotonic() < deadline:
            time.sleep(0.1)
        curl = _printed_curl(log)
        answer = subprocess.run(["bash", "-c", curl], cwd=ROOT, capture_output=True, text=True, timeout=30, check=True)
        assert json.loads(answer.stdout)["status"] == "success"
        read_curl = log.split("Read it through the API:", 1)[1].splitlines()[0]
        listing = subprocess.run(
            ["bash", "-c", read_curl], cwd=ROOT, capture_output=True, text=True, timeout=30, check=True
        )
        assert json.loads(answer.stdout)["conversation_id"] in json.dumps(json.loads(listing.stdout)["conversations"])
    finally:
        stack.process.send_signal(signal.SIGINT)
        exit_code = stack.process.wait(timeout=60)

    assert exit_code == 0
    assert "Stopped." in (tmp_path / "stack.log").read_text()
    # The stack ran in its own session: no process of that group may survive it.
    time.sleep(0.5)
    with pytest.raises(ProcessLookupError):
        os.killpg(stack.process.pid, 0)


def _sent(stack, channel: str, conversation_id: str) -> dict:
    return wait_for(
        lambda: (
            (r := conversation(stack, ADDRESS_OF[channel], conversation_id))
            and r["conversation_status"] == "initial_message_sent"
            and r
        )
    )


def _in_flight_at_the_ai(stack) -> bool:
    response = requests.get(f"{stack.env['OPENAI_SANDBOX_URL']}/_sandbox/requests", timeout=10)
    return bool(response.json())


def test_a_restart_keeps_keys_conversations_and_the_message_in_flight_and_reset_starts_clean(tmp_path):
    first = start_local_stack(tmp_path)
    try:
        done = first.post(example_request("sms"))
        assert done.status_code == 200, done.text
        done_id = done.json()["conversation_id"]
        sent = _sent(first, "sms", done_id)
        # The next request's AI call hangs: it is still in flight when the stack stops.
        requests.post(f"{first.env['OPENAI_SANDBOX_URL']}/_sandbox/reset", timeout=10).raise_for_status()
        requests.post(f"{first.env['OPENAI_SANDBOX_URL']}/_sandbox/latency", json={"seconds": 120}, timeout=10)
        pending = first.post(example_request("email"))
        assert pending.status_code == 200, pending.text
        pending_id = pending.json()["conversation_id"]
        wait_for(lambda: _in_flight_at_the_ai(first))
    finally:
        assert stop_local_stack(first) == 0
    stopped = (tmp_path / "stack.log").read_text()
    assert f"Saved to {tmp_path / 'state' / 'snapshot.json'}" in stopped and "make local-reset" in stopped

    second = start_local_stack(tmp_path)
    try:
        assert (second.env["API_KEY"], second.env["API_KEY_ID"]) == (first.env["API_KEY"], first.env["API_KEY_ID"])
        banner = (tmp_path / "stack.log").read_text()
        assert "State     restored (items 1 company-data," in banner and "make local-reset" in banner
        assert conversation(second, ADDRESS_OF["sms"], done_id)["provider_message_id"] == sent["provider_message_id"]
        assert any(m["sid"] == sent["provider_message_id"] for m in sandbox_outbox(second, "twilio"))
        resent = _sent(second, "email", pending_id)  # redelivered after the restart, sent once
        assert [m for m in sandbox_outbox(second, "sendgrid") if m.get("message_id") == resent["provider_message_id"]]
        again = second.post(example_request("sms"), key=first.env["API_KEY"])
        assert again.status_code == 200, again.text
    finally:
        assert stop_local_stack(second) == 0

    clean = start_local_stack(tmp_path, "--reset")
    try:
        assert clean.env["API_KEY"] != first.env["API_KEY"]
        assert clean.post(example_request("sms"), key=first.env["API_KEY"]).status_code == 403
        assert conversation(clean, ADDRESS_OF["sms"], done_id) is None
        assert sandbox_outbox(clean, "twilio") == []
    finally:
        stop_local_stack(clean)
