"""What the channel processors measure, as the real handlers print it (EMF) against moto and the
sandboxes: the AI's latency and tokens, each provider call's latency, the messages written, for
first messages and replies, with the processor's service as the only dimension."""

from __future__ import annotations

import pytest

from local.sandboxes import Outcome
from shared.channels import Channel
from tests.fixtures.emf import data_points, values_of
from tests.integration.reply_setup import (
    answer,
    company_record_example,  # noqa: F401 - the fixture override (a project that answers replies)
    first_message_sent,
)

TELEMETRY = ("MessagesWritten", "AiLatency", "AiInputTokens", "AiOutputTokens", "ProviderLatency")
UNITS = {
    "MessagesWritten": "Count",
    "AiLatency": "Milliseconds",
    "AiInputTokens": "Count",
    "AiOutputTokens": "Count",
    "ProviderLatency": "Milliseconds",
}


def _telemetry(out: str, channel: Channel) -> dict[str, list[float]]:
    points = [p for p in data_points(out) if p.name in TELEMETRY]
    assert {(p.name, p.unit) for p in points} <= set(UNITS.items())
    assert all(p.dimensions == {"service": f"{channel.value}-processor"} for p in points), points
    return {name: [p.value for p in points if p.name == name] for name in TELEMETRY}


@pytest.mark.parametrize("channel", list(Channel))
def test_a_first_message_counts_one_written_its_tokens_and_both_latencies(
    channel, processor_for, context_message, sandbox, capsys
):
    processor = processor_for(channel)
    capsys.readouterr()

    processor.deliver(context_message(channel))

    seen = _telemetry(capsys.readouterr().out, channel)
    [response] = sandbox.openai.outbox
    assert seen["MessagesWritten"] == [1.0]
    assert seen["AiInputTokens"] == [response["usage"]["input_tokens"]]
    assert seen["AiOutputTokens"] == [response["usage"]["output_tokens"]]
    [ai_ms] = seen["AiLatency"]
    [provider_ms] = seen["ProviderLatency"]
    assert 0 < ai_ms < 10_000 and 0 < provider_ms < 10_000


@pytest.mark.parametrize("channel", list(Channel))
def test_a_reply_is_measured_like_a_first_message(channel, processor_for, context_message, sandbox, capsys):
    processor = processor_for(channel)
    message = context_message(channel)
    first_message_sent(processor, message)
    seq = processor.record_inbound(message, "Is the role full time?", subject="Re: About your application")
    sandbox.openai.script(answer("Yes, it is full time."))
    capsys.readouterr()

    processor.deliver_job(processor.reply_job(message, seq))

    seen = _telemetry(capsys.readouterr().out, channel)
    reply = sandbox.openai.outbox[-1]
    assert processor.record(message)["conversation_status"] == "reply_sent"
    assert seen["MessagesWritten"] == [1.0]
    assert (seen["AiInputTokens"], seen["AiOutputTokens"]) == (
        [reply["usage"]["input_tokens"]], [reply["usage"]["output_tokens"]]
    )  # fmt: skip
    assert len(seen["AiLatency"]) == 1 and len(seen["ProviderLatency"]) == 1


def test_an_invalid_answer_is_paid_for_and_timed_but_only_the_accepted_one_is_written(
    processor_for, context_message, sandbox, capsys
):
    processor = processor_for(Channel.SMS)
    sandbox.openai.script(Outcome.invalid_output())
    capsys.readouterr()

    processor.deliver(context_message(Channel.SMS))

    seen = _telemetry(capsys.readouterr().out, Channel.SMS)
    assert len(sandbox.openai.outbox) == 2
    assert seen["MessagesWritten"] == [1.0]
    assert len(seen["AiLatency"]) == 2
    assert seen["AiInputTokens"] == [r["usage"]["input_tokens"] for r in sandbox.openai.outbox]


def test_an_ai_that_does_not_answer_is_timed_and_nothing_is_written_or_sent(
    processor_for, context_message, sandbox, capsys
):
    processor = processor_for(Channel.EMAIL)
    sandbox.openai.script(Outcome.status(429))
    capsys.readouterr()

    processor.deliver(context_message(Channel.EMAIL))

    seen = _telemetry(capsys.readouterr().out, Channel.EMAIL)
    assert len(seen["AiLatency"]) == 1
    assert seen["MessagesWritten"] == seen["AiInputTokens"] == seen["ProviderLatency"] == []
    assert processor.provider_outbox == []


def test_a_provider_call_that_fails_is_timed_too(processor_for, context_message, capsys):
    processor = processor_for(Channel.WHATSAPP)
    processor.provider.script(Outcome.status(429))
    capsys.readouterr()

    processor.deliver(context_message(Channel.WHATSAPP))

    assert processor.provider_outbox == []
    assert len(values_of(capsys.readouterr().out, "ProviderLatency", service="whatsapp-processor")) == 1
