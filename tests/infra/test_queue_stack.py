"""QueueStack: a main queue and a DLQ per channel, with the operators' names and timings (the
events queue: test_events_processor.py), and the FIFO webhooks queue of tenants' events."""

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
    # A queue and a DLQ per channel, the events queue and the FIFO webhooks queue with their DLQs.
    template.resource_count_is("AWS::SQS::Queue", 10)
    template.resource_count_is("AWS::SQS::QueuePolicy", 10)
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


def test_the_webhooks_queue_is_fifo_without_content_deduplication_and_redrives_to_a_fifo_dlq(synthesised):
    env = synthesised.settings.name
    sender = synthesised.settings.webhook_sender
    template = synthesised.template("queues")
    dlq_id, dlq = _queue(template, f"ai-multi-comms-webhooks-dlq-{env}.fifo")
    _, queue = _queue(template, f"ai-multi-comms-webhooks-queue-{env}.fifo")

    for properties in (queue["Properties"], dlq["Properties"]):
        assert properties["FifoQueue"] is True
        # The producer's MessageDeduplicationId (the event id) decides; equal bodies are not one event.
        assert properties.get("ContentBasedDeduplication", False) is False
        assert properties["SqsManagedSseEnabled"] is True
    # The sender moves an event to the DLQ itself after its retry window; the redrive is the net
    # for a function that crashes on a message, so it allows many receives (retries are receives).
    assert queue["Properties"]["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
        "maxReceiveCount": 100,
    }
    assert queue["Properties"]["VisibilityTimeout"] == sender.visibility_timeout_seconds
    assert sender.visibility_timeout_seconds >= 6 * sender.timeout_seconds
    assert dlq["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert queue["Properties"]["MessageRetentionPeriod"] == 4 * 24 * 3600


def test_queue_stack_exposes_the_webhooks_queue_with_its_dlq(dev):
    webhooks = dev.engine.queues.webhooks_queue
    assert webhooks.queue.fifo and webhooks.dead_letter_queue.fifo
    assert webhooks.queue.dead_letter_queue.queue is webhooks.dead_letter_queue
