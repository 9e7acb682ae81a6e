"""Provider callbacks: what a sandbox posts back to the engine after a send, and when.

A send with somewhere to report to (Twilio's ``StatusCallback``, SendGrid's Event Webhook) gets a
*delivery*: the callbacks of its steps (Twilio ``sent``, ``delivered``…; SendGrid ``processed``,
``delivered``…), posted one after another by a background worker, ``delay`` seconds apart, the
first ``delay`` after the send's answer was written. A :class:`CallbackScript` changes the next
send's delivery: other steps, each callback posted twice, reversed or shuffled, or held until
released. Every posted callback is kept, so one message's callbacks can be replayed verbatim.

Failures never reach the send: a refused connection or an error status is logged on the callback
and retried as the provider does (:class:`RetryPolicy`), then given up.
"""

from __future__ import annotations

import heapq
import http.client
import itertools
import random
import re
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

from local.sandboxes.outcomes import InvalidOutcome

Order = Literal["in_order", "reverse", "shuffle"]
ORDERS: tuple[Order, ...] = ("in_order", "reverse", "shuffle")
DEFAULT_DELAY = 0.5  # seconds before the first callback and between two; long enough for the engine to record the send
POST_TIMEOUT = 15.0  # seconds; Twilio's default read timeout for a webhook
_SCRIPT_FIELDS = {"steps", "duplicate", "order", "seed", "hold"}
# Loopback targets only: never send a callback through a proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
_TOKEN_IN_QUERY = re.compile(r"([?&]token=)[^&#]*")


@dataclass(frozen=True)
class CallbackScript:
    """How the next send's callbacks go. ``steps`` None = the provider's default sequence; ``[]`` = none.

    A step is an object: Twilio ``{"status": "undelivered", "error_code": 30003}``; SendGrid
    ``{"event": "bounce", "reason": "...", "status": "5.1.1", "type": "bounce"}``. The sandbox
    checks the steps when the script is given. ``order`` applies to the posts (the message itself
    still goes through the steps in the order given); ``seed`` makes a shuffle repeatable.
    """

    steps: tuple[dict[str, Any], ...] | None = None
    duplicate: bool = False
    order: Order = "in_order"
    seed: int | None = None
    hold: bool = False

    def __post_init__(self) -> None:
        if self.steps is not None:
            if not all(isinstance(step, dict) for step in self.steps):
                raise InvalidOutcome("callback steps are objects, e.g. {'status': 'delivered'}")
            object.__setattr__(self, "steps", tuple(dict(step) for step in self.steps))
        if self.order not in ORDERS:
            raise InvalidOutcome(f"callback order is one of {', '.join(ORDERS)}, got {self.order!r}")
        if not isinstance(self.duplicate, bool) or not isinstance(self.hold, bool):
            raise InvalidOutcome("callback 'duplicate' and 'hold' are booleans")
        if self.seed is not None and not isinstance(self.seed, int):
            raise InvalidOutcome("callback 'seed' is an integer")

    def arrange(self, callbacks: list[Callback]) -> list[Callback]:
        """The callbacks in the order they are to be posted."""
        if self.order == "reverse":
            callbacks = callbacks[::-1]
        elif self.order == "shuffle":
            callbacks = callbacks[:]
            random.Random(self.seed).shuffle(callbacks)
        if self.duplicate:
            callbacks = [again for callback in callbacks for again in (callback, callback)]
        return callbacks

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"duplicate": self.duplicate, "order": self.order, "hold": self.hold}
        if self.steps is not None:
            data["steps"] = list(self.steps)
        if self.seed is not None:
            data["seed"] = self.seed
        return data

    @classmethod
    def from_json(cls, data: Any) -> CallbackScript:
        if not isinstance(data, dict) or set(data) - _SCRIPT_FIELDS:
            fields = ", ".join(sorted(_SCRIPT_FIELDS))
            raise InvalidOutcome(f"a callback script is an object with {fields}, got {data!r}")
        steps = data.get("steps")
        if steps is not None and not isinstance(steps, list):
            raise InvalidOutcome("callback 'steps' is a list of objects")
        return cls(**{**data, "steps": tuple(steps) if steps is not None else None})


