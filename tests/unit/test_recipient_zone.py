"""The recipient's zone: the request's, else the phone number's country's only clock, else the
project's default; email always the default."""

from __future__ import annotations

import copy
import zoneinfo
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shared.consent.recipient_zone import COUNTRY_ZONES, number_zone, recipient_zone
from shared.request_errors import parse_initiate_request


def _zone_tab() -> dict[str, list[str]]:
    """tzdata's zone.tab: ISO country -> its zones."""
    for directory in zoneinfo.TZPATH:
        path = Path(directory) / "zone.tab"
        if path.is_file():
            zones: dict[str, list[str]] = {}
            for line in path.read_text().splitlines():
                if line and not line.startswith("#"):
                    country, _, zone, *_ = line.split("\t")
                    zones.setdefault(country, []).append(zone)
            return zones
    raise AssertionError(f"no zone.tab in {zoneinfo.TZPATH}")


def _same_clock(first: str, second: str) -> bool:
    a, b = zoneinfo.ZoneInfo(first), zoneinfo.ZoneInfo(second)
    moment = datetime(2020, 1, 1, tzinfo=UTC)
    while moment.year < 2036:
        if moment.astimezone(a).utcoffset() != moment.astimezone(b).utcoffset():
            return False
        moment += timedelta(hours=12)
    return True


def test_every_listed_country_keeps_one_clock_in_every_zone_tzdata_gives_it():
    tab = _zone_tab()
    for code, (country, zone) in COUNTRY_ZONES.items():
        zoneinfo.ZoneInfo(zone)
        assert zone in tab[country], (code, country, zone)
        assert all(_same_clock(zone, other) for other in tab[country]), (code, country, tab[country])


def test_calling_codes_are_prefix_free():
    for code in COUNTRY_ZONES:
        assert not any(other != code and other.startswith(code) for other in COUNTRY_ZONES), code


@pytest.mark.parametrize(
    ("number", "zone"),
    [
        ("+447700900123", "Europe/London"),
        ("+33612345678", "Europe/Paris"),
        ("+4915112345678", "Europe/Berlin"),
        ("+353861234567", "Europe/Dublin"),
        ("+919812345678", "Asia/Kolkata"),
        ("+819012345678", "Asia/Tokyo"),
        ("+6591234567", "Asia/Singapore"),
        ("+27821234567", "Africa/Johannesburg"),
        ("+9779812345678", "Asia/Kathmandu"),
    ],
)
def test_a_number_of_a_one_zone_country_has_that_zone(number, zone):
    assert number_zone(number) == zone


@pytest.mark.parametrize(
    "number",
    [
        "+12125550123",  # US/Canada
        "+79161234567",  # Russia/Kazakhstan
        "+61412345678",  # Australia
        "+5511912345678",  # Brazil
        "+525512345678",  # Mexico
        "+6281234567890",  # Indonesia
        "+34612345678",  # Spain: the Canary Islands keep another clock
        "+351912345678",  # Portugal: the Azores
        "+8613812345678",  # China: Asia/Urumqi
        "+64211234567",  # New Zealand: Chatham
    ],
)
def test_a_number_of_a_country_with_several_clocks_has_none(number):
    assert number_zone(number) is None


def _request(example: dict, channel: str, **recipient) -> object:
    body = copy.deepcopy(example)
    body["request_data"]["channel_method"] = channel
    body["recipient_data"].update(recipient)
    return parse_initiate_request(body)


def test_the_requests_zone_wins(initiate_request_example):
    request = _request(initiate_request_example, "sms", recipient_timezone="America/Denver")
    assert recipient_zone(request, "Europe/Paris").key == "America/Denver"


def test_a_phone_channel_uses_the_numbers_country_else_the_default(initiate_request_example):
    assert recipient_zone(_request(initiate_request_example, "whatsapp"), "Europe/Paris").key == "Europe/London"
    us = _request(initiate_request_example, "sms", recipient_tel="+12125550123")
    assert recipient_zone(us, "America/Chicago").key == "America/Chicago"


def test_email_always_gets_the_default_even_with_a_phone_number_in_the_request(initiate_request_example):
    request = _request(initiate_request_example, "email")
    assert request.recipient_data.recipient_tel == "+447700900123"
    assert recipient_zone(request, "Asia/Tokyo").key == "Asia/Tokyo"
    named = _request(initiate_request_example, "email", recipient_timezone="Europe/Berlin")
    assert recipient_zone(named, "Asia/Tokyo").key == "Europe/Berlin"


def test_without_a_default_the_zone_is_utc(initiate_request_example):
    assert recipient_zone(_request(initiate_request_example, "email"), None).key == "UTC"
