"""A project's send windows read on the recipient's wall clock (issue 12).

An instant is inside when the recipient's local clock then shows a time within a window on one of
the window's start days: ``from`` inclusive, ``until`` exclusive; a window whose ``until`` is before
its ``from`` runs from ``from`` on a start day to ``until`` the next day. So a window is what the
person sees on their clock: when the clock falls back, the repeated hour is judged twice by the
same rule; when it springs forward over a window's start, the window opens at the jump if the clock
then shows a time inside it.

``next_opening`` finds the first inside instant without stepping through time: inside-ness can
only turn on where the local clock reaches a window's ``from`` (found by resolving each start time
of each day, both sides of a fold) or where the zone's offset changes (the clock jumps). The
earliest such instant that is inside is the answer; offset changes are looked for only before the
first start that opens.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from shared.models.company import WEEKDAYS, SendWindow, SendWindows

# A week, plus a second week for a window the clock skips once (its only start time falls in a
# spring-forward gap, or a zone drops a whole day, as Pacific/Apia did on 2011-12-30).
SEARCH_HORIZON = timedelta(days=15)
# How finely the zone's offset is sampled for changes. No zone changes its offset twice within an
# hour (transitions are months apart), so a change is never missed.
_OFFSET_STEP_SECONDS = 3600


def is_open(instant: datetime, send_windows: SendWindows, zone: ZoneInfo) -> bool:
    """Whether the recipient's clock shows a time inside one of the windows at ``instant`` (aware)."""
    return _inside(_local(instant, zone), send_windows.windows)


def next_opening(instant: datetime, send_windows: SendWindows, zone: ZoneInfo) -> datetime:
    """The first instant at or after ``instant`` (aware) that is inside, in UTC.

    ValueError when no window opens within ``SEARCH_HORIZON`` (a validated ``SendWindows`` always
    opens within it).
    """
    if instant.tzinfo is None:
        raise ValueError("instant must be timezone-aware")
    instant = instant.astimezone(UTC)
    windows = send_windows.windows
    if _inside(_local(instant, zone), windows):
        return instant
    end = instant + SEARCH_HORIZON
    starts = sorted(c for c in set(_start_instants(instant, end, windows, zone)) if instant < c <= end)
    first_start = next((c for c in starts if _inside(_local(c, zone), windows)), None)
    # A clock jump can only open a window earlier than the first start that does: look no further.
    for change in _offset_changes(instant, first_start or end, zone):
        if _inside(_local(change, zone), windows):
            return change
    if first_start is None:
        raise ValueError(f"the send windows never open within {SEARCH_HORIZON.days} days in {zone.key}")
    return first_start


def _local(instant: datetime, zone: ZoneInfo) -> datetime:
    if instant.tzinfo is None:
        raise ValueError("instant must be timezone-aware")
    return instant.astimezone(zone).replace(tzinfo=None)


def _clock(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def _inside(local: datetime, windows: Sequence[SendWindow]) -> bool:
    clock = local.time()
    today = WEEKDAYS[local.weekday()]
    yesterday = WEEKDAYS[(local.weekday() - 1) % 7]
    for window in windows:
        start, until = _clock(window.start), _clock(window.until)
        if window.crosses_midnight:
            if (today in window.days and clock >= start) or (yesterday in window.days and clock < until):
                return True
        elif today in window.days and start <= clock < until:
            return True
    return False


def _start_instants(
    begin: datetime, end: datetime, windows: Sequence[SendWindow], zone: ZoneInfo
) -> Iterator[datetime]:
    """Every instant in the range (and a day either side) at which the clock shows a window's
    ``from``: twice in a fold, never in a gap (the offset change covers that)."""
    starts = {_clock(window.start) for window in windows}
    first = _local(begin, zone).date() - timedelta(days=1)
    days = (_local(end, zone).date() - first).days + 2
    for offset in range(days):
        day = first + timedelta(days=offset)
        for start in starts:
            wall = datetime.combine(day, start)
            for fold in (0, 1):
                candidate = wall.replace(tzinfo=zone, fold=fold).astimezone(UTC)
                if _local(candidate, zone) == wall:
                    yield candidate


def _offset_changes(begin: datetime, end: datetime, zone: ZoneInfo) -> Iterator[datetime]:
    """The instants in the range at which the zone's offset changes (the clock jumps)."""

    def offset(epoch: int) -> timedelta | None:
        return datetime.fromtimestamp(epoch, zone).utcoffset()

    low = math.floor(begin.timestamp())
    stop = math.ceil(end.timestamp())
    while low < stop:
        high = min(low + _OFFSET_STEP_SECONDS, stop)
        before = offset(low)
        if offset(high) != before:
            while high - low > 1:  # transitions fall on whole seconds
                middle = (low + high) // 2
                if offset(middle) == before:
                    low = middle
                else:
                    high = middle
            yield datetime.fromtimestamp(high, UTC)
        low = high