@dataclass(frozen=True)
class Callback:
    """One HTTP POST to the engine. ``headers`` carry the signature and are never shown in the log."""

    message_id: str  # the provider's id of the message it reports on
    url: str
    body: bytes
    headers: dict[str, str]
    label: str  # what it reports: a Twilio status, or a SendGrid batch's event names
    content: Any  # the body as the log shows it: form fields or the event list
    # Runs once, just before the first attempt, and gives the callback as posted (and replayed):
    # Twilio moves the message resource to the status it reports; SendGrid signs with the time.
    prepare: Callable[[Callback], Callback] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class PostedCallback:
    """A log entry: one callback and what the engine answered (``http_status`` None: no answer)."""

    message_id: str
    url: str
    label: str
    content: Any
    http_status: int | None
    error: str | None
    attempts: int
    replay: bool
    posted_at: str

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


@dataclass(frozen=True)
class RetryPolicy:
    """When a failed post is tried again, up to ``retries`` more times, ``backoff * 2**n`` apart."""

    retry_error_status: bool  # SendGrid retries any non-2xx answer; Twilio only connection failures
    retries: int = 2
    backoff: float = 0.25


@dataclass(eq=False)  # one delivery is one object, whatever it holds
class _Delivery:
    message_id: str
    callbacks: deque[Callback]
    replay: bool
    generation: int
    attempts: int = 0


