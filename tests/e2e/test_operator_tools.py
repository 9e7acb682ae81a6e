"""The operator tools as the README runs them on ``make local``: a fresh shell that sources
``.local/env`` and nothing else (no AWS_DEFAULT_REGION of the caller, no ~/.aws)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta

import pytest

from tests.e2e.conftest import ROOT
from tests.e2e.test_local_stack import _aws, conversation, example_request, wait_for

pytestmark = pytest.mark.e2e


def _in_a_fresh_shell(stack, command: str) -> subprocess.CompletedProcess[str]:
    script = f". {stack.state_dir / 'env'}; {command}"
    fresh = {"PATH": "/usr/bin:/bin", "HOME": str(stack.state_dir / "no-home")}
    return subprocess.run(["bash", "-c", script], cwd=ROOT, env=fresh, capture_output=True, text=True, timeout=120)


def test_redrive_moves_local_dead_letters_back_from_a_fresh_shell(local_stack):
    sqs = _aws(local_stack, "sqs")
    dlq = sqs.get_queue_url(QueueName=f"ai-multi-comms-whatsapp-dlq-{local_stack.env['ENVIRONMENT']}")["QueueUrl"]
    sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps({"not": "a request"}))

    done = _in_a_fresh_shell(local_stack, f"{sys.executable} -m tools.redrive --channel whatsapp --env dev")

    assert done.returncode == 0, done.stderr
    assert "moved 1 message(s)" in done.stdout


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

    dry = _in_a_fresh_shell(local_stack, f"{sys.executable} -m tools.erase_person --env dev --address {number}")
    erased = _in_a_fresh_shell(
        local_stack, f"{sys.executable} -m tools.erase_person --env dev --address {number} --yes --json"
    )

    assert dry.returncode == 0, dry.stderr
    assert "would erase" in dry.stdout and "+44********88" in dry.stdout and number[1:] not in dry.stdout
    assert erased.returncode == 0, erased.stderr
    assert [c["conversation_id"] for c in json.loads(erased.stdout)["conversations"]] == [conversation_id]
    assert conversation(local_stack, number, conversation_id) is None
