"""What the sandboxes that call back (Twilio, SendGrid) share: callback scripts, the poster, and
their ``/_sandbox/callbacks*`` control endpoints.

Python                                   HTTP (under the sandbox's ``control_url``)
``script_callbacks(CallbackScript(…))``  ``POST /_sandbox/callbacks/script`` a script object or a list
``pending_callback_scripts``             ``GET  /_sandbox/callbacks/script``
``set_callback_delay(s)``                ``POST /_sandbox/callbacks/delay`` ``{"seconds": s}``
``release_callbacks(message_id=None)``   ``POST /_sandbox/callbacks/release`` ``{"message_id": …}`` or ``{}``
``replay_callbacks(message_id)``         ``POST /_sandbox/callbacks/replay`` ``{"message_id": …}``
``held_callbacks``                       ``GET  /_sandbox/callbacks/held``
``callback_log(message_id=None)``        ``GET  /_sandbox/callbacks[?message_id=…][&wait=seconds]``
``wait_for_callbacks(timeout)``          (``wait`` above: answers once idle, or after that long)
``person.reply(…)``                      ``POST /_sandbox/person/reply`` (``local.sandboxes.person``)

Each script is consumed by the next accepted send that has somewhere to call back to. The log
lists every callback posted (``message_id``, ``url``, ``label``, ``content``, ``http_status``,
``error``, ``attempts``, ``replay``, ``posted_at``), never its signature. ``reset()`` drops
scripts, pending and held callbacks and the log, and sets the delay back to its default.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any, Self

from local.sandboxes.base import RecordedRequest, Reply, Sandbox
from local.sandboxes.callbacks import (
    DEFAULT_DELAY,
    CallbackPoster,
    CallbackScript,
    PostedCallback,
    RetryPolicy,
)
from local.sandboxes.outcomes import InvalidOutcome
from local.sandboxes.person import answer as person_answer

if TYPE_CHECKING:
    from local.sandboxes.callbacks import Callback
    from local.sandboxes.person import Person


class CallbackSandbox(Sandbox):
    """A sandbox that posts callbacks. Subclasses give ``retry_policy`` and ``check_step``."""

    retry_policy: RetryPolicy

    def __init__(self, *, port: int = 0, latency: float = 0.0, callback_delay: float = DEFAULT_DELAY) -> None:
        super().__init__(port=port, latency=latency)
        self._default_delay = callback_delay
        self._poster = CallbackPoster(self.name, self.retry_policy, delay=callback_delay)
        self._callback_scripts: deque[CallbackScript] = deque()
        # Plays the person who answers this provider's messages; attached by the local stack.
        self.person: Person | None = None

    def check_step(self, step: dict[str, Any]) -> None:
        """Raise ``InvalidOutcome`` for a step this provider cannot report."""
        raise NotImplementedError

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> Self:
        self._poster.start()
        return super().start()

    def stop(self) -> None:
        self._poster.stop()
        super().stop()

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self._callback_scripts.clear()
        self._poster.reset()
        self._poster.delay = self._default_delay

    # -- scripting and inspection -----------------------------------------------------------------
    def script_callbacks(self, *scripts: CallbackScript) -> None:
        for script in scripts:
            for step in script.steps or ():
                self.check_step(step)
        with self._lock:
            self._callback_scripts.extend(scripts)

    @property
    def pending_callback_scripts(self) -> list[CallbackScript]:
        with self._lock:
            return list(self._callback_scripts)

    def set_callback_delay(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("callback delay must be non-negative")
        self._poster.delay = seconds

    def release_callbacks(self, message_id: str | None = None) -> int:
        return self._poster.release(message_id)

    def replay_callbacks(self, message_id: str) -> int:
        return self._poster.replay(message_id)

    @property
    def held_callbacks(self) -> list[str]:
        return self._poster.held()

    def callback_log(self, message_id: str | None = None) -> list[PostedCallback]:
        return self._poster.log(message_id)

    def wait_for_callbacks(self, timeout: float = 10.0) -> list[PostedCallback]:
        """The log once every callback not held was posted (or given up); TimeoutError otherwise."""
        if not self._poster.wait_idle(timeout):
            raise TimeoutError(f"{self.name} sandbox still had callbacks to post after {timeout}s")
        return self.callback_log()

    def post_inbound(self, callback: Callback) -> PostedCallback:
        """Post a message the person sent (the person's webhook) now, and log it."""
        return self._poster.post_now(callback)

    def _next_callback_script(self) -> CallbackScript:
        with self._lock:
            return self._callback_scripts.popleft() if self._callback_scripts else CallbackScript()

    # -- control endpoints ------------------------------------------------------------------------
    def control(self, action: tuple[str, str], request: RecordedRequest) -> Reply | None:
        body = request.body if isinstance(request.body, dict) else {}
        if action == ("GET", "callbacks"):
            wait = request.query.get("wait")
            if wait is not None:
                self._poster.wait_idle(_seconds(wait))
            return Reply(200, [e.to_json() for e in self.callback_log(request.query.get("message_id"))])
        if action == ("GET", "callbacks/script"):
            return Reply(200, [s.to_json() for s in self.pending_callback_scripts])
        if action == ("POST", "callbacks/script"):
            items = request.body if isinstance(request.body, list) else [request.body]
            scripts = [CallbackScript.from_json(item) for item in items]
            self.script_callbacks(*scripts)
            return Reply(200, {"scripted": [s.to_json() for s in scripts]})
        if action == ("POST", "callbacks/delay"):
            seconds = _seconds(body.get("seconds"))
            self.set_callback_delay(seconds)
            return Reply(200, {"callback_delay": seconds})
        if action == ("POST", "callbacks/release"):
            return Reply(200, {"released": self.release_callbacks(_message_id(body, required=False))})
        if action == ("POST", "callbacks/replay"):
            return Reply(200, {"replayed": self.replay_callbacks(_message_id(body, required=True))})
        if action == ("GET", "callbacks/held"):
            return Reply(200, {"held": self.held_callbacks})
        if action == ("POST", "person/reply"):
            return Reply(*person_answer(self.person, request.body))
        return None


def _seconds(value: Any) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = -1.0
    if not seconds >= 0:
        raise InvalidOutcome('takes {"seconds": <non-negative number>}')
    return seconds


def _message_id(body: dict[str, Any], *, required: bool) -> str | None:
    message_id = body.get("message_id")
    if message_id is None and not required:
        return None
    if not isinstance(message_id, str) or not message_id:
        raise InvalidOutcome('takes {"message_id": "<the provider message id>"}')
    return message_id
