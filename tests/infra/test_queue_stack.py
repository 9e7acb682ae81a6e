"""QueueStack: a main queue and a DLQ per channel, with the operators' names and timings (the
events queue: test_events_processor.py)."""

from __future__ import annotations

import pytest

CHANNELS = ("whatsapp", "sms", "email")


def _queue(template, name: str) -> tuple[str, dict]:
    found = template.find_resources("AWS::SQS::Queue", {"Properties": {"QueueName": name}})
    assert len(found) == 1, f"expected one queue named {name}"
    return next(iter(found.items()))


@pytest.mark.parametrize("channel", CHANNELS)
def test_each_channel_queue_redrives_to_its_own_dlq_after_three_receives(synthesised, channel):
    env = synthesised.settings.name
    template = synthesised.template("queues")
    dlq_id, dlq = _queue(template, f"ai-multi-comms-{channel}-dlq-{env}")
    _, queue = _queue(template, f"ai-multi-comms-{channel}-queue-{env}")

    assert queue["Properties"]["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
        "maxReceiveCount": 3,
    }
    assert dlq["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert queue["Properties"]["MessageRetentionPeriod"] == 4 * 24 * 3600
    assert queue["Properties"]["VisibilityTimeout"] == 720
    for properties in (queue["Properties"], dlq["Properties"]):
        assert properties["SqsManagedSseEnabled"] is True


def test_visibility_timeout_covers_six_processor_timeouts(synthesised):
    settings = synthesised.settings
    assert settings.queues.visibility_timeout_seconds >= 6 * settings.processor.timeout_seconds


def test_every_queue_refuses_requests_without_tls(synthesised):
    template = synthesised.template("queues")
    # A queue and a DLQ per channel, and the events queue with its DLQ.
    template.resource_count_is("AWS::SQS::Queue", 8)
    template.resource_count_is("AWS::SQS::QueuePolicy", 8)
    for policy in template.find_resources("AWS::SQS::QueuePolicy").values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert {
            "Action": "sqs:*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Resource": statements[0]["Resource"],
        } in statements


def test_queue_stack_exposes_typed_queues_per_channel(dev):
    queues = dev.engine.queues.channel_queues
    assert sorted(channel.value for channel in queues) == sorted(CHANNELS)
    assert all(q.queue.dead_letter_queue.queue is q.dead_letter_queue for q in queues.values())
