"""``python -m local.consent``: show or change a local project's consent settings (issue 12).

What an operator writes into the company/project record's ``consent`` (``shared.models.company.
ConsentConfig``): the HELP text, the send windows (quiet hours) with their default time zone, and
the unsubscribe mailbox. The record is checked whole, as ``comms company put`` checks it,
before it is written; the engine reads it on the next request (nothing caches it).

    python -m local.consent                                       # what the project has now
    python -m local.consent --help-text 'Cucumber Recruitment: reply STOP to opt out.'
    python -m local.consent --window 'mon-fri 09:00-20:00' --window 'sat 10:00-14:00' --time-zone Europe/London
    python -m local.consent --window-in 2 --time-zone America/New_York   # opens 2 minutes from now there
    python -m local.consent --any-hour                            # no windows: first messages go at once

``--window-in N`` makes one 30-minute window that opens N minutes from now (at the next whole
minute) in the time zone: a request sent before then waits ``scheduled`` and goes when it opens.
Reads ``.local/env`` (written by ``make local``); ``--project`` defaults to its ``PROJECT_ID``.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from local.show import ENV_FILE, aws_client, read_env
from shared.models.company import WEEKDAYS, CompanyRecord, ConsentConfig
from stacks.names import physical_name

WINDOW_MINUTES = 30


class ConsentError(ValueError):
    """Settings the project cannot have; the message says why."""


def window_opening_in(
    minutes: float, time_zone: str, *, now: datetime | None = None, length: int = WINDOW_MINUTES
) -> dict[str, Any]:
    """One window of ``length`` minutes opening at the first whole minute at least ``minutes``
    from ``now`` in ``time_zone``; its day is the day it opens on (it may cross midnight)."""
    local = (now or datetime.now(UTC)).astimezone(ZoneInfo(time_zone)) + timedelta(minutes=minutes)
    opens = local.replace(second=0, microsecond=0)
    if opens < local:
        opens += timedelta(minutes=1)
    closes = opens + timedelta(minutes=length)
    return {"days": [WEEKDAYS[opens.weekday()]], "from": f"{opens:%H:%M}", "until": f"{closes:%H:%M}"}


def parse_window(text: str) -> dict[str, Any]:
    """``'mon-fri 09:00-17:00'``, ``'sat,sun 10:00-12:00'``, ``'fri 22:00-02:00'`` (crosses midnight)."""
    days_part, _, hours = text.strip().partition(" ")
    start, _, until = hours.strip().partition("-")
    days: list[str] = []
    for item in filter(None, days_part.lower().split(",")):
        first, _, last = item.partition("-")
        if first not in WEEKDAYS or (last and last not in WEEKDAYS):
            raise ConsentError(f"{text!r}: days are {', '.join(WEEKDAYS)}, e.g. 'mon-fri 09:00-17:00'")
        span = WEEKDAYS[WEEKDAYS.index(first) : WEEKDAYS.index(last or first) + 1]
        if not span:
            raise ConsentError(f"{text!r}: a range of days runs forward, e.g. 'mon-fri'")
        days += [day for day in span if day not in days]
    if not days or not start or not until:
        raise ConsentError(f"{text!r}: a window is '<days> <from>-<until>', e.g. 'mon-fri 09:00-17:00'")
    return {"days": days, "from": start.strip(), "until": until.strip()}


def _project_table(env: dict[str, str]) -> Any:
    return aws_client(env, "dynamodb", resource=True).Table(physical_name("company-data", env["ENVIRONMENT"]))


def read_consent(env: dict[str, str], project_id: str) -> dict[str, Any]:
    record = _project_record(env, project_id)
    return _plain(CompanyRecord.model_validate(record).consent)


def write_consent(env: dict[str, str], project_id: str, **changes: Any) -> dict[str, Any]:
    """Change the named fields of the project's ``consent`` (None removes one); the settings written."""
    record = _project_record(env, project_id)
    consent = {**_plain(CompanyRecord.model_validate(record).consent), **changes}
    try:
        checked = CompanyRecord.model_validate({**record, "consent": consent})
    except ValidationError as invalid:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in invalid.errors())
        raise ConsentError(problems) from None
    written = _plain(checked.consent)
    _project_table(env).put_item(Item={**record, "consent": written})
    return written


def _project_record(env: dict[str, str], project_id: str) -> dict[str, Any]:
    key = {"company_id": env["COMPANY_ID"], "project_id": project_id}
    item = _project_table(env).get_item(Key=key, ConsistentRead=True).get("Item")
    if item is None:
        raise ConsentError(f"no project {key['company_id']}/{project_id} in the local stack")
    return item


def _plain(consent: ConsentConfig) -> dict[str, Any]:
    return consent.model_dump(mode="json", by_alias=True, exclude_none=True)


def _changes(args: argparse.Namespace, current: dict[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if args.help_text is not None:
        changes["help_text"] = args.help_text or None
    if args.unsubscribe_mailto is not None:
        changes["unsubscribe_mailto"] = args.unsubscribe_mailto or None
    if args.any_hour:
        changes["send_windows"] = None
    elif args.window or args.window_in is not None or args.time_zone:
        existing = current.get("send_windows") or {}
        zone = args.time_zone or existing.get("default_time_zone")
        if not zone:
            raise ConsentError("send windows need a default time zone: add --time-zone, e.g. Europe/London")
        windows = [parse_window(text) for text in args.window]
        if args.window_in is not None:
            windows.append(window_opening_in(args.window_in, zone))
        changes["send_windows"] = {"default_time_zone": zone, "windows": windows or existing.get("windows")}
    return changes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local.consent", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--project", default=None, help="the project (default: PROJECT_ID of .local/env)")
    parser.add_argument("--help-text", default=None, help="what HELP answers ('' removes it)")
    parser.add_argument("--unsubscribe-mailto", default=None, help="the List-Unsubscribe mailbox ('' removes it)")
    parser.add_argument(
        "--window", action="append", default=[], help="'mon-fri 09:00-17:00'; repeat for more; replaces the windows"
    )
    parser.add_argument("--window-in", type=float, default=None, help="a 30-minute window opening in N minutes")
    parser.add_argument("--time-zone", default=None, help="the windows' default time zone (IANA, e.g. Europe/London)")
    parser.add_argument("--any-hour", action="store_true", help="remove the send windows")
    parser.add_argument("--env-file", type=Path, default=ENV_FILE)
    args = parser.parse_args(argv)
    env = read_env(args.env_file)
    project_id = args.project or env["PROJECT_ID"]
    try:
        current = read_consent(env, project_id)
        changes = _changes(args, current)
        shown = write_consent(env, project_id, **changes) if changes else current
    except ConsentError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{env['COMPANY_ID']}/{project_id} consent{' (changed)' if changes else ''}:")
    print(json.dumps(shown, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
