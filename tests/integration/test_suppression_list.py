"""The suppression list (shared/consent/suppressions.py) against the emulator: one entry per
company, channel and person, written by single conditional requests, holding no readable address."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError

from shared.channels import Channel
from shared.consent.address_hash import AddressHasher, load_hasher, normalise_address
from shared.consent.suppressions import KEYWORD_REASONS, SuppressionList, SuppressionReason
from shared.processing.errors import CredentialsMissing, RecordStoreUnavailable
from shared.tables import SUPPRESSIONS
from tests.integration.suppression_setup import stored_items, suppression_list

COMPANY = "ci-demo-001"
OTHER_COMPANY = "ci-other-002"
TEL = "+447700900123"
EMAIL = "Alex.Morgan@Example.com"


@pytest.fixture
def suppressions(aws) -> SuppressionList:
    return suppression_list(aws)


def test_suppressing_twice_is_one_entry_that_keeps_the_first_reason_source_and_time(aws, suppressions):
    first = suppressions.suppress(
        COMPANY, Channel.SMS, TEL, reason=SuppressionReason.STOP_KEYWORD, source="twilio_inbound:SM1",
        project_id="pi-demo-001", at="2026-11-26T06:00:00.000Z",
    )  # fmt: skip
    again = suppressions.suppress(
        COMPANY, Channel.SMS, TEL, reason=SuppressionReason.HARD_BOUNCE, source="twilio_error:21211",
        at="2026-11-26T07:00:00.000Z",
    )  # fmt: skip

    assert (first, again) == (True, False)
    (entry,) = suppressions.entries(COMPANY)
    assert entry.is_active
    assert (entry.reason, entry.source, entry.suppressed_at, entry.project_id) == (
        SuppressionReason.STOP_KEYWORD,
        "twilio_inbound:SM1",
        "2026-11-26T06:00:00.000Z",
        "pi-demo-001",
    )
    assert len(stored_items(aws)) == 1


def test_start_lifts_a_keyword_or_provider_opt_out_and_records_who_and_why(suppressions):
    for reason, address in (
        (SuppressionReason.STOP_KEYWORD, TEL),
        (SuppressionReason.PROVIDER_OPT_OUT, "+447700900456"),
    ):
        suppressions.suppress(COMPANY, Channel.SMS, address, reason=reason, source="twilio_inbound:SM1")
        lifted = suppressions.lift(
            COMPANY, Channel.SMS, address, reasons=KEYWORD_REASONS, lifted_reason="start_keyword",
            lifted_by="twilio_inbound:SM2", at="2026-11-26T08:00:00.000Z",
        )  # fmt: skip
        assert lifted is True
        entry = suppressions.entry(COMPANY, Channel.SMS, address)
        assert entry is not None and not entry.is_active
        assert (entry.state, entry.reason, entry.lifted_at, entry.lifted_reason, entry.lifted_by) == (
            "lifted",
            reason,  # the history keeps why it was suppressed
            "2026-11-26T08:00:00.000Z",
            "start_keyword",
            "twilio_inbound:SM2",
        )
        assert suppressions.is_suppressed(COMPANY, Channel.SMS, address) is False


@pytest.mark.parametrize(
    "reason",
    [
        SuppressionReason.HARD_BOUNCE,
        SuppressionReason.SPAM_REPORT,
        SuppressionReason.UNSUBSCRIBE_LINK,
        SuppressionReason.OPERATOR,
    ],
)
def test_start_never_lifts_a_bounce_a_spam_report_an_unsubscribe_or_an_operators_entry(suppressions, reason):
    suppressions.suppress(COMPANY, Channel.EMAIL, EMAIL, reason=reason, source="sendgrid_event:ev1")

    lifted = suppressions.lift(
        COMPANY, Channel.EMAIL, EMAIL, reasons=KEYWORD_REASONS, lifted_reason="start_keyword", lifted_by="x"
    )

    assert lifted is False
    entry = suppressions.entry(COMPANY, Channel.EMAIL, EMAIL)
    assert entry is not None and entry.is_active and entry.reason is reason
    assert entry.lifted_at is None


def test_an_operator_lifts_any_reason(suppressions):
    suppressions.suppress(
        COMPANY, Channel.EMAIL, EMAIL, reason=SuppressionReason.SPAM_REPORT, source="sendgrid_event:e"
    )
    assert suppressions.lift(
        COMPANY, Channel.EMAIL, EMAIL, reasons=None, lifted_reason="asked by phone", lifted_by="operator:sam"
    )
    assert suppressions.is_suppressed(COMPANY, Channel.EMAIL, EMAIL) is False


def test_lifting_what_is_not_suppressed_changes_nothing(aws, suppressions):
    assert suppressions.lift(COMPANY, Channel.SMS, TEL, reasons=None, lifted_reason="r", lifted_by="b") is False
    assert stored_items(aws) == []
    suppressions.suppress(COMPANY, Channel.SMS, TEL, reason=SuppressionReason.STOP_KEYWORD, source="s")
    assert suppressions.lift(COMPANY, Channel.SMS, TEL, reasons=None, lifted_reason="r", lifted_by="b") is True
    assert suppressions.lift(COMPANY, Channel.SMS, TEL, reasons=None, lifted_reason="again", lifted_by="c") is False
    entry = suppressions.entry(COMPANY, Channel.SMS, TEL)
    assert entry is not None and (entry.lifted_reason, entry.lifted_by) == ("r", "b")


def test_a_lifted_entry_can_be_suppressed_again_with_the_new_reason_and_no_lift_left_over(suppressions):
    suppressions.suppress(COMPANY, Channel.SMS, TEL, reason=SuppressionReason.STOP_KEYWORD, source="twilio_inbound:SM1")
    suppressions.lift(COMPANY, Channel.SMS, TEL, reasons=KEYWORD_REASONS, lifted_reason="start_keyword", lifted_by="b")

    again = suppressions.suppress(
        COMPANY, Channel.SMS, TEL, reason=SuppressionReason.PROVIDER_OPT_OUT, source="twilio_error:21610"
    )

    assert again is True
    entry = suppressions.entry(COMPANY, Channel.SMS, TEL)
    assert entry is not None and entry.is_active
    assert (entry.reason, entry.source) == (SuppressionReason.PROVIDER_OPT_OUT, "twilio_error:21610")
    assert (entry.lifted_at, entry.lifted_reason, entry.lifted_by) == (None, None, None)


def test_a_whatsapp_address_with_or_without_its_prefix_is_one_entry(suppressions):
    suppressions.suppress(
        COMPANY, Channel.WHATSAPP, f"whatsapp:{TEL}", reason=SuppressionReason.STOP_KEYWORD, source="twilio_inbound:SM1"
    )

    assert suppressions.is_suppressed(COMPANY, Channel.WHATSAPP, TEL)
    assert suppressions.is_suppressed(COMPANY, Channel.WHATSAPP, f"WhatsApp:{TEL}")
    (entry,) = suppressions.entries(COMPANY)
    assert entry.address_hint == "+44********23"  # masked like the logs, with its country code


def test_an_email_address_in_any_case_is_one_entry(suppressions):
    suppressions.suppress(
        COMPANY, Channel.EMAIL, EMAIL, reason=SuppressionReason.UNSUBSCRIBE_LINK, source="unsubscribe_link"
    )

    assert suppressions.is_suppressed(COMPANY, Channel.EMAIL, "alex.morgan@example.com")
    assert suppressions.is_suppressed(COMPANY, Channel.EMAIL, " ALEX.MORGAN@EXAMPLE.COM ")
    assert not suppressions.is_suppressed(COMPANY, Channel.EMAIL, "alex.morgan2@example.com")


def test_an_entry_is_per_company_and_per_channel(suppressions):
    suppressions.suppress(COMPANY, Channel.SMS, TEL, reason=SuppressionReason.STOP_KEYWORD, source="twilio_inbound:SM1")

    assert suppressions.is_suppressed(COMPANY, Channel.SMS, TEL)
    # STOP by SMS does not stop WhatsApp, and one company's list is not another's.
    assert not suppressions.is_suppressed(COMPANY, Channel.WHATSAPP, TEL)
    assert not suppressions.is_suppressed(OTHER_COMPANY, Channel.SMS, TEL)


def test_no_attribute_of_an_entry_holds_the_readable_address(aws, suppressions):
    suppressions.suppress(
        COMPANY, Channel.WHATSAPP, f"whatsapp:{TEL}", reason=SuppressionReason.STOP_KEYWORD, source="s1"
    )
    suppressions.suppress(
        COMPANY, Channel.EMAIL, EMAIL, reason=SuppressionReason.HARD_BOUNCE, source="sendgrid_event:e1"
    )
    suppressions.lift(COMPANY, Channel.EMAIL, EMAIL, reasons=None, lifted_reason="asked", lifted_by="operator:sam")

    dumped = json.dumps(stored_items(aws)).lower()
    for readable in (TEL, TEL.lstrip("+"), "7700900123", EMAIL.lower(), "alex.morgan", "example.com"):
        assert readable.lower() not in dumped, readable
    hasher = load_hasher(aws.client("secretsmanager"), aws.consent_key_secret_id)
    keys = {item["suppression_key"] for item in stored_items(aws)}
    assert keys == {f"whatsapp#{hasher.digest(TEL)}", f"email#{hasher.digest(EMAIL)}"}


def test_the_hash_is_keyed_so_another_key_finds_nothing(aws, suppressions):
    suppressions.suppress(COMPANY, Channel.SMS, TEL, reason=SuppressionReason.STOP_KEYWORD, source="s1")
    other = SuppressionList(aws.client("dynamodb"), aws.table_name(SUPPRESSIONS.logical_name), AddressHasher(b"k" * 32))
    assert other.entry(COMPANY, Channel.SMS, TEL) is None


def test_entries_lists_one_companys_entries_only_across_pages(aws, suppressions):
    numbers = [f"+4477009{index:05d}" for index in range(30)]
    for number in numbers:
        suppressions.suppress(COMPANY, Channel.SMS, number, reason=SuppressionReason.OPERATOR, source="operator:sam")
    suppressions.suppress(OTHER_COMPANY, Channel.SMS, TEL, reason=SuppressionReason.STOP_KEYWORD, source="s")

    paginated = SuppressionList(aws.client("dynamodb"), suppressions.table_name, suppressions.hasher)
    entries = paginated.entries(COMPANY)

    assert len(entries) == 30 and {entry.company_id for entry in entries} == {COMPANY}
    assert {entry.suppression_key for entry in entries} == {
        f"sms#{suppressions.hasher.digest(number)}" for number in numbers
    }
    assert [entry.company_id for entry in suppressions.entries(OTHER_COMPANY)] == [OTHER_COMPANY]
    assert suppressions.entries("ci-nobody") == []


def test_normalising_keeps_numbers_and_lower_cases_emails_only():
    assert normalise_address(" whatsapp:+447700900123 ") == "+447700900123"
    assert normalise_address("Alex.Morgan@Example.com") == "alex.morgan@example.com"
    assert normalise_address("+447700900123") == "+447700900123"


def test_a_missing_table_is_an_error_and_a_throttled_one_is_transient(aws, suppressions, monkeypatch):
    missing = SuppressionList(aws.client("dynamodb"), "ai-multi-comms-no-such-table", suppressions.hasher)
    with pytest.raises(ClientError):
        missing.entry(COMPANY, Channel.SMS, TEL)
    with pytest.raises(ClientError):
        missing.entries(COMPANY)

    def throttled(**_: object) -> None:
        raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "GetItem")

    monkeypatch.setattr(suppressions.dynamodb, "get_item", throttled)
    with pytest.raises(RecordStoreUnavailable):
        suppressions.entry(COMPANY, Channel.SMS, TEL)


def test_the_key_is_read_once_per_container_and_a_short_or_missing_key_is_refused(aws):
    manager = aws.client("secretsmanager")
    first = load_hasher(manager, aws.consent_key_secret_id)
    manager.put_secret_value(SecretId=aws.consent_key_secret_id, SecretString=json.dumps({"hmac_key": "y" * 40}))
    assert load_hasher(manager, aws.consent_key_secret_id) is first  # cached: a key is never rotated

    manager.create_secret(Name="ai-multi-comms/consent-key-short", SecretString=json.dumps({"hmac_key": "tiny-K3y"}))
    with pytest.raises(CredentialsMissing) as short:
        load_hasher(manager, "ai-multi-comms/consent-key-short")
    assert "tiny-K3y" not in str(short.value)  # the secret is named, its value never
    with pytest.raises(CredentialsMissing):
        load_hasher(manager, "ai-multi-comms/consent-key-none")
    assert "key hidden" in repr(first)


def test_concurrent_signals_for_one_person_make_exactly_one_entry_with_the_winners_reason(aws):
    reasons = [SuppressionReason.STOP_KEYWORD, SuppressionReason.PROVIDER_OPT_OUT, SuppressionReason.HARD_BOUNCE] * 4
    barrier = threading.Barrier(len(reasons))

    def signal(index: int) -> tuple[bool, SuppressionReason]:
        own = suppression_list(aws)  # a client per writer, as separate Lambda containers have
        barrier.wait()
        made = own.suppress(COMPANY, Channel.SMS, TEL, reason=reasons[index], source=f"writer:{index}")
        return made, reasons[index]

    with ThreadPoolExecutor(max_workers=len(reasons)) as pool:
        outcomes = list(pool.map(signal, range(len(reasons))))

    winners = [reason for made, reason in outcomes if made]
    assert len(winners) == 1
    (item,) = stored_items(aws)
    assert item["reason"] == winners[0].value and item["state"] == "active"
