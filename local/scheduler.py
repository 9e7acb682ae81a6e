"""EventBridge Scheduler for the local stack: moto stores schedules but never runs them, so this
thread does what the service does for the engine's one-time wake-ups (issue 12): every second it
lists the environment's schedule group, and each ``at(…)`` schedule whose moment has come is sent
to the SQS queue its target names (``Target.Input`` as the body) and then deleted
(``ActionAfterCompletion=DELETE``). Sent before deleted: at least once, as the service delivers.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

log = logging.getLogger("local.scheduler")
_AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")


def fires_at(schedule: dict[str, Any]) -> datetime | None:
    """The moment of a one-time schedule (``at(…)`` in its time zone); None for rate/cron ones."""
    match = _AT.match(schedule.get("ScheduleExpression", ""))
    if match is None:
        return None
    zone = ZoneInfo(schedule.get("ScheduleExpressionTimezone") or "UTC")
    return datetime.fromisoformat(match.group(1)).replace(tzinfo=zone).astimezone(UTC)


class LocalScheduler:
    def __init__(
        self,
        *,
        scheduler: Any,
        sqs: Any,
        group_name: str,
        interval_seconds: float = 1.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self._scheduler = scheduler
        self._sqs = sqs
        self._group = group_name
        self._interval = interval_seconds
        self._clock = clock
        self._queue_urls: dict[str, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="local-scheduler", daemon=True)

    def start(self) -> LocalScheduler:
        self._thread.start()
        return self

    def signal_stop(self) -> None:
        self._stop.set()

    def join(self) -> None:
        self._thread.join(timeout=self._interval + 10)

    def stop(self) -> None:
        self.signal_stop()
        self.join()

    def fire_due(self, *, early: bool = False) -> list[str]:
        """Fire every due one-time schedule of the group (``early``: every one, due or not); the
        names fired.

        ``early`` is for the stop: moto forgets its schedules, but the saved queues are restored.
        A wake-up that comes early is safe (the processor finds the record not due and arms again).
        """
        now = self._clock()
        fired = []
        for listed in self._list():
            schedule = self._scheduler.get_schedule(GroupName=self._group, Name=listed["Name"])
            moment = fires_at(schedule)
            if moment is None or (moment > now and not early) or schedule.get("State", "ENABLED") != "ENABLED":
                continue
            target = schedule["Target"]
            self._sqs.send_message(QueueUrl=self._queue_url(target["Arn"]), MessageBody=target["Input"])
            if schedule.get("ActionAfterCompletion") == "DELETE":
                self._scheduler.delete_schedule(GroupName=self._group, Name=schedule["Name"])
            fired.append(schedule["Name"])
        return fired

    def _list(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        request: dict[str, Any] = {"GroupName": self._group}
        while True:
            page = self._scheduler.list_schedules(**request)
            found += page.get("Schedules", [])
            if not page.get("NextToken"):
                return found
            request["NextToken"] = page["NextToken"]

    def _queue_url(self, queue_arn: str) -> str:
        """``arn:aws:sqs:<region>:<account>:<name>`` -> its URL (the only target the engine uses)."""
        if queue_arn not in self._queue_urls:
            *_, account, name = queue_arn.split(":")
            self._queue_urls[queue_arn] = self._sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)[
                "QueueUrl"
            ]
        return self._queue_urls[queue_arn]

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                for name in self.fire_due():
                    log.info("fired the wake-up schedule %s", name)
            except Exception:  # one failed round must not end the scheduler; the next one retries
                log.exception("firing the due schedules failed")
