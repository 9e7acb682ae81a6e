"""When a request's first message may go (issue 12): decided once, by the router.

The message waits for ``send_at`` (a past ``send_at`` waits for nothing), then, when the project
has send windows, for the first instant at or after that which is inside them on the recipient's
clock. No wait at all: ``None``, send now.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from shared.consent.recipient_zone import recipient_zone
from shared.consent.send_windows import is_open, next_opening
from shared.models.company import SendWindows
from shared.models.context import Schedule
from shared.models.request import InitiateRequest

SEND_AT = "send_at"
QUIET_HOURS = "quiet_hours"
SEND_AT_AND_QUIET_HOURS = "send_at+quiet_hours"


def decide(
    now: datetime, send_at: datetime | None, send_windows: SendWindows | None, zone: ZoneInfo
) -> Schedule | None:
    """The schedule of a first message requested at ``now`` (aware), or None to send it now."""
    held = send_at is not None and send_at > now
    start = send_at if held and send_at is not None else now
    if send_windows is not None and not is_open(start, send_windows, zone):
        return Schedule(
            scheduled_for=next_opening(start, send_windows, zone),
            reason=SEND_AT_AND_QUIET_HOURS if held else QUIET_HOURS,
            recipient_timezone=zone.key,
        )
    if held:
        return Schedule(scheduled_for=start.astimezone(UTC), reason=SEND_AT, recipient_timezone=zone.key)
    return None


def schedule_request(request: InitiateRequest, send_windows: SendWindows | None, *, now: datetime) -> Schedule | None:
    """``decide`` for a validated request and its project's send windows, in the recipient's zone."""
    zone = recipient_zone(request, send_windows.default_time_zone if send_windows is not None else None)
    return decide(now, request.request_data.send_at, send_windows, zone)
