"""Queue pollers: feed each channel's processor like the Lambda SQS event source mapping."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from local.event_source import PollResult, poll_once
from shared.log_masking import describe_error

log = logging.getLogger("local.pollers")


class QueuePoller:
    """Long-polls one queue and hands each batch to the processor until stopped."""

    def __init__(
        self,
        *,
        name: str,
        sqs: Any,
        queue_url: str,
        invoke: Callable[[dict[str, Any], Any], dict[str, Any]],
        batch_size: int,
        wait_seconds: int = 1,
    ):
        self.name = name
        self._sqs = sqs
        self._queue_url = queue_url
        self._invoke = invoke
        self._batch_size = batch_size
        self._wait_seconds = wait_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"poller-{name}", daemon=True)

    def start(self) -> QueuePoller:
        self._thread.start()
        return self

    def signal_stop(self) -> None:
        self._stop.set()

    def join(self) -> None:
        self._thread.join(timeout=self._wait_seconds + 10)

    def stop(self) -> None:
        self.signal_stop()
        self.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                result = poll_once(
                    self._sqs,
                    self._queue_url,
                    self._invoke,
                    batch_size=self._batch_size,
                    wait_seconds=self._wait_seconds,
                )
                if result.error is not None:
                    self._report(result)
            except Exception:  # a poller must outlive one bad poll, as the real event source does
                log.exception("poll of %s failed", self.name)
                self._stop.wait(1)

    def _report(self, result: PollResult) -> None:
        """A failed invocation is an operator's concern: say which, why, and when the batch returns.
        The function's own log (``.local/logs/``) holds its traceback."""
        then = "visible again now" if result.released else "back after the visibility timeout"
        # Stopping the stack ends the invocations in flight: their batches go back, as expected.
        level = logging.INFO if self._stop.is_set() and result.released else logging.ERROR
        log.log(
            level, "poller %s: invocation failed (%s); %d message(s) %s",
            self.name, describe_error(result.error), len(result.failed), then,
        )  # fmt: skip
