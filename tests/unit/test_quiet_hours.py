"""Send windows on named clock changes, and the router's schedule decision (``send_at`` + windows)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from shared.consent.schedule import QUIET_HOURS, SEND_AT, SEND_AT_AND_QUIET_HOURS, decide
from shared.consent.send_windows import is_open, next_opening
from shared.models.company import SendWindows

LONDON = ZoneInfo("Europe/London")
WEEKDAYS_9_TO_8 = SendWindows.model_validate(
    {
        "default_time_zone": "Europe/London",
        "windows": [{"days": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00", "until": "20:00"}],
    }
)


def _windows(*windows: tuple[list[str], str, str]) -> SendWindows:
    return SendWindows.model_validate(
        {"default_time_zone": "UTC", "windows": [{"days": d, "from": f, "until": u} for d, f, u in windows]}
    )


def _at(zone: str, *parts: int, fold: int = 0) -> datetime:
    return datetime(*parts, tzinfo=ZoneInfo(zone), fold=fold).astimezone(UTC)


def test_from_is_inside_and_until_is_not():
    assert is_open(_at("Europe/London", 2026, 11, 24, 9, 0), WEEKDAYS_9_TO_8, LONDON)
    assert is_open(_at("Europe/London", 2026, 11, 24, 19, 59, 59), WEEKDAYS_9_TO_8, LONDON)
    assert not is_open(_at("Europe/London", 2026, 11, 24, 20, 0), WEEKDAYS_9_TO_8, LONDON)
    assert not is_open(_at("Europe/London", 2026, 11, 28, 12, 0), WEEKDAYS_9_TO_8, LONDON)  # a Saturday


def test_a_request_at_23_00_waits_for_09_00_the_next_weekday():
    assert next_opening(_at("Europe/London", 2026, 11, 24, 23, 0), WEEKDAYS_9_TO_8, LONDON) == _at(
        "Europe/London", 2026, 11, 25, 9, 0
    )
    # Friday night waits for Monday.
    assert next_opening(_at("Europe/London", 2026, 11, 27, 23, 0), WEEKDAYS_9_TO_8, LONDON) == _at(
        "Europe/London", 2026, 11, 30, 9, 0
    )


def test_a_window_across_midnight_belongs_to_the_day_it_starts():
    friday_night = _windows((["fri"], "22:00", "02:00"))
    assert is_open(_at("Europe/London", 2026, 11, 28, 1, 30), friday_night, LONDON)  # Saturday 01:30
    assert not is_open(_at("Europe/London", 2026, 11, 27, 1, 30), friday_night, LONDON)  # Friday 01:30
    assert next_opening(_at("Europe/London", 2026, 11, 28, 3, 0), friday_night, LONDON) == _at(
        "Europe/London", 2026, 12, 4, 22, 0
    )


def test_a_start_in_the_spring_gap_opens_at_the_jump_when_the_clock_then_shows_a_time_inside():
    # London, 2026-03-29: 01:00 GMT becomes 02:00 BST; 01:30 never shows.
    window = _windows((["sun"], "01:30", "03:00"))
    jump = datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    assert next_opening(_at("Europe/London", 2026, 3, 29, 0, 30), window, LONDON) == jump
    assert jump.astimezone(LONDON).strftime("%H:%M") == "02:00"


def test_a_window_swallowed_by_the_gap_opens_the_next_week():
    # New York, 2026-03-08: 02:00 EST becomes 03:00 EDT; 02:00-02:30 never shows that Sunday.
    new_york = ZoneInfo("America/New_York")
    window = _windows((["sun"], "02:00", "02:30"))
    assert next_opening(_at("America/New_York", 2026, 3, 8, 0, 0), window, new_york) == _at(
        "America/New_York", 2026, 3, 15, 2, 0
    )


def test_lord_howe_springs_forward_half_an_hour():
    # Australia/Lord_Howe, 2026-10-04: 02:00 +10:30 becomes 02:30 +11:00.
    lord_howe = ZoneInfo("Australia/Lord_Howe")
    early = _windows((["sun"], "02:10", "02:40"))
    opening = next_opening(_at("Australia/Lord_Howe", 2026, 10, 4, 1, 0), early, lord_howe)
    assert opening.astimezone(lord_howe).strftime("%a %H:%M %z") == "Sun 02:30 +1100"
    swallowed = _windows((["sun"], "02:00", "02:20"))
    opening = next_opening(_at("Australia/Lord_Howe", 2026, 10, 4, 1, 0), swallowed, lord_howe)
    assert opening == _at("Australia/Lord_Howe", 2026, 10, 11, 2, 0)


def test_the_repeated_hour_of_a_fold_reopens_a_window_that_closed_in_its_first_pass():
    # New York, 2026-11-01: 02:00 EDT falls back to 01:00 EST; 01:00-01:30 shows twice.
    new_york = ZoneInfo("America/New_York")
    window = _windows((["sun"], "01:00", "01:30"))
    first_pass_after = _at("America/New_York", 2026, 11, 1, 1, 45, fold=0)
    assert next_opening(first_pass_after, window, new_york) == _at("America/New_York", 2026, 11, 1, 1, 0, fold=1)
    assert is_open(_at("America/New_York", 2026, 11, 1, 1, 10, fold=0), window, new_york)
    assert is_open(_at("America/New_York", 2026, 11, 1, 1, 10, fold=1), window, new_york)


def test_a_midnight_change_that_skips_00_00_opens_at_01_00_when_inside():
    # Havana, 2026-03-08: 00:00 CST becomes 01:00 CDT.
    havana = ZoneInfo("America/Havana")
    window = _windows((["sun"], "00:00", "06:00"))
    opening = next_opening(_at("America/Havana", 2026, 3, 7, 23, 0), window, havana)
    assert opening.astimezone(havana).strftime("%a %H:%M") == "Sun 01:00"


def test_next_opening_of_an_instant_inside_is_that_instant():
    instant = _at("Europe/London", 2026, 11, 24, 10, 0, 30)
    assert next_opening(instant, WEEKDAYS_9_TO_8, LONDON) == instant


def test_windows_that_can_never_open_are_a_value_error():
    never = SendWindows.model_construct(default_time_zone="UTC", windows=[])
    with pytest.raises(ValueError, match="never open"):
        next_opening(datetime(2026, 11, 24, tzinfo=UTC), never, ZoneInfo("UTC"))


def test_a_naive_instant_is_refused():
    with pytest.raises(ValueError, match="aware"):
        next_opening(datetime(2026, 11, 24, 23, 0), WEEKDAYS_9_TO_8, LONDON)


NOW = _at("Europe/London", 2026, 11, 24, 23, 0)  # a Tuesday, outside 09:00-20:00


@pytest.mark.parametrize(
    ("send_at", "windows", "expected"),
    [
        pytest.param(None, None, None, id="nothing to wait for"),
        pytest.param(None, WEEKDAYS_9_TO_8, (_at("Europe/London", 2026, 11, 25, 9, 0), QUIET_HOURS), id="quiet"),
        pytest.param(NOW - timedelta(hours=1), None, None, id="send_at past: now"),
        pytest.param(NOW + timedelta(minutes=2), None, (NOW + timedelta(minutes=2), SEND_AT), id="send_at"),
        pytest.param(
            NOW + timedelta(hours=11),  # Wednesday 10:00, inside
            WEEKDAYS_9_TO_8,
            (NOW + timedelta(hours=11), SEND_AT),
            id="send_at inside a window",
        ),
        pytest.param(
            NOW + timedelta(hours=1),  # Wednesday 00:00, outside
            WEEKDAYS_9_TO_8,
            (_at("Europe/London", 2026, 11, 25, 9, 0), SEND_AT_AND_QUIET_HOURS),
            id="send_at then the window",
        ),
        pytest.param(
            NOW - timedelta(hours=1),
            WEEKDAYS_9_TO_8,
            (_at("Europe/London", 2026, 11, 25, 9, 0), QUIET_HOURS),
            id="send_at past, quiet",
        ),
    ],
)
def test_decide(send_at, windows, expected):
    schedule = decide(NOW, send_at, windows, LONDON)
    if expected is None:
        assert schedule is None
        return
    assert (schedule.scheduled_for, schedule.reason, schedule.recipient_timezone) == (*expected, "Europe/London")
    assert schedule.scheduled_for.utcoffset() == timedelta(0)


def test_inside_the_window_and_no_send_at_sends_now():
    assert decide(_at("Europe/London", 2026, 11, 24, 10, 0), None, WEEKDAYS_9_TO_8, LONDON) is None
