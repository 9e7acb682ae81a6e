"""The shared models accept the seed's examples and reject each invalid case with the seed's code."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from shared.api_errors import RequestInvalid
from shared.channels import Channel
from shared.models.company import CompanyRecord
from shared.request_errors import parse_initiate_request


def _without(path: str):
    def mutate(body):
        *parents, leaf = path.split(".")
        for part in parents:
            body = body[part]
        del body[leaf]

    return mutate


def _set(path: str, value):
    def mutate(body):
        *parents, leaf = path.split(".")
        for part in parents:
            body = body[part]
        body[leaf] = value

    return mutate


INVALID_CASES = [
    ("no company section", _without("company_data"), "MISSING_COMPANY_DATA"),
    ("no recipient section", _without("recipient_data"), "MISSING_RECIPIENT_DATA"),
    ("no project section", _without("project_data"), "MISSING_PROJECT_DATA"),
    ("no request section", _without("request_data"), "MISSING_REQUEST_DATA"),
    ("company section is a list", _set("company_data", []), "INVALID_COMPANY_DATA_TYPE"),
    ("project data is a string", _set("project_data", "x"), "INVALID_PROJECT_DATA_TYPE"),
    ("request section is null", _set("request_data", None), "INVALID_REQUEST_DATA_TYPE"),
    ("no company id", _without("company_data.company_id"), "MISSING_IDENTIFIERS"),
    ("no project id", _without("company_data.project_id"), "MISSING_IDENTIFIERS"),
    ("company id with a hash", _set("company_data.company_id", "a#b"), "INVALID_COMPANY_ID_FORMAT"),
    ("project id is a number", _set("company_data.project_id", 7), "INVALID_PROJECT_ID_FORMAT"),
    ("no request id", _without("request_data.request_id"), "MISSING_REQUEST_ID"),
    ("request id not a uuid", _set("request_data.request_id", "abc"), "INVALID_REQUEST_ID"),
    (
        "request id is a uuid v1",
        _set("request_data.request_id", "6fa459ea-ee8a-11ea-adc1-0242ac120002"),
        "INVALID_REQUEST_ID",
    ),
    ("no channel", _without("request_data.channel_method"), "MISSING_CHANNEL_METHOD"),
    ("fax channel", _set("request_data.channel_method", "fax"), "UNSUPPORTED_CHANNEL"),
    ("no timestamp", _without("request_data.initial_request_timestamp"), "MISSING_INITIAL_REQUEST_TIMESTAMP"),
    ("timestamp not a date", _set("request_data.initial_request_timestamp", "yesterday"), "INVALID_TIMESTAMP"),
    ("timestamp as epoch", _set("request_data.initial_request_timestamp", 1764000000), "INVALID_TIMESTAMP"),
    ("timestamp as epoch text", _set("request_data.initial_request_timestamp", "1700000000"), "INVALID_TIMESTAMP"),
    (
        "timestamp without zone",
        _set("request_data.initial_request_timestamp", "2026-11-24T09:30:00"),
        "INVALID_TIMESTAMP",
    ),
    ("whatsapp without phone", _without("recipient_data.recipient_tel"), "MISSING_RECIPIENT_TEL"),
    ("phone not E.164", _set("recipient_data.recipient_tel", "07700 900123"), "INVALID_RECIPIENT_TEL"),
    ("email malformed", _set("recipient_data.recipient_email", "alex@"), "INVALID_RECIPIENT_EMAIL"),
    ("no consent", _without("recipient_data.comms_consent"), "MISSING_COMMS_CONSENT"),
    ("consent as text", _set("recipient_data.comms_consent", "true"), "INVALID_COMMS_CONSENT_TYPE"),
    ("consent as 1", _set("recipient_data.comms_consent", 1), "INVALID_COMMS_CONSENT_TYPE"),
    ("consent refused", _set("recipient_data.comms_consent", False), "COMMS_CONSENT_REQUIRED"),
    ("zone unknown", _set("recipient_data.recipient_timezone", "Mars/Olympus"), "INVALID_RECIPIENT_TIMEZONE_FORMAT"),
    ("zone as offset", _set("recipient_data.recipient_timezone", "+01:00"), "INVALID_RECIPIENT_TIMEZONE_FORMAT"),
    ("zone a path", _set("recipient_data.recipient_timezone", "../../etc/passwd"), "INVALID_RECIPIENT_TIMEZONE_FORMAT"),
    ("zone 'localtime'", _set("recipient_data.recipient_timezone", "localtime"), "INVALID_RECIPIENT_TIMEZONE_FORMAT"),
    ("zone a number", _set("recipient_data.recipient_timezone", 1), "INVALID_RECIPIENT_TIMEZONE_FORMAT"),
    ("send_at without zone", _set("request_data.send_at", "2026-11-24T09:30:00"), "INVALID_SEND_AT"),
    ("send_at not a date", _set("request_data.send_at", "tomorrow"), "INVALID_SEND_AT"),
    ("send_at as epoch", _set("request_data.send_at", 1795512615), "INVALID_SEND_AT"),
    ("send_at years ahead", _set("request_data.send_at", "2999-01-01T00:00:00Z"), "INVALID_SEND_AT"),
]


def test_the_seed_example_request_is_valid(initiate_request_example):
    request = parse_initiate_request(initiate_request_example)
    assert request.channel is Channel.WHATSAPP
    assert request.recipient_address == "+447700900123"
    assert request.project_data["jobRole"] == "Healthcare Assistant"


@pytest.mark.parametrize(("case", "mutate", "code"), INVALID_CASES, ids=[c[0] for c in INVALID_CASES])
def test_each_invalid_request_gets_the_seeds_error_code(initiate_request_example, case, mutate, code):
    mutate(initiate_request_example)
    with pytest.raises(RequestInvalid) as raised:
        parse_initiate_request(initiate_request_example)
    assert raised.value.error_code == code
    assert raised.value.status_code == 400


ARRIVED = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("send_at", "accepted"),
    [
        ("2026-12-24T09:30:00Z", True),  # exactly 30 days ahead
        ("2026-12-24T09:30:00.001Z", False),
        ("2026-12-24T10:29:59+01:00", True),  # the same instant, another offset
        ("2026-12-24T10:30:01+01:00", False),
        ("2020-01-01T00:00:00Z", True),  # in the past: sent now
    ],
)
def test_send_at_may_be_at_most_30_days_after_the_request_arrived(initiate_request_example, send_at, accepted):
    initiate_request_example["request_data"]["send_at"] = send_at
    if accepted:
        request = parse_initiate_request(initiate_request_example, now=ARRIVED)
        assert request.request_data.send_at == datetime.fromisoformat(send_at)
        assert request.request_data.send_at.utcoffset() == timedelta(0)  # kept in UTC
        return
    with pytest.raises(RequestInvalid) as raised:
        parse_initiate_request(initiate_request_example, now=ARRIVED)
    assert (raised.value.error_code, raised.value.message) == (
        "INVALID_SEND_AT",
        "request_data.send_at: at most 30 days ahead",
    )


def test_the_schedule_fields_are_optional_and_kept(initiate_request_example):
    request = parse_initiate_request(initiate_request_example)
    assert (request.recipient_data.recipient_timezone, request.request_data.send_at) == (None, None)
    initiate_request_example["recipient_data"]["recipient_timezone"] = "America/Argentina/Buenos_Aires"
    initiate_request_example["request_data"]["send_at"] = None
    request = parse_initiate_request(initiate_request_example)
    assert request.recipient_data.recipient_timezone == "America/Argentina/Buenos_Aires"


def test_a_body_that_is_not_an_object_is_an_invalid_request():
    with pytest.raises(RequestInvalid) as raised:
        parse_initiate_request(["not", "an", "object"])
    assert raised.value.error_code == "INVALID_REQUEST"


def test_email_channel_needs_an_email_but_no_phone(initiate_request_example):
    initiate_request_example["request_data"]["channel_method"] = "email"
    del initiate_request_example["recipient_data"]["recipient_tel"]
    assert parse_initiate_request(initiate_request_example).recipient_address == "alex.morgan@example.com"
    del initiate_request_example["recipient_data"]["recipient_email"]
    with pytest.raises(RequestInvalid) as raised:
        parse_initiate_request(initiate_request_example)
    assert raised.value.error_code == "MISSING_RECIPIENT_EMAIL"


def test_channel_is_case_insensitive_and_ids_are_normalised(initiate_request_example):
    initiate_request_example["request_data"]["channel_method"] = " SMS "
    initiate_request_example["request_data"]["request_id"] = "3F8B2C1E-4D5A-4B6C-9E7F-0A1B2C3D4E5F"
    request = parse_initiate_request(initiate_request_example)
    assert request.channel is Channel.SMS
    assert request.request_data.request_id == "3f8b2c1e-4d5a-4b6c-9e7f-0a1b2c3d4e5f"


def test_a_legacy_api_key_in_company_data_is_dropped(initiate_request_example):
    initiate_request_example["company_data"]["api_key"] = "legacy-key-value"
    request = parse_initiate_request(initiate_request_example)
    assert "legacy-key-value" not in request.model_dump_json()


def test_the_seed_company_record_is_valid(company_record_example):
    record = CompanyRecord.model_validate(company_record_example)
    assert record.is_active
    assert record.allowed_channels == [Channel.WHATSAPP, Channel.SMS, Channel.EMAIL]
    assert record.company_rep["company_rep_1"] == "Carol"
    whatsapp_ai = record.ai_config.openai_config[Channel.WHATSAPP]
    assert not whatsapp_ai.is_legacy_only
    assert record.channel_config.for_channel(Channel.WHATSAPP).content_template.variables["1"]


def test_a_record_with_only_assistant_ids_is_recognised_as_legacy(company_record_example):
    company_record_example["ai_config"]["openai_config"]["sms"] = {
        "api_key_reference": "ai-multi-comms/openai-api-key/sms-dev",
        "assistant_id_template_sender": "asst_123",
    }
    sms_ai = CompanyRecord.model_validate(company_record_example).ai_config.openai_config[Channel.SMS]
    assert sms_ai.is_legacy_only
    assert sms_ai.legacy_assistant_fields == ["assistant_id_template_sender"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("project_status", "paused"),
        ("allowed_channels", ["pigeon"]),
        ("rate_limits", {"requests_per_minute": 0, "requests_per_day": 10}),
        # A link domain is a domain: no scheme, path, wildcard, address or single label.
        ("allowed_link_domains", ["https://careers.example.com"]),
        ("allowed_link_domains", ["careers.example.com/jobs"]),
        ("allowed_link_domains", ["*.example.com"]),
        ("allowed_link_domains", ["10.0.0.1"]),
        ("allowed_link_domains", ["localhost"]),
        ("allowed_link_domains", "example.com"),
    ],
)
def test_company_records_with_impossible_values_are_rejected(company_record_example, field, value):
    company_record_example[field] = value
    with pytest.raises(ValidationError):
        CompanyRecord.model_validate(company_record_example)


def test_company_record_accepts_dynamodb_decimals(company_record_example):
    from decimal import Decimal

    company_record_example["rate_limits"]["requests_per_minute"] = Decimal("60")
    assert CompanyRecord.model_validate(company_record_example).rate_limits.requests_per_minute == 60


def test_a_stored_record_with_the_removed_concurrent_conversations_limit_loads_and_drops_it(company_record_example):
    # Existing tenants' records still carry the key (issue 9: the limit was never enforced and is
    # removed): the record loads, and the key neither survives in the model nor travels onwards.
    company_record_example["rate_limits"]["concurrent_conversations"] = 30
    limits = CompanyRecord.model_validate(company_record_example).rate_limits
    assert limits.model_dump() == {"requests_per_minute": 60, "requests_per_day": 2000, "max_message_length": 1600}


def test_the_sample_record_no_longer_names_concurrent_conversations(company_record_example):
    assert "concurrent_conversations" not in company_record_example["rate_limits"]


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("Victim.Person@Example.COM", "victim.person@example.com"),
        ("victim.person@example.com", "victim.person@example.com"),
        ("Jösé.Müller@Exämple.com", "jösé.müller@exämple.com"),
    ],
)
def test_the_recipient_email_is_lower_cased_whole_so_one_person_has_one_key(initiate_request_example, sent, kept):
    initiate_request_example["recipient_data"]["recipient_email"] = sent
    initiate_request_example["request_data"]["channel_method"] = "email"
    request = parse_initiate_request(initiate_request_example)
    assert request.recipient_data.recipient_email == request.recipient_address == kept


@pytest.mark.parametrize(
    "window, problem",
    [
        ({"days": ["mon"], "from": "22:00", "until": "22:00"}, "must differ"),
        ({"days": ["mon"], "from": "24:00", "until": "02:00"}, "HH:MM"),
        ({"days": [], "from": "09:00", "until": "17:00"}, "at least 1"),
        ({"days": ["monday"], "from": "09:00", "until": "17:00"}, "mon"),
    ],
)
def test_a_send_window_that_cannot_be_read_one_way_is_refused(window, problem):
    from shared.models.company import SendWindows

    with pytest.raises(ValidationError, match=problem):
        SendWindows.model_validate({"default_time_zone": "Europe/London", "windows": [window]})


def test_a_send_windows_zone_must_be_an_iana_name():
    from shared.models.company import SendWindows

    with pytest.raises(ValidationError, match="IANA"):
        SendWindows.model_validate(
            {"default_time_zone": "Mars/Olympus", "windows": [{"days": ["mon"], "from": "09:00", "until": "17:00"}]}
        )
