"""``local.event_source.poll_once`` behaves like Lambda's SQS event source: the event's shape, what is
deleted, what is left for another receive."""

from __future__ import annotations

import logging
import threading

from local.event_source import poll_once
from local.invoker import FunctionError, WorkerDied
from local.pollers import QueuePoller
from shared.channels import Channel


def _queue(aws):
    sqs = aws.client("sqs")
    url = aws.queues[Channel.SMS].queue_url
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "30"})
    return sqs, url


def _send(sqs, url, *bodies):
    return [
        sqs.send_message(
            QueueUrl=url, MessageBody=body, MessageAttributes={"channel": {"DataType": "String", "StringValue": "sms"}}
        )["MessageId"]
        for body in bodies
    ]


def _depth(sqs, url):
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def test_the_event_has_the_shape_lambda_gives_an_sqs_triggered_function(aws):
    sqs, url = _queue(aws)
    [message_id] = _send(sqs, url, '{"hello": "world"}')
    seen = []

    poll_once(sqs, url, lambda event, context: seen.append((event, context)))

    [(event, context)] = seen
    [record] = event["Records"]
    assert record["messageId"] == message_id and record["body"] == '{"hello": "world"}'
    assert record["receiptHandle"] and record["md5OfBody"]
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["messageAttributes"]["channel"]["stringValue"] == "sms"
    assert record["messageAttributes"]["channel"]["dataType"] == "String"
    assert record["eventSource"] == "aws:sqs" and record["awsRegion"] == "eu-north-1"
    assert record["eventSourceARN"].endswith(":ai-multi-comms-sms-queue-dev")
    assert context.get_remaining_time_in_millis() > 0 and context.aws_request_id


def test_successes_are_deleted_and_reported_failures_stay(aws):
    sqs, url = _queue(aws)
    ok, failing = _send(sqs, url, "ok", "fails")

    result = poll_once(sqs, url, lambda event, _: {"batchItemFailures": [{"itemIdentifier": failing}]})

    assert result.deleted == [ok] and result.failed == [failing]
    assert _depth(sqs, url) == 1


def test_a_function_error_or_an_invalid_partial_response_keeps_the_whole_batch(aws):
    sqs, url = _queue(aws)
    _send(sqs, url, "a", "b")

    def crash(event, context):
        raise RuntimeError("boom")

    crashed = poll_once(sqs, url, crash)
    sqs.purge_queue(QueueUrl=url)
    _send(sqs, url, "c")
    invalid = poll_once(sqs, url, lambda event, _: {"batchItemFailures": [{"itemIdentifier": "not-in-batch"}]})

    assert crashed.deleted == [] and isinstance(crashed.error, RuntimeError) and len(crashed.failed) == 2
    assert invalid.deleted == [] and len(invalid.failed) == 1


def test_an_empty_queue_does_not_invoke_the_function(aws):
    sqs, url = _queue(aws)
    calls = []

    result = poll_once(sqs, url, lambda event, context: calls.append(event))

    assert calls == [] and result.received == []


def test_a_batch_whose_worker_died_is_visible_again_at_once_for_a_live_worker(aws):
    sqs, url = _queue(aws)  # a visibility timeout of 30 s: a plain failure would hide them that long
    sent = _send(sqs, url, "a", "b")

    def dies(event, context):
        raise WorkerDied("sms_processor: worker pid 4242 died during the invocation")

    died = poll_once(sqs, url, dies)
    again = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])

    assert died.deleted == [] and sorted(died.failed) == sorted(sent) and died.released
    assert sorted(m["MessageId"] for m in again) == sorted(sent)


def test_a_function_error_leaves_the_batch_hidden_until_its_visibility_timeout(aws):
    sqs, url = _queue(aws)
    _send(sqs, url, "a")

    def crash(event, context):
        raise FunctionError("sms_processor: RuntimeError: boom")

    crashed = poll_once(sqs, url, crash)

    assert not crashed.released
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages") is None


def test_the_poller_logs_a_failed_invocation_with_the_function_and_what_happens_next(aws, caplog):
    sqs, url = _queue(aws)
    _send(sqs, url, "+447700900123 a body with personal data")
    invoked = threading.Event()

    def crash(event, context):
        invoked.set()
        raise FunctionError("sms_processor: RuntimeError: boom")

    poller = QueuePoller(name="sms-0", sqs=sqs, queue_url=url, invoke=crash, batch_size=10, wait_seconds=0)
    with caplog.at_level(logging.ERROR, logger="local.pollers"):
        poller.start()
        assert invoked.wait(30)
        poller.stop()

    [record] = [r for r in caplog.records if r.name == "local.pollers"]
    assert record.levelno == logging.ERROR
    assert "sms-0" in record.getMessage() and "RuntimeError" in record.getMessage()
    assert "visibility timeout" in record.getMessage()
    assert "+447700900123" not in record.getMessage()
