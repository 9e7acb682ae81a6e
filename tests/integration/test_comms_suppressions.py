"""``comms suppressions …`` against the emulator (the ``--env local`` path): its effect on the
table, what it prints, and its refusals."""

from __future__ import annotations

import pytest

from shared.channels import Channel
from shared.consent.suppressions import SuppressionReason
from tests.conftest import REGION
from tests.fixtures.comms import local_env_file, run_comms
from tests.integration.suppression_setup import stored_items, suppression_list

COMPANY = "ci-demo-001"
TEL = "+447700900123"
EMAIL = "alex.morgan@example.com"
READABLE = ("7700900123", "alex.morgan", "example.com")


@pytest.fixture(autouse=True)
def operator(monkeypatch: pytest.MonkeyPatch) -> None:
    """The operator's login, which ``--by`` defaults to."""
    monkeypatch.setenv("USER", "sam")


def _assert_unreadable(done) -> None:
    printed = (done.stdout + done.stderr).lower()
    assert not any(readable in printed for readable in READABLE), printed


def test_add_suppresses_as_operator_and_the_router_check_sees_it(aws, comms):
    done = comms("suppressions", "add", "--company-id", COMPANY, "--channel", "sms", "--address", TEL)

    assert done.code == 0, done.stderr
    assert done.stdout.strip() == f"suppressed: +44********23 on sms for {COMPANY} (operator, by sam)"
    _assert_unreadable(done)
    entry = suppression_list(aws).entry(COMPANY, Channel.SMS, TEL)
    assert entry is not None and entry.is_active
    assert (entry.reason, entry.source, entry.project_id) == (SuppressionReason.OPERATOR, "operator:sam", None)


def test_add_from_a_fresh_shell_records_the_project_and_who(aws, comms):
    done = comms(
        "suppressions", "add", "--company-id", COMPANY, "--channel", "email", "--address", EMAIL,
        "--project-id", "pi-demo-001", "--by", "kim", "--json", subprocess_run=True,
    )  # fmt: skip

    assert done.code == 0, done.stderr
    answer = done.json()
    assert (answer["added"], answer["suppressed"], answer["address_hint"]) == (True, True, "a***@e***.com")
    assert answer["entry"]["source"] == "operator:kim" and "suppression_key" not in answer["entry"]
    _assert_unreadable(done)
    entry = suppression_list(aws).entry(COMPANY, Channel.EMAIL, EMAIL)
    assert entry is not None and (entry.project_id, entry.source) == ("pi-demo-001", "operator:kim")


def test_add_twice_keeps_the_first_entry_and_says_so(aws, comms):
    suppression_list(aws).suppress(
        COMPANY, Channel.WHATSAPP, TEL, reason=SuppressionReason.STOP_KEYWORD, source="twilio_inbound:SM1"
    )

    done = comms(
        "suppressions", "add", "--company-id", COMPANY, "--channel", "whatsapp", "--address", f"whatsapp:{TEL}",
        "--by", "kim",
    )  # fmt: skip

    assert done.code == 0, done.stderr
    assert done.stdout.startswith("already suppressed: +44********23 on whatsapp")
    assert "reason stop_keyword" in done.stdout
    (item,) = stored_items(aws)
    assert (item["reason"], item["source"]) == ("stop_keyword", "twilio_inbound:SM1")


def test_remove_lifts_any_reason_with_the_written_reason_and_who(aws, comms):
    suppression_list(aws).suppress(COMPANY, Channel.EMAIL, EMAIL, reason=SuppressionReason.SPAM_REPORT, source="e")

    done = comms(
        "suppressions", "remove", "--company-id", COMPANY, "--channel", "email", "--address", "Alex.Morgan@Example.com",
        "--reason", "asked  by phone to hear from us again",
    )  # fmt: skip

    assert done.code == 0, done.stderr
    assert done.stdout.strip() == (
        f"lifted: a***@e***.com on email for {COMPANY} (by sam: asked by phone to hear from us again)"
    )
    entry = suppression_list(aws).entry(COMPANY, Channel.EMAIL, EMAIL)
    assert entry is not None and entry.state == "lifted"
    assert (entry.lifted_reason, entry.lifted_by) == ("asked by phone to hear from us again", "operator:sam")


def test_remove_of_an_address_not_suppressed_fails_and_writes_nothing(aws, comms):
    done = comms(
        "suppressions", "remove", "--company-id", COMPANY, "--channel", "sms", "--address", TEL, "--reason", "why"
    )

    assert done.code == 1
    assert "nothing lifted: +44********23 on sms" in done.stderr
    assert stored_items(aws) == []


def test_check_prints_the_state_reason_and_time_and_json_for_scripts(aws, comms):
    suppressions = suppression_list(aws)
    suppressions.suppress(
        COMPANY, Channel.SMS, TEL, reason=SuppressionReason.HARD_BOUNCE, source="twilio_error:21211",
        at="2026-11-26T06:00:00.000Z",
    )  # fmt: skip
    sms = ("suppressions", "check", "--company-id", COMPANY, "--channel", "sms", "--address", TEL)

    text = comms(*sms)
    as_json = comms(*sms, "--json")
    other = comms("suppressions", "check", "--company-id", COMPANY, "--channel", "email", "--address", EMAIL)

    assert text.code == as_json.code == other.code == 0
    assert text.stdout.strip() == (
        f"suppressed: +44********23 on sms for {COMPANY} since 2026-11-26T06:00:00.000Z "
        "(reason hard_bounce, source twilio_error:21211)"
    )
    answer = as_json.json()
    assert answer["suppressed"] is True and answer["address_hint"] == "+44********23"
    assert answer["entry"]["reason"] == "hard_bounce" and answer["entry"]["time"] == "2026-11-26T06:00:00.000Z"
    assert "suppression_key" not in answer["entry"]
    assert other.stdout.strip() == f"not suppressed: a***@e***.com on email for {COMPANY} (no entry)"
    for done in (text, as_json, other):
        _assert_unreadable(done)


