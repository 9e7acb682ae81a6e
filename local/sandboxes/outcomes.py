"""Scripted outcomes: what a sandbox does with the next send request instead of its normal answer.

One definition serves both the Python API (``Outcome.status(503)``) and the JSON form the control
endpoint ``POST /_sandbox/script`` takes (``{"kind": "status", "code": 503}``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["status", "timeout", "accept_then_timeout", "provider_error", "invalid_output", "output"]
KINDS: tuple[Kind, ...] = ("status", "timeout", "accept_then_timeout", "provider_error", "invalid_output", "output")
# Outcomes only a model can produce (the OpenAI sandbox).
MODEL_KINDS = frozenset({"invalid_output", "output"})
_NEEDS_CODE = {"status", "provider_error"}
_NEEDS_SECONDS = {"timeout", "accept_then_timeout"}


class InvalidOutcome(ValueError):
    """A scripted outcome that is malformed or that this sandbox cannot produce."""


@dataclass(frozen=True)
class Outcome:
    kind: Kind
    code: int | None = None
    seconds: float | None = None
    body: Any = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InvalidOutcome(f"unknown outcome kind {self.kind!r}; expected one of {', '.join(KINDS)}")
        if self.kind in _NEEDS_CODE and not isinstance(self.code, int):
            raise InvalidOutcome(f"outcome {self.kind!r} needs an integer 'code'")
        if self.kind in _NEEDS_SECONDS and not (isinstance(self.seconds, int | float) and self.seconds >= 0):
            raise InvalidOutcome(f"outcome {self.kind!r} needs non-negative 'seconds'")
        if self.kind == "output" and not isinstance(self.body, str | dict):
            raise InvalidOutcome("outcome 'output' needs a 'body': the output text, or an object to send as JSON")

    @classmethod
    def status(cls, code: int, body: Any = None) -> Outcome:
        """Answer with this HTTP status (a provider-shaped error body unless ``body`` is given)."""
        return cls("status", code=code, body=body)

    @classmethod
    def timeout(cls, seconds: float) -> Outcome:
        """Accept nothing; answer 504 only after ``seconds`` (longer than the client's timeout)."""
        return cls("timeout", seconds=seconds)

    @classmethod
    def accept_then_timeout(cls, seconds: float) -> Outcome:
        """Accept the message (it reaches the outbox) but answer only after ``seconds``."""
        return cls("accept_then_timeout", seconds=seconds)

    @classmethod
    def provider_error(cls, code: int) -> Outcome:
        """The provider's own rejection: a Twilio error code, or a 400 for SendGrid/OpenAI."""
        return cls("provider_error", code=code)

    @classmethod
    def invalid_output(cls) -> Outcome:
        """OpenAI only: a 200 whose output text is not JSON valid against the requested schema."""
        return cls("invalid_output")

    @classmethod
    def output(cls, content: str | dict[str, Any]) -> Outcome:
        """OpenAI only: a completed response whose output text is ``content`` (an object as its JSON),
        whatever the request asked; e.g. what a prompt injection made the model write."""
        return cls("output", body=content)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind}
        for name in ("code", "seconds", "body"):
            if getattr(self, name) is not None:
                data[name] = getattr(self, name)
        return data

    @classmethod
    def from_json(cls, data: Any) -> Outcome:
        if not isinstance(data, dict) or set(data) - {"kind", "code", "seconds", "body"}:
            raise InvalidOutcome(f"an outcome is an object with kind and code/seconds/body, got {data!r}")
        try:
            return cls(**data)
        except TypeError as err:
            raise InvalidOutcome(str(err)) from err
