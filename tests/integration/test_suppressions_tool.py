"""``python -m tools.suppressions`` run as the README runs it (a subprocess with the local stack's
environment) against the emulator: its effect on the table, what it prints, and its refusals."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from shared.channels import Channel
from shared.consent.suppressions import SuppressionReason
from tests.conftest import REGION, ROOT
from tests.integration.suppression_setup import stored_items, suppression_list

COMPANY = "ci-demo-001"
TEL = "+447700900123"
EMAIL = "alex.morgan@example.com"
READABLE = ("7700900123", "alex.morgan", "example.com")


def _tool(aws, *arguments: str, user: str | None = "sam") -> subprocess.CompletedProcess[str]:
    environment = {
        "PATH": os.environ["PATH"],
        "HOME": str(ROOT / ".no-home"),
        "AWS_ENDPOINT_URL": aws.endpoint_url,
        "AWS_REGION": REGION,  # as . .local/env exports it
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_EC2_METADATA_DISABLED": "true",
        **({"USER": user} if user else {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "tools.suppressions", *arguments],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _assert_unreadable(done: subprocess.CompletedProcess[str]) -> None:
    printed = (done.stdout + done.stderr).lower()
    assert not any(readable in printed for readable in READABLE), printed


def test_add_suppresses_as_operator_and_the_router_check_sees_it(aws):
    done = _tool(aws, "add", "--env", "dev", "--company-id", COMPANY, "--channel", "sms", "--address", TEL)

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"suppressed: +44********23 on sms for {COMPANY} (operator, by sam)"
    _assert_unreadable(done)
    entry = suppression_list(aws).entry(COMPANY, Channel.SMS, TEL)
    assert entry is not None and entry.is_active
    assert (entry.reason, entry.source, entry.project_id) == (SuppressionReason.OPERATOR, "operator:sam", None)


def test_add_twice_keeps_the_first_entry_and_says_so(aws):
    suppression_list(aws).suppress(
        COMPANY, Channel.WHATSAPP, TEL, reason=SuppressionReason.STOP_KEYWORD, source="twilio_inbound:SM1"
    )

    done = _tool(
        aws, "add", "--company-id", COMPANY, "--channel", "whatsapp", "--address", f"whatsapp:{TEL}", "--by", "kim"
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("already suppressed: +44********23 on whatsapp")
    assert "reason stop_keyword" in done.stdout
    (item,) = stored_items(aws)
    assert (item["reason"], item["source"]) == ("stop_keyword", "twilio_inbound:SM1")


def test_remove_lifts_any_reason_with_the_written_reason_and_who(aws):
    suppression_list(aws).suppress(COMPANY, Channel.EMAIL, EMAIL, reason=SuppressionReason.SPAM_REPORT, source="e")

    done = _tool(
        aws, "remove", "--company-id", COMPANY, "--channel", "email", "--address", "Alex.Morgan@Example.com",
        "--reason", "asked  by phone to hear from us again",
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        f"lifted: a***@e***.com on email for {COMPANY} (by sam: asked by phone to hear from us again)"
    )
    entry = suppression_list(aws).entry(COMPANY, Channel.EMAIL, EMAIL)
    assert entry is not None and entry.state == "lifted"
    assert (entry.lifted_reason, entry.lifted_by) == ("asked by phone to hear from us again", "operator:sam")


def test_remove_of_an_address_not_suppressed_fails_and_writes_nothing(aws):
    done = _tool(aws, "remove", "--company-id", COMPANY, "--channel", "sms", "--address", TEL, "--reason", "why")

    assert done.returncode == 1
    assert "nothing lifted: +44********23 on sms" in done.stderr
    assert stored_items(aws) == []


def test_check_prints_the_state_reason_and_time_and_json_for_scripts(aws):
    suppressions = suppression_list(aws)
    suppressions.suppress(
        COMPANY, Channel.SMS, TEL, reason=SuppressionReason.HARD_BOUNCE, source="twilio_error:21211",
        at="2026-11-26T06:00:00.000Z",
    )  # fmt: skip

    text = _tool(aws, "check", "--company-id", COMPANY, "--channel", "sms", "--address", TEL)
    as_json = _tool(aws, "check", "--company-id", COMPANY, "--channel", "sms", "--address", TEL, "--json")
    other = _tool(aws, "check", "--company-id", COMPANY, "--channel", "email", "--address", EMAIL)

    assert text.returncode == as_json.returncode == other.returncode == 0
    assert text.stdout.strip() == (
        f"suppressed: +44********23 on sms for {COMPANY} since 2026-11-26T06:00:00.000Z "
        "(reason hard_bounce, source twilio_error:21211)"
    )
    answer = json.loads(as_json.stdout)
    assert answer["suppressed"] is True and answer["address_hint"] == "+44********23"
    assert answer["entry"]["reason"] == "hard_bounce" and answer["entry"]["time"] == "2026-11-26T06:00:00.000Z"
    assert "suppression_key" not in answer["entry"]
    assert other.stdout.strip() == f"not suppressed: a***@e***.com on email for {COMPANY} (no entry)"
    for done in (text, as_json, other):
        _assert_unreadable(done)


def test_list_shows_one_companys_entries_masked_as_a_table_and_as_json(aws):
    suppressions = suppression_list(aws)
    suppressions.suppress(COMPANY, Channel.SMS, TEL, reason=SuppressionReason.STOP_KEYWORD, source="twilio_inbound:S1")
    suppressions.suppress(
        COMPANY, Channel.EMAIL, EMAIL, reason=SuppressionReason.UNSUBSCRIBE_LINK, source="unsubscribe_link"
    )
    suppressions.lift(COMPANY, Channel.EMAIL, EMAIL, reasons=None, lifted_reason="asked", lifted_by="operator:sam")
    suppressions.suppress("ci-other-002", Channel.SMS, "+447700900999", reason=SuppressionReason.OPERATOR, source="o")

    table = _tool(aws, "list", "--company-id", COMPANY)
    as_json = _tool(aws, "list", "--company-id", COMPANY, "--json")

    assert table.returncode == as_json.returncode == 0, table.stderr
    header, *rows = table.stdout.strip().splitlines()
    assert header.split() == ["channel", "address_hint", "state", "reason", "source", "time"]
    assert [row.split()[:5] for row in rows] == [
        ["email", "a***@e***.com", "lifted", "unsubscribe_link", "unsubscribe_link"],
        ["sms", "+44********23", "active", "stop_keyword", "twilio_inbound:S1"],
    ]
    assert "+44********99" not in table.stdout  # another company's entry
    listed = json.loads(as_json.stdout)
    assert sorted((entry["channel"], entry["state"]) for entry in listed) == [("email", "lifted"), ("sms", "active")]
    assert all("suppression_key" not in entry for entry in listed)
    _assert_unreadable(table)
    _assert_unreadable(as_json)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["add", "--channel", "sms", "--address", "07700 900123"], "--address is not an E.164 number"),
        (["add", "--channel", "email", "--address", "alex.morgan@"], "--address is not an email address"),
        (["add", "--channel", "sms", "--address", TEL, "--by", "sam smith"], "--by must be a login name"),
        (["add", "--channel", "sms", "--address", TEL, "--project-id", "pi#1"], "--project-id is not an id"),
        (["remove", "--channel", "sms", "--address", TEL, "--reason", "  "], "--reason must say why"),
        (["add", "--channel", "sms", "--address", TEL, "--reason", "hard_bounce"], "invalid choice"),
        (["add", "--channel", "fax", "--address", TEL], "invalid choice"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message_and_nothing_written(aws, arguments, message):
    command, *rest = arguments
    done = _tool(aws, command, "--company-id", COMPANY, *rest)

    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    _assert_unreadable(done)
    assert stored_items(aws) == []


def test_without_a_name_to_record_add_is_refused(aws):
    done = _tool(aws, "add", "--company-id", COMPANY, "--channel", "sms", "--address", TEL, user=None)

    assert done.returncode == 2 and "pass --by NAME" in done.stderr
    assert stored_items(aws) == []


def test_an_environment_without_the_list_is_a_clear_error(aws):
    done = _tool(aws, "check", "--env", "prod", "--company-id", COMPANY, "--channel", "sms", "--address", TEL)

    assert done.returncode == 1
    assert done.stderr.startswith("error: the suppression list of prod could not be used: consent key")
    assert "Traceback" not in done.stderr
