"""Moving an SQS record to its DLQ at once: for a message no delivery can ever process (it will
never parse), so it need not spend its receives first. Shared by every SQS-fed function."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError


def move_to_dead_letter_queue(
    sqs: Any, dead_letter_queue_url: str | None, record: dict[str, Any], reason: str, logger: Any
) -> bool:
    """Copy the message to the DLQ; False (so SQS redelivers it, and redrives it after its
    receives) when there is no DLQ to write to or the write fails: it is never just dropped."""
    if not dead_letter_queue_url:
        return False
    attributes = {
        name: {"DataType": value.get("dataType", "String"), "StringValue": value["stringValue"]}
        for name, value in (record.get("messageAttributes") or {}).items()
        if "stringValue" in value
    }
    attributes["failure_reason"] = {"DataType": "String", "StringValue": reason[:256]}
    request: dict[str, Any] = {
        "QueueUrl": dead_letter_queue_url,
        "MessageBody": record.get("body") or "<empty>",
        "MessageAttributes": attributes,
    }
    # A FIFO queue's DLQ is FIFO too: the same group (its order) and deduplication id.
    fifo = record.get("attributes") or {}
    if fifo.get("MessageGroupId"):
        request["MessageGroupId"] = fifo["MessageGroupId"]
        request["MessageDeduplicationId"] = fifo.get("MessageDeduplicationId") or record["messageId"]
    try:
        sqs.send_message(**request)
    except (ClientError, BotoCoreError) as error:
        logger.warning("malformed message not moved to the DLQ", extra={"why": type(error).__name__})
        return False
    return True