def test_check_of_a_lifted_entry_says_when_who_and_why(aws, comms):
    suppressions = suppression_list(aws)
    suppressions.suppress(COMPANY, Channel.SMS, TEL, reason=SuppressionReason.STOP_KEYWORD, source="s", at="T1")
    suppressions.lift(COMPANY, Channel.SMS, TEL, reasons=None, lifted_reason="asked", lifted_by="operator:kim", at="T2")

    done = comms("suppressions", "check", "--company-id", COMPANY, "--channel", "sms", "--address", TEL)

    assert done.code == 0
    assert done.stdout.strip() == (
        f"not suppressed: +44********23 on sms for {COMPANY}; lifted T2 by operator:kim (asked); "
        "was stop_keyword since T1"
    )


def test_list_shows_one_companys_entries_masked_as_a_table_and_as_json(aws, comms):
    suppressions = suppression_list(aws)
    suppressions.suppress(COMPANY, Channel.SMS, TEL, reason=SuppressionReason.STOP_KEYWORD, source="twilio_inbound:S1")
    suppressions.suppress(
        COMPANY, Channel.EMAIL, EMAIL, reason=SuppressionReason.UNSUBSCRIBE_LINK, source="unsubscribe_link"
    )
    suppressions.lift(COMPANY, Channel.EMAIL, EMAIL, reasons=None, lifted_reason="asked", lifted_by="operator:sam")
    suppressions.suppress("ci-other-002", Channel.SMS, "+447700900999", reason=SuppressionReason.OPERATOR, source="o")

    table = comms("suppressions", "list", "--company-id", COMPANY)
    as_json = comms("suppressions", "list", "--company-id", COMPANY, "--json")

    assert table.code == as_json.code == 0, table.stderr
    header, *rows = table.stdout.strip().splitlines()
    assert header.split() == ["CHANNEL", "ADDRESS_HINT", "STATE", "REASON", "SOURCE", "TIME"]
    assert [row.split()[:5] for row in rows] == [
        ["email", "a***@e***.com", "lifted", "unsubscribe_link", "unsubscribe_link"],
        ["sms", "+44********23", "active", "stop_keyword", "twilio_inbound:S1"],
    ]
    assert "+44********99" not in table.stdout  # another company's entry
    listed = as_json.json()
    assert sorted((entry["channel"], entry["state"]) for entry in listed) == [("email", "lifted"), ("sms", "active")]
    assert all("suppression_key" not in entry for entry in listed)
    _assert_unreadable(table)
    _assert_unreadable(as_json)


def test_a_company_without_entries_lists_none(aws, comms):
    done = comms("suppressions", "list", "--company-id", COMPANY)

    assert done.code == 0
    assert done.stdout.splitlines()[-1] == "(none)"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["add", "--channel", "sms", "--address", "07700 900123"], "--address is not an E.164 number"),
        (["add", "--channel", "email", "--address", "alex.morgan@"], "--address is not an email address"),
        (["add", "--channel", "sms", "--address", TEL, "--by", "sam smith"], "--by must be a login name"),
        (
            ["add", "--channel", "sms", "--address", TEL, "--project-id", "pi#1"],
            "argument --project-id: 'pi#1' is not an id",
        ),
        (["remove", "--channel", "sms", "--address", TEL, "--reason", "  "], "--reason must say why"),
        (["remove", "--channel", "sms", "--address", TEL, "--reason", "x" * 301], "--reason is longer than 300"),
        (["add", "--channel", "sms", "--address", TEL, "--reason", "hard_bounce"], "invalid choice"),
        (["add", "--channel", "fax", "--address", TEL], "invalid choice"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message_and_nothing_written(aws, comms, arguments, message):
    command, *rest = arguments
    done = comms("suppressions", command, "--company-id", COMPANY, *rest)

    assert done.code == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    _assert_unreadable(done)
    assert stored_items(aws) == []


def test_a_company_id_that_is_not_an_id_is_refused(aws, comms):
    done = comms("suppressions", "list", "--company-id", "ci#demo")

    assert done.code == 2 and "argument --company-id: 'ci#demo' is not an id" in done.stderr


def test_without_a_name_to_record_add_is_refused(aws, comms, monkeypatch):
    monkeypatch.delenv("USER")

    done = comms("suppressions", "add", "--company-id", COMPANY, "--channel", "sms", "--address", TEL)

    assert done.code == 2 and "pass --by NAME" in done.stderr
    assert stored_items(aws) == []


def test_an_environment_without_the_list_is_a_clear_error(aws, moto_endpoint, tmp_path):
    # The emulator holds dev's tables and key; an environment named prod there has neither.
    prod = local_env_file(tmp_path / "env", endpoint_url=moto_endpoint, region=REGION, environment="prod")

    done = run_comms(prod, "suppressions", "check", "--company-id", COMPANY, "--channel", "sms", "--address", TEL)

    assert done.code == 1
    assert done.stderr.startswith("error: the suppression list of prod could not be used: consent key")
    assert "Traceback" not in done.stderr
