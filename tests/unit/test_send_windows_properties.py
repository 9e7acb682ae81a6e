"""Property tests: send windows on the recipient's wall clock, over zones with DST (both
hemispheres, 30-minute DST, transitions at midnight), half-hour and 45-minute offsets, instants
around the clock changes, and random windows, midnight-crossing ones included.

The oracle is independent of the code: a week of minutes (7 x 1440) marked open window by window,
looked up with the local clock's weekday and minute; ``next_opening`` is checked against a
minute-by-minute walk. Every zone here has whole-minute offsets and changes them on whole
minutes (from 2000 on), so inside-ness is constant within each UTC minute.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.consent.send_windows import SEARCH_HORIZON, is_open, next_opening
from shared.models.company import WEEKDAYS, SendWindows

ZONES = [
    "UTC",
    "Europe/London",
    "Europe/Dublin",  # tzdata's negative DST: winter time is the "daylight" one
    "Europe/Berlin",
    "America/New_York",
    "America/St_Johns",  # -03:30 with DST
    "America/Havana",  # changes at midnight: 00:00 never shows in spring
    "America/Santiago",  # southern hemisphere, changes at midnight
    "America/Sao_Paulo",  # DST abolished in 2019
    "Asia/Kolkata",
    "Asia/Kathmandu",  # +05:45
    "Asia/Tehran",  # DST abolished in 2022
    "Asia/Beirut",
    "Africa/Casablanca",  # DST suspended each Ramadan
    "Australia/Sydney",
    "Australia/Adelaide",  # +09:30 / +10:30
    "Australia/Lord_Howe",  # 30-minute DST
    "Pacific/Auckland",
    "Pacific/Chatham",  # +12:45 / +13:45
    "Pacific/Apia",  # skipped 2011-12-30 whole
]
YEARS = range(2005, 2036)
MINUTES_A_DAY = 24 * 60


@cache
def _offset_changes(zone_name: str, year: int) -> tuple[datetime, ...]:
    """The year's offset changes, to the hour (the test then wanders up to two days around them)."""
    zone = ZoneInfo(zone_name)
    hour = datetime(year, 1, 1, tzinfo=UTC)
    changes, previous = [], hour.astimezone(zone).utcoffset()
    while hour.year == year:
        hour += timedelta(hours=1)
        offset = hour.astimezone(zone).utcoffset()
        if offset != previous:
            changes.append(hour)
            previous = offset
    return tuple(changes)


@st.composite
def instants(draw, zone_name: str) -> datetime:
    year = draw(st.sampled_from(YEARS))
    changes = _offset_changes(zone_name, year)
    if changes and draw(st.booleans()):
        around = draw(st.sampled_from(changes))
        return around + timedelta(seconds=draw(st.integers(-2 * 86400, 2 * 86400)))
    return datetime(year, 1, 1, tzinfo=UTC) + timedelta(seconds=draw(st.integers(0, 365 * 86400)))


# Minutes of the day, with the hours clocks jump in (00:00-03:30) and around midnight drawn often.
clock_minutes = st.one_of(
    st.integers(0, MINUTES_A_DAY - 1),
    st.sampled_from([0, 1, 29, 30, 59, 60, 90, 119, 120, 121, 150, 180, 210, 1380, 1410, 1439]),
)


@st.composite
def send_windows(draw) -> SendWindows:
    windows = []
    for _ in range(draw(st.integers(1, 4))):
        start = draw(clock_minutes)
        until = draw(clock_minutes.filter(lambda minute, start=start: minute != start))
        days = draw(st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=7, unique=True))
        windows.append({"days": days, "from": _text(start), "until": _text(until)})
    return SendWindows.model_validate({"default_time_zone": "UTC", "windows": windows})


def _text(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _week_of_minutes(send_windows: SendWindows) -> list[list[bool]]:
    """[weekday][minute of the day] -> open, marked window by window."""
    week = [[False] * MINUTES_A_DAY for _ in WEEKDAYS]
    for window in send_windows.windows:
        start, until = (int(text[:2]) * 60 + int(text[3:]) for text in (window.start, window.until))
        for day in (WEEKDAYS.index(name) for name in window.days):
            if start < until:
                minutes = [(day, minute) for minute in range(start, until)]
            else:
                minutes = [(day, minute) for minute in range(start, MINUTES_A_DAY)]
                minutes += [((day + 1) % 7, minute) for minute in range(until)]
            for weekday, minute in minutes:
                week[weekday][minute] = True
    return week


def _oracle_open(week: list[list[bool]], instant: datetime, zone: ZoneInfo) -> bool:
    local = instant.astimezone(zone)
    return week[local.weekday()][local.hour * 60 + local.minute]


zones_and_instants = st.sampled_from(ZONES).flatmap(lambda name: st.tuples(st.just(name), instants(name)))
PROPERTY_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY_SETTINGS
@given(zone_and_instant=zones_and_instants, windows=send_windows())
def test_is_open_agrees_with_the_local_clock_oracle(zone_and_instant, windows):
    zone_name, instant = zone_and_instant
    zone = ZoneInfo(zone_name)
    week = _week_of_minutes(windows)
    for moment in (instant, instant + timedelta(seconds=59), instant + timedelta(minutes=30)):
        assert is_open(moment, windows, zone) == _oracle_open(week, moment, zone), moment.astimezone(zone)


@PROPERTY_SETTINGS
@given(zone_and_instant=zones_and_instants, windows=send_windows())
def test_next_opening_is_inside_and_nothing_before_it_is(zone_and_instant, windows):
    zone_name, instant = zone_and_instant
    zone = ZoneInfo(zone_name)
    week = _week_of_minutes(windows)
    opening = next_opening(instant, windows, zone)
    assert instant <= opening <= instant + SEARCH_HORIZON
    assert _oracle_open(week, opening, zone), opening.astimezone(zone)
    # Walk every minute from the input to the opening: none of them may be open.
    assert opening == instant or not _oracle_open(week, instant, zone)
    minute = datetime.fromtimestamp(math.ceil(instant.timestamp() / 60) * 60, UTC)
    while minute < opening:
        assert not _oracle_open(week, minute, zone), f"open earlier, at {minute.astimezone(zone)}"
        minute += timedelta(minutes=1)
