"""What an operator sees on ``make local`` with ``comms … --env local``: a request sent through the
API, then the person's answer and the engine's reply, on ``comms conversations show``; a project's
conversations on ``list``; an operator's suppression refusing the next request until it is lifted.
Each command runs as a fresh ``python -m tools.comms`` that reads only the stack's env file."""

from __future__ import annotations

import subprocess

import pytest

from tests.e2e.conftest import ROOT
from tests.e2e.test_delivery_status_local import record_when, start
from tests.e2e.test_local_stack import example_request
from tests.e2e.test_replies_local import answered, person_replies
from tests.fixtures.comms import CommsResult, run_comms
from tests.fixtures.conversation_output import shown_fields, thread_heads
from tools.comms.target import LOCAL_ENV_FILE_VARIABLE

pytestmark = pytest.mark.e2e


def _comms(stack, *arguments: str) -> CommsResult:
    return run_comms(stack.state_dir / "env", *arguments, subprocess_run=True)


def test_a_sent_request_and_the_reply_to_the_person_appear_on_conversations_show(local_stack):
    conversation_id = start(local_stack, "sms")
    sent = record_when(local_stack, "sms", conversation_id, conversation_status="initial_message_sent")

    first = _comms(local_stack, "conversations", "show", conversation_id)

    assert first.code == 0, first.stderr
    fields = shown_fields(first)
    assert (fields["status"], fields["recipient"]) == ("initial_message_sent", "+44********23")
    [(direction, _, provider_id)] = thread_heads(first)
    assert (direction, provider_id) == ("outbound", sent["provider_message_id"])

    person_replies(local_stack, conversation_id, "sms", "Is the role full time?")
    record = answered(local_stack, "sms", conversation_id, through=1)
    thread = _comms(local_stack, "conversations", "show", conversation_id, "--json", "--full")

    assert thread.code == 0, thread.stderr
    view = thread.json()
    assert view["conversation_status"] == "reply_sent" and view["answered_through"] == 1
    assert [m["direction"] for m in view["messages"]] == ["outbound", "inbound", "outbound"]
    assert view["messages"][1]["content"] == "Is the role full time?"
    assert [m["provider_message_id"] for m in view["messages"]] == [m["message_id"] for m in record["messages"]]
    for done in (first, thread):
        assert "7700900123" not in done.stdout

    # `make show WHAT=conversation` is the same view, from a fresh shell (the id's '#' survives make).
    fresh = {"PATH": "/usr/bin:/bin", "HOME": str(local_stack.state_dir)}
    made = subprocess.run(
        ["make", "-s", "show", "WHAT=conversation", f"CONVERSATION={conversation_id}"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**fresh, LOCAL_ENV_FILE_VARIABLE: str(local_stack.state_dir / "env")},
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert shown_fields(CommsResult(0, made.stdout, ""))["conversation"] == conversation_id
    assert "Thread (3 messages, as recorded):" in made.stdout and "      Is the role full time?" in made.stdout


def test_the_projects_conversations_are_listed_newest_first(local_stack):
    older, newer = start(local_stack, "email"), start(local_stack, "whatsapp")
    record_when(local_stack, "whatsapp", newer, conversation_status="initial_message_sent")
    project = ("--company-id", local_stack.env["COMPANY_ID"], "--project-id", local_stack.env["PROJECT_ID"])

    done = _comms(local_stack, "conversations", "list", *project, "--limit", "100", "--json")

    assert done.code == 0, done.stderr
    listed = [row["conversation_id"] for row in done.json()]
    assert listed.index(newer) < listed.index(older)
    assert "alex.morgan" not in done.stdout and "7700900123" not in done.stdout


def test_an_operators_suppression_refuses_the_next_request_and_lifting_it_lets_it_through(local_stack):
    # Its own number, so the session's other tests never meet this entry.
    number = "+447700900777"
    address = ("--company-id", local_stack.env["COMPANY_ID"], "--channel", "sms", "--address", number)
    body = example_request("sms")
    body["recipient_data"]["recipient_tel"] = number

    added = _comms(local_stack, "suppressions", "add", *address, "--by", "e2e")
    refused = local_stack.post(body)
    listed = _comms(local_stack, "suppressions", "list", "--company-id", local_stack.env["COMPANY_ID"])
    removed = _comms(local_stack, "suppressions", "remove", *address, "--by", "e2e", "--reason", "asked to rejoin")
    accepted = local_stack.post(body)

    assert added.code == 0, added.stderr
    assert (refused.status_code, refused.json()["error_code"]) == (409, "RECIPIENT_OPTED_OUT")
    assert "+44********77" in listed.stdout and "7700900777" not in listed.stdout
    assert removed.code == 0, removed.stderr
    assert accepted.status_code == 200, accepted.text
