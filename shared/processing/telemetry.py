"""What the channel processors measure about the calls that cost time and money: the AI's latency
and tokens, each provider send's latency, and the messages the AI wrote.

Durations come from a monotonic clock given to ``ProcessorTelemetry`` (``time.monotonic`` by
default, a fake in tests): wall-clock time jumps (NTP) and must not turn into latencies. Every
metric here has only the processor's service dimension (``<channel>-processor``): per channel,
never per tenant.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from shared.models.conversation import TokenUsage
from shared.processing import metric_names


class _Discarded:
    def add_metric(self, **_: Any) -> None:
        return None


class ProcessorTelemetry:
    def __init__(self, metrics: Any, monotonic: Callable[[], float] = time.monotonic):
        self._metrics = metrics
        self._monotonic = monotonic

    @classmethod
    def unmeasured(cls) -> ProcessorTelemetry:
        """For the AI writer outside a processor (the operator CLI's ``prompt test``): nothing is
        printed, so no EMF line lands among a command's output."""
        return cls(_Discarded())

    @contextmanager
    def timed(self, name: str) -> Iterator[None]:
        """Adds the block's duration in milliseconds as ``name``, whether it returned or raised
        (a timeout is the latency worth seeing most)."""
        started = self._monotonic()
        try:
            yield
        finally:
            elapsed_ms = (self._monotonic() - started) * 1000
            self._metrics.add_metric(name=name, unit=MetricUnit.Milliseconds, value=round(elapsed_ms, 3))

    def ai_call(self) -> AbstractContextManager[None]:
        """Times one call to the AI (``AiLatency``)."""
        return self.timed(metric_names.AI_LATENCY)

    def provider_send(self) -> AbstractContextManager[None]:
        """Times one send call to Twilio or SendGrid (``ProviderLatency``)."""
        return self.timed(metric_names.PROVIDER_LATENCY)

    def ai_tokens(self, usage: TokenUsage) -> None:
        """The tokens one AI response used, as its ``usage`` reported them."""
        self._metrics.add_metric(name=metric_names.AI_INPUT_TOKENS, unit=MetricUnit.Count, value=usage.prompt_tokens)
        self._metrics.add_metric(
            name=metric_names.AI_OUTPUT_TOKENS, unit=MetricUnit.Count, value=usage.completion_tokens
        )

    def message_written(self) -> None:
        """The AI returned content the channel's contract accepted (a first message or a reply)."""
        self._metrics.add_metric(name=metric_names.MESSAGES_WRITTEN, unit=MetricUnit.Count, value=1)
