"""``ProcessorTelemetry``: durations from the monotonic clock it is given, in milliseconds, also
when the timed call raises; tokens as the response's usage reported them."""

from __future__ import annotations

from typing import Any

import pytest
from aws_lambda_powertools import Metrics

from shared.models.conversation import TokenUsage
from shared.processing.telemetry import ProcessorTelemetry
from tests.fixtures.emf import data_points


class SteppingClock:
    """A monotonic clock that moves by ``step`` seconds each time it is read."""

    def __init__(self, step: float):
        self.now = 1000.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def _flushed(metrics: Metrics, capsys: pytest.CaptureFixture[str]) -> list[tuple[str, float, str]]:
    metrics.flush_metrics()
    return [(p.name, p.value, p.unit) for p in data_points(capsys.readouterr().out)]


@pytest.fixture
def metrics(capsys: pytest.CaptureFixture[str]) -> Any:
    metrics = Metrics(namespace="AiMultiComms", service="sms-processor")
    metrics.clear_metrics()
    capsys.readouterr()
    return metrics


def test_a_timed_call_is_its_duration_on_the_given_clock_in_milliseconds(metrics, capsys):
    telemetry = ProcessorTelemetry(metrics, SteppingClock(0.25))

    with telemetry.provider_send():
        pass

    assert _flushed(metrics, capsys) == [("ProviderLatency", 250.0, "Milliseconds")]


def test_a_call_that_raises_is_timed_and_the_error_goes_on(metrics, capsys):
    telemetry = ProcessorTelemetry(metrics, SteppingClock(1.5))

    with pytest.raises(TimeoutError), telemetry.ai_call():
        raise TimeoutError("OpenAI did not answer in time")

    assert _flushed(metrics, capsys) == [("AiLatency", 1500.0, "Milliseconds")]


def test_tokens_are_the_usage_reported(metrics, capsys):
    ProcessorTelemetry(metrics).ai_tokens(TokenUsage(prompt_tokens=812, completion_tokens=64, total_tokens=876))

    assert _flushed(metrics, capsys) == [("AiInputTokens", 812.0, "Count"), ("AiOutputTokens", 64.0, "Count")]
