"""What became of one events-queue message: done, retried after a delay, or dead-lettered at once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class EventOutcome:
    retry: bool = False  # report the SQS record as a batch item failure (it comes back after a delay)
    dead_letter: bool = False  # to the DLQ now: no receive can ever apply it
    reason: str | None = None


DONE = EventOutcome()


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
