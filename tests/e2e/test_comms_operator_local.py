"""The operator's commands against the running local stack, from a fresh process as an operator runs
them: dead letters (``comms dlq … --env local``, ``make redrive CHANNEL=… ENV=local`` from a fresh
shell) and a person's erasure (``comms people erase --env local``)."""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timedelta

import pytest
import requests

from tests.e2e.conftest import ROOT
from tests.e2e.test_local_stack import (
    ADDRESS_OF,
    _aws,
    conversation,
    example_request,
    sandbox_outbox,
    sandbox_script,
    wait_for,
)
from tests.fixtures.comms import run_comms
from tools.comms.target import LOCAL_ENV_FILE_VARIABLE

pytestmark = pytest.mark.e2e


def _dlq_url(stack, channel: str) -> str:
    return _aws(stack, "sqs").get_queue_url(QueueName=f"ai-multi-comms-{channel}-dlq-{stack.env['ENVIRONMENT']}")[
        "QueueUrl"
    ]


def _letters_of(stack, channel: str, conversation_id: str) -> list[dict]:
    messages = _aws(stack, "sqs").receive_message(
        QueueUrl=_dlq_url(stack, channel), MaxNumberOfMessages=10, VisibilityTimeout=0
    )
    return [m for m in messages.get("Messages", []) if conversation_id in m["Body"]]


def test_a_message_dead_lettered_by_an_outage_is_drained_and_sent_once_the_provider_is_back(local_stack):
    sandbox_script(local_stack, "twilio", [{"kind": "status", "code": 503}] * 30)
    try:
        response = local_stack.post(example_request("whatsapp"))
        assert response.status_code == 200, response.text
        conversation_id = response.json()["conversation_id"]
        # Three receives, each waiting out the send's settle window: ~60 s.
        wait_for(lambda: _letters_of(local_stack, "whatsapp", conversation_id), timeout=150, interval=0.5)
    finally:
        requests.post(f"{local_stack.env['TWILIO_SANDBOX_URL']}/_sandbox/reset", timeout=10)
    env_file = local_stack.state_dir / "env"

    shown = run_comms(env_file, "dlq", "show", "whatsapp", "--json", subprocess_run=True)
    drained = run_comms(env_file, "dlq", "redrive", "whatsapp", subprocess_run=True)

    assert shown.code == 0, shown.stderr
    assert any(letter["summary"].get("request_id") == conversation_id.split("#")[2] for letter in shown.json())
    assert ADDRESS_OF["whatsapp"][1:] not in shown.stdout
    assert drained.code == 0, drained.stderr
    assert "message(s) from ai-multi-comms-whatsapp-dlq-" in drained.stdout
    record = wait_for(
        lambda: (
            (r := conversation(local_stack, ADDRESS_OF["whatsapp"], conversation_id))
            and r["conversation_status"] == "initial_message_sent"
            and r
        )
    )
    assert record["provider_message_id"]
    assert _letters_of(local_stack, "whatsapp", conversation_id) == []
    # Resumed from the record: one message reached the person, the one the record names. The
    # sandbox's reset emptied its outbox, and every send before it failed: all it holds came after.
    [sent] = [m for m in sandbox_outbox(local_stack, "twilio") if m["to"].endswith(ADDRESS_OF["whatsapp"])]
    assert sent["sid"] == record["provider_message_id"]


def test_make_redrive_env_local_moves_a_dead_letter_from_a_fresh_shell(local_stack):
    sqs = _aws(local_stack, "sqs")
    sqs.send_message(QueueUrl=_dlq_url(local_stack, "sms"), MessageBody=json.dumps({"not": "a request"}))
    fresh = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(local_stack.state_dir / "no-home"),
        # What `make local` writes to .local/env; the test's stack keeps it in its own folder.
        LOCAL_ENV_FILE_VARIABLE: str(local_stack.state_dir / "env"),
    }

    done = subprocess.run(
        ["make", "--no-print-directory", "redrive", "CHANNEL=sms", "ENV=local"],
        cwd=ROOT,
        env=fresh,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr
    assert f"from ai-multi-comms-sms-dlq-{local_stack.env['ENVIRONMENT']} to ai-multi-comms-sms-queue-" in done.stdout
    assert "moved 0 message(s)" not in done.stdout


def test_a_local_record_expires_after_the_dev_retention_and_erasing_the_person_deletes_it(local_stack):
    # Its own number and email, so the session's other tests never meet this person.
    number, email = "+447700900888", "erase.me@example.com"
    body = example_request("sms")
    body["recipient_data"].update(recipient_tel=number, recipient_email=email)
    answer = local_stack.post(body)
    assert answer.status_code == 200, answer.text
    conversation_id = answer.json()["conversation_id"]
    record = wait_for(
        lambda: (
            (r := conversation(local_stack, number, conversation_id))
            and r["conversation_status"] == "initial_message_sent"
            and r
        )
    )
    # The local stack renders dev's retention: 30 days after the record was created.
    created = datetime.fromisoformat(record["created_at"].replace("Z", "+00:00"))
    assert int(record["expires_at"]) == int((created + timedelta(days=30)).timestamp())
    env_file = local_stack.state_dir / "env"

    dry = run_comms(env_file, "people", "erase", "--address", number, subprocess_run=True)
    erased = run_comms(env_file, "people", "erase", "--address", number, "--yes", "--json", subprocess_run=True)

    assert dry.code == 0, dry.stderr
    assert "would erase" in dry.stdout and "+44********88" in dry.stdout and number[1:] not in dry.stdout
    assert erased.code == 0, erased.stderr
    assert [c["conversation_id"] for c in erased.json()["conversations"]] == [conversation_id]
    assert conversation(local_stack, number, conversation_id) is None
