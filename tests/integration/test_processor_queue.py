"""The processors as SQS consumers: poison messages reach the DLQ through the queue's real redrive,
a batch is processed concurrently, and the heartbeat keeps a slow message from a second consumer."""

from __future__ import annotations

import threading
import time

import pytest

from local.sandboxes import Outcome
from shared.channels import Channel
from shared.processing.heartbeat import Heartbeat


@pytest.mark.parametrize("channel", list(Channel))
def test_a_message_that_keeps_failing_lands_in_the_dlq_after_three_receives(
    channel, processor_for, context_message, sandbox
):
    processor = processor_for(channel)
    sandbox.openai.script(*[Outcome.status(503)] * 6)  # every call and every SDK retry fails
    message = context_message(channel)
    processor.enqueue(message)

    assert processor.receives_until_dead_lettered(timeout=20) == 3
    assert processor.queue_depth() == 0 and processor.queue_depth(processor.dlq_url) == 1
    record = processor.record(message)
    assert record["conversation_status"] == "processing" and "HTTP 503" in record["last_error"]
    assert processor.provider_outbox == []


@pytest.mark.parametrize("channel", list(Channel))
def test_the_records_of_a_batch_are_processed_concurrently(channel, processor_for, context_message, sandbox):
    # No clock: the OpenAI sandbox holds every request it gets, so all ten AI calls waiting on it at
    # once can only mean the ten records are in flight together (one after another, only one would).
    processor = processor_for(channel)
    messages = [context_message(channel) for _ in range(10)]
    for message in messages:
        processor.enqueue(message)
    sandbox.openai.hold()
    polled: list = []
    worker = threading.Thread(target=lambda: polled.append(processor.poll()))
    worker.start()
    try:
        deadline = time.monotonic() + 60
        while sandbox.openai.holding[1] < 10 and time.monotonic() < deadline and worker.is_alive():
            time.sleep(0.05)
        waiting = sandbox.openai.holding[1]
    finally:
        sandbox.openai.release()
        worker.join()

    assert waiting == 10, f"only {waiting} of the batch's AI calls were in flight together"
    [result] = polled
    assert len(result.received) == 10 and result.failed == []
    assert len(processor.provider_outbox) == 10
    assert all(processor.record(m)["conversation_status"] == "initial_message_sent" for m in messages)


@pytest.mark.parametrize("channel", [Channel.SMS])
def test_the_heartbeat_keeps_a_slow_message_from_a_second_consumer(channel, processor_for, context_message, sandbox):
    processor = processor_for(channel)
    sandbox.openai.set_latency(2.5)  # longer than the queue's 2 s visibility timeout
    message = context_message(channel)
    processor.enqueue(message)
    worker = threading.Thread(target=processor.poll)

    worker.start()
    time.sleep(2.2)  # past the visibility timeout the message would be visible again without beats
    stolen = processor.sqs.receive_message(QueueUrl=processor.queue_url, WaitTimeSeconds=0).get("Messages", [])
    worker.join()

    assert stolen == []
    assert len(processor.provider_outbox) == 1
    assert processor.queue_depth() == 0


def test_a_heartbeat_extends_visibility_on_its_interval_and_stops_cleanly(aws):
    sqs = aws.client("sqs")
    queue_url = aws.queues[Channel.EMAIL].queue_url
    sqs.send_message(QueueUrl=queue_url, MessageBody="{}")
    [received] = sqs.receive_message(QueueUrl=queue_url, VisibilityTimeout=1)["Messages"]
    logger = _ListLogger()

    with Heartbeat(
        sqs,
        queue_url=queue_url,
        receipt_handle=received["ReceiptHandle"],
        interval_seconds=0.3,
        visibility_timeout_seconds=1,
        logger=logger,
    ) as heartbeat:
        time.sleep(1.5)
        assert sqs.receive_message(QueueUrl=queue_url).get("Messages", []) == []

    assert not heartbeat.running and heartbeat.beats >= 3 and logger.warnings == []
    beats = heartbeat.beats
    time.sleep(1.2)
    assert heartbeat.beats == beats  # nothing beats after the stop
    assert len(sqs.receive_message(QueueUrl=queue_url).get("Messages", [])) == 1


def test_a_heartbeat_whose_message_is_gone_only_warns(aws):
    sqs = aws.client("sqs")
    queue_url = aws.queues[Channel.SMS].queue_url
    sqs.send_message(QueueUrl=queue_url, MessageBody="{}")
    [received] = sqs.receive_message(QueueUrl=queue_url)["Messages"]
    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=received["ReceiptHandle"])
    logger = _ListLogger()

    with Heartbeat(
        sqs,
        queue_url=queue_url,
        receipt_handle=received["ReceiptHandle"] + "-expired",
        interval_seconds=0.1,
        visibility_timeout_seconds=1,
        logger=logger,
    ) as heartbeat:
        time.sleep(0.35)

    assert not heartbeat.running and logger.warnings


class _ListLogger:
    def __init__(self) -> None:
        self.warnings: list[str] = []

    def warning(self, message: str, **_: object) -> None:
        self.warnings.append(message)
