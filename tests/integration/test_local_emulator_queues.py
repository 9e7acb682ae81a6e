"""``provision()`` makes the tenant webhooks' FIFO queue and its FIFO DLQ as the contract names
them, and moto keeps FIFO order per message group."""

from __future__ import annotations

import json

from stacks.names import WEBHOOKS_QUEUE, fifo_dlq_name, fifo_queue_name
from stacks.settings import load_settings


def _attributes(sqs, url: str) -> dict[str, str]:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]


def test_the_webhooks_queue_and_its_dlq_are_fifo_with_the_contract_redrive(aws):
    sqs = aws.client("sqs")
    queue, dlq = aws.webhooks_queue.queue_url, aws.webhooks_queue.dlq_url

    assert queue.endswith("/" + fifo_queue_name(WEBHOOKS_QUEUE, "dev"))
    assert dlq.endswith("/" + fifo_dlq_name(WEBHOOKS_QUEUE, "dev"))
    main, dead = _attributes(sqs, queue), _attributes(sqs, dlq)
    assert main["FifoQueue"] == dead["FifoQueue"] == "true"
    assert main["ContentBasedDeduplication"] == "false"  # the event id is the deduplication id
    assert json.loads(main["RedrivePolicy"]) == {
        "deadLetterTargetArn": dead["QueueArn"],
        "maxReceiveCount": load_settings("dev").webhook_sender.max_receive_count,
    }
    assert main["VisibilityTimeout"] == str(load_settings("dev").webhook_sender.visibility_timeout_seconds)
    assert aws.work_queues()[WEBHOOKS_QUEUE] == aws.webhooks_queue


def test_a_group_is_held_while_its_message_is_in_flight_and_other_groups_are_not(aws):
    sqs = aws.client("sqs")
    url = aws.webhooks_queue.queue_url
    for group, n in (("conv-a", 1), ("conv-a", 2), ("conv-b", 1)):
        sqs.send_message(
            QueueUrl=url, MessageBody=f"{group}-{n}", MessageGroupId=group, MessageDeduplicationId=f"{group}-{n}"
        )
    sqs.send_message(QueueUrl=url, MessageBody="conv-a-1", MessageGroupId="conv-a", MessageDeduplicationId="conv-a-1")

    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=60)["Messages"]
    rest = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60).get("Messages", [])

    assert [m["Body"] for m in first] == ["conv-a-1"]
    assert [m["Body"] for m in rest] == ["conv-b-1"]  # conv-a-2 waits for conv-a-1; the duplicate is gone
