"""The query string of ``GET /conversations``, read into a ``ListQuery`` or refused with a code.

``created_after`` is inclusive and ``created_before`` exclusive (ISO 8601 with a zone); records
stamp ``created_at`` in UTC with milliseconds (shared/processing/times.py), so the range becomes
an inclusive pair of such strings for the index's key condition.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared.api_errors import InvalidListQuery, RequestInvalid
from shared.identifiers import ID_PATTERN
from shared.models.conversation import ConversationStatus
from shared.processing.times import iso

DEFAULT_LIMIT = 25
MAX_LIMIT = 100
PARAMETERS = ("company_id", "project_id", "status", "created_after", "created_before", "limit", "next_token")

_ID = re.compile(ID_PATTERN)
_LIMIT = re.compile(r"^[0-9]{1,3}$")
_MILLISECOND = timedelta(milliseconds=1)
_UNENCODED_PLUS = re.compile(r" ([0-9]{2}:?[0-9]{2})$")
_STATUSES = {status.value: status for status in ConversationStatus}


@dataclass(frozen=True)
class ListQuery:
    company_id: str
    project_id: str
    statuses: tuple[ConversationStatus, ...]  # empty: every status; sorted, without repeats
    created_from: str | None  # inclusive bounds of created_at, in the records' own format
    created_through: str | None
    limit: int
    next_token: str | None

    def fingerprint(self) -> dict[str, Any]:
        """What a next_token is bound to besides the caller's key (the page size may change)."""
        return {
            "company_id": self.company_id,
            "project_id": self.project_id,
            "status": [status.value for status in self.statuses],
            "from": self.created_from,
            "through": self.created_through,
        }


def parse_list_query(single: Mapping[str, str] | None, multi: Mapping[str, list[str]] | None) -> ListQuery:
    values = dict(single or {})
    unknown = sorted(set(values) - set(PARAMETERS))
    if unknown:
        raise InvalidListQuery(
            f"Unknown query parameter {unknown[0]!r}; the parameters are {', '.join(PARAMETERS)}",
            error_code="UNKNOWN_QUERY_PARAMETER",
        )
    repeated = sorted(name for name, given in (multi or {}).items() if len(given) > 1)
    if repeated:
        raise InvalidListQuery(f"The query parameter {repeated[0]!r} is given more than once")
    company_id = _identifier(values, "company_id", "INVALID_COMPANY_ID_FORMAT")
    project_id = _identifier(values, "project_id", "INVALID_PROJECT_ID_FORMAT")
    created_from, created_through = created_range(values.get("created_after"), values.get("created_before"))
    return ListQuery(
        company_id=company_id,
        project_id=project_id,
        statuses=parse_statuses(values.get("status")),
        created_from=created_from,
        created_through=created_through,
        limit=_limit(values.get("limit")),
        next_token=values.get("next_token") or None,
    )


def _identifier(values: Mapping[str, str], name: str, invalid_code: str) -> str:
    value = values.get(name)
    if not value:
        raise RequestInvalid(f"The query parameter {name} is required", error_code="MISSING_IDENTIFIERS")
    if not _ID.match(value):
        raise RequestInvalid(
            f"{name} must be 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit",
            error_code=invalid_code,
        )
    return value


def parse_statuses(value: str | None, *, name: str = "status") -> tuple[ConversationStatus, ...]:
    """A comma-separated list of statuses (``name`` is what the caller calls the parameter)."""
    if value is None:
        return ()
    names = [status.strip() for status in value.split(",")]
    unknown = [status for status in names if status not in _STATUSES]
    if unknown:
        raise InvalidListQuery(
            f"Unknown status {unknown[0]!r}; {name} is a comma-separated list of: {', '.join(_STATUSES)}",
            error_code="INVALID_STATUS_FILTER",
        )
    return tuple(sorted({_STATUSES[status] for status in names}, key=lambda status: status.value))


def created_range(
    after: str | None, before: str | None, *, names: tuple[str, str] = ("created_after", "created_before")
) -> tuple[str | None, str | None]:
    """``after`` (inclusive) and ``before`` (exclusive) as the inclusive pair of ``created_at``
    values the index's key condition takes; ``names`` are what the caller calls the two bounds."""
    after_name, before_name = names
    after_at, before_at = _bound(after, after_name), _bound(before, before_name)
    try:
        created_from = None if after_at is None else iso(_ceil_ms(after_at))
        # created_at < before  <=>  created_at <= (before rounded up to the millisecond) - 1 ms.
        created_through = None if before_at is None else iso(_ceil_ms(before_at) - _MILLISECOND)
    except OverflowError:  # a bound at the calendar's edge (year 1 or 9999) cannot be rounded or shifted
        raise InvalidListQuery(
            f"{after_name} and {before_name} must be times between the years 1 and 9999",
            error_code="INVALID_TIME_RANGE",
        ) from None
    if created_from is not None and created_through is not None and created_from > created_through:
        raise InvalidListQuery(f"{after_name} must be earlier than {before_name}", error_code="INVALID_TIME_RANGE")
    return created_from, created_through


def _bound(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        # A "+01:00" sent unencoded in a query string may arrive as " 01:00".
        moment = datetime.fromisoformat(_UNENCODED_PLUS.sub(r"+\1", value.strip()).replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise InvalidListQuery(
            f"{name} must be an ISO 8601 time with a zone, e.g. 2026-11-24T09:30:00Z", error_code="INVALID_TIME_RANGE"
        )
    return moment


def _ceil_ms(moment: datetime) -> datetime:
    extra = moment.microsecond % 1000
    return moment if extra == 0 else moment + timedelta(microseconds=1000 - extra)


def _limit(value: str | None) -> int:
    if value is None:
        return DEFAULT_LIMIT
    if not _LIMIT.match(value) or not 1 <= int(value) <= MAX_LIMIT:
        raise InvalidListQuery(f"limit must be a whole number from 1 to {MAX_LIMIT}", error_code="INVALID_LIMIT")
    return int(value)
