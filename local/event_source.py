"""A small emulation of Lambda's SQS event source mapping, for the local stack and the tests.

One ``poll_once`` is one cycle of the real poller: receive up to ``batch_size`` messages, hand them
to the function as the SQS event Lambda builds, then delete the records that succeeded. Records
named in ``batchItemFailures`` (or the whole batch, when the function fails or answers with an
invalid partial response) are left alone: they reappear when their visibility timeout ends, and
the queue's redrive policy moves them to the DLQ after ``maxReceiveCount`` receives.

One exception: when the worker process died under the invocation (``WorkerDied`` — killed, or
stopped with the stack), the batch is made visible again at once (visibility 0) for a live
worker, as Lambda retries an invocation its own infrastructure lost; waiting out the visibility
timeout would hold those messages back for minutes for no fault of theirs.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from local.function_host import LambdaContext
from local.invoker import WorkerDied

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass
class PollResult:
    received: list[str] = field(default_factory=list)  # message ids handed to the function
    deleted: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # left on the queue for another receive
    response: Any = None
    error: BaseException | None = None  # what the function raised, if it raised
    released: bool = False  # the failed batch was made visible again at once (its worker died)


def poll_once(
    sqs: Any,
    queue_url: str,
    handler: Handler,
    *,
    batch_size: int = 10,
    wait_seconds: int = 0,
    context: Any = None,
    visibility_timeout: int | None = None,
) -> PollResult:
    """Receive one batch, invoke ``handler(event, context)``, delete what succeeded."""
    request: dict[str, Any] = {
        "QueueUrl": queue_url,
        "MaxNumberOfMessages": batch_size,
        "WaitTimeSeconds": wait_seconds,
        "AttributeNames": ["All"],
        "MessageAttributeNames": ["All"],
    }
    if visibility_timeout is not None:
        request["VisibilityTimeout"] = visibility_timeout
    messages = sqs.receive_message(**request).get("Messages", [])
    result = PollResult(received=[m["MessageId"] for m in messages])
    if not messages:
        return result
    event = sqs_event(messages, queue_arn=_queue_arn(sqs, queue_url), region=sqs.meta.region_name)
    try:
        result.response = handler(event, context or _context(queue_url))
    except Exception as error:  # a function error: Lambda retries the whole batch
        result.error = error
        result.failed = list(result.received)
        if isinstance(error, WorkerDied):
            _release(sqs, queue_url, messages)
            result.released = True
        return result
    result.failed = _failed_ids(result.response, result.received)
    done = [m for m in messages if m["MessageId"] not in result.failed]
    for start in range(0, len(done), 10):
        chunk = done[start : start + 10]
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
        )
    result.deleted = [m["MessageId"] for m in done]
    return result


def _release(sqs: Any, queue_url: str, messages: list[dict[str, Any]]) -> None:
    """Make received messages visible again now (their receive count stays as SQS counted it)."""
    for start in range(0, len(messages), 10):
        chunk = messages[start : start + 10]
        sqs.change_message_visibility_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0} for i, m in enumerate(chunk)
            ],
        )


def sqs_event(messages: list[dict[str, Any]], *, queue_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda hands an SQS-triggered function (the ``Records`` of ``aws:sqs``)."""
    return {"Records": [_record(m, queue_arn=queue_arn, region=region) for m in messages]}


def _record(message: dict[str, Any], *, queue_arn: str, region: str) -> dict[str, Any]:
    body = message.get("Body", "")
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": body,
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue"),
                "stringListValues": value.get("StringListValues", []),
                "binaryListValues": value.get("BinaryListValues", []),
                "dataType": value.get("DataType", "String"),
            }
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message.get("MD5OfBody") or hashlib.md5(body.encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def _failed_ids(response: Any, received: list[str]) -> list[str]:
    """The ids to keep, read like Lambda reads a partial batch response."""
    if response is None:
        return []
    if not isinstance(response, dict) or "errorType" in response:
        return list(received)  # a function error reported by a host, or not a batch response
    failures = response.get("batchItemFailures")
    if failures is None:
        return []
    if not isinstance(failures, list):
        return list(received)
    ids = [item.get("itemIdentifier") if isinstance(item, dict) else None for item in failures]
    if any(not i or i not in received for i in ids):
        return list(received)  # an invalid partial response fails the whole batch
    return [i for i in ids if i]


def _queue_arn(sqs: Any, queue_url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def _context(queue_url: str) -> LambdaContext:
    name = queue_url.rstrip("/").rsplit("/", 1)[-1]
    return LambdaContext(f"{name}-consumer", 512, 120, aws_request_id=str(uuid.uuid4()))