class CallbackPoster:
    """The background worker of one sandbox: a scheduler thread and one short-lived thread per post.

    A message's callbacks are posted one at a time (the next ``delay`` after the previous one was
    answered or given up), so a slow engine reorders nothing; different messages go in parallel.
    """

    def __init__(self, name: str, policy: RetryPolicy, *, delay: float = DEFAULT_DELAY) -> None:
        self.name = name
        self.policy = policy
        self.delay = delay
        self._cond = threading.Condition()
        self._queue: list[tuple[float, int, _Delivery]] = []  # heap by due time
        self._held: list[_Delivery] = []
        self._unanswered: list[_Delivery] = []  # sends not answered yet
        self._posting = 0
        self._log: list[PostedCallback] = []
        self._history: dict[str, list[Callback]] = {}  # message id -> callbacks posted (not replays)
        self._generation = 0
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None
        self._stopping = False

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> None:
        with self._cond:
            if self._thread is not None:
                return
            self._stopping = False
            self._thread = threading.Thread(target=self._schedule, name=f"{self.name}-callbacks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            thread, self._thread = self._thread, None
            self._stopping = True
            self._generation += 1  # posts in flight finish unrecorded
            self._queue.clear()
            self._held.clear()
            self._unanswered.clear()
            self._posting = 0
            self._cond.notify_all()
        if thread is not None:
            thread.join(timeout=5)

    def reset(self) -> None:
        with self._cond:
            self._generation += 1
            self._queue.clear()
            self._held.clear()
            self._unanswered.clear()
            self._log.clear()
            self._history.clear()
            self._posting = 0
            self._cond.notify_all()

    # -- what sandboxes and tests call ------------------------------------------------------------
    def after_answer(self, message_id: str, callbacks: list[Callback], *, hold: bool = False) -> Callable[[], None]:
        """Register a send's callbacks now; they start when the returned function is called, once the
        send was answered. Meanwhile ``wait_idle`` already waits for them."""
        with self._cond:
            delivery = _Delivery(message_id, deque(callbacks), False, self._generation)
            self._unanswered.append(delivery)

        def start() -> None:
            with self._cond:
                if delivery not in self._unanswered:
                    return  # reset since
                self._unanswered.remove(delivery)
                if not delivery.callbacks:
                    self._cond.notify_all()
                elif hold:
                    self._held.append(delivery)
                else:
                    self._push(delivery, self.delay)

        return start

    def release(self, message_id: str | None = None) -> int:
        """Post the held callbacks of one message (all messages when None); how many deliveries."""
        with self._cond:
            released = [d for d in self._held if message_id is None or d.message_id == message_id]
            self._held = [d for d in self._held if d not in released]
            for delivery in released:
                self._push(delivery, self.delay)
        return len(released)

    def replay(self, message_id: str) -> int:
        """Post again, verbatim, every callback already posted for one message; how many."""
        with self._cond:
            posted = list(self._history.get(message_id, []))
            if posted:
                self._push(_Delivery(message_id, deque(posted), True, self._generation), self.delay)
        return len(posted)

    def post_now(self, callback: Callback) -> PostedCallback:
        """Post one callback from the caller's thread (no retry) and log it."""
        status, error, _ = _post(callback)
        entry = _entry(callback, status, error, attempts=1, replay=False)
        with self._cond:
            self._log.append(entry)
        return entry

    def log(self, message_id: str | None = None) -> list[PostedCallback]:
        with self._cond:
            return [e for e in self._log if message_id is None or e.message_id == message_id]

    def held(self) -> list[str]:
        with self._cond:
            return [d.message_id for d in self._held]

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every callback not held has been posted or given up; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._posting or self._unanswered:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    # -- the worker -------------------------------------------------------------------------------
    def _push(self, delivery: _Delivery, after: float) -> None:
        heapq.heappush(self._queue, (time.monotonic() + after, next(self._seq), delivery))
        self._cond.notify_all()

    def _schedule(self) -> None:
        with self._cond:
            while not self._stopping:
                now = time.monotonic()
                if self._queue and self._queue[0][0] <= now:
                    _, _, delivery = heapq.heappop(self._queue)
                    self._posting += 1
                    threading.Thread(target=self._post_next, args=(delivery,), daemon=True).start()
                    continue
                self._cond.wait(self._queue[0][0] - now if self._queue else None)

    def _post_next(self, delivery: _Delivery) -> None:
        callback = delivery.callbacks[0]
        if callback.prepare is not None:
            callback = replace(callback.prepare(callback), prepare=None)
            delivery.callbacks[0] = callback
        delivery.attempts += 1
        status, error, retryable = _post(callback)
        retry = (retryable or (self.policy.retry_error_status and status is not None and not 200 <= status < 300)) and (
            delivery.attempts <= self.policy.retries
        )
        with self._cond:
            if delivery.generation != self._generation:
                return  # reset or stopped while posting
            self._posting -= 1
            if retry:
                self._push(delivery, self.policy.backoff * 2 ** (delivery.attempts - 1))
                return
            self._log.append(_entry(callback, status, error, attempts=delivery.attempts, replay=delivery.replay))
            if not delivery.replay:
                self._history.setdefault(delivery.message_id, []).append(callback)
            delivery.callbacks.popleft()
            delivery.attempts = 0
            if delivery.callbacks:
                self._push(delivery, self.delay)
            else:
                self._cond.notify_all()


def _entry(callback: Callback, status: int | None, error: str | None, *, attempts: int, replay: bool) -> PostedCallback:
    return PostedCallback(
        message_id=callback.message_id,
        url=_TOKEN_IN_QUERY.sub(r"\1***", callback.url),  # Inbound Parse's URL carries the project's token
        label=callback.label,
        content=callback.content,
        http_status=status,
        error=error,
        attempts=attempts,
        replay=replay,
        posted_at=datetime.now(UTC).isoformat(),
    )


def _post(callback: Callback) -> tuple[int | None, str | None, bool]:
    """(HTTP status, error, whether the connection itself failed)."""
    try:
        request = urllib.request.Request(callback.url, data=callback.body, headers=callback.headers, method="POST")
        with _OPENER.open(request, timeout=POST_TIMEOUT) as response:
            response.read()
            return response.status, None, False
    except urllib.error.HTTPError as err:
        return err.code, None, False
    except urllib.error.URLError as err:  # no connection: refused, unresolvable, connect timeout
        return None, f"connection failed: {err.reason}", True
    except (OSError, http.client.HTTPException) as err:  # connected, then no answer (read timeout, reset)
        return None, f"no answer: {type(err).__name__}", False
    except ValueError as err:  # a URL urllib cannot post to
        return None, f"invalid url: {err}", False
