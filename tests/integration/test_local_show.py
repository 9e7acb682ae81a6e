"""``make show`` reports everything: every conversation over many scan pages, any one of them
wherever it is in the table, and every dead letter, not the first ten (and leaves them there)."""

from __future__ import annotations

import json

import pytest

from local.show import conversation, conversations, dead_letters
from shared.channels import Channel

BIG = "x" * 300_000  # a long history: four records fill DynamoDB's 1 MB scan page


@pytest.fixture
def env(aws) -> dict[str, str]:
    return {"AWS_ENDPOINT_URL": aws.endpoint_url, "AWS_REGION": aws.region, "ENVIRONMENT": "dev"}


def _put_conversations(aws, count: int) -> None:
    table = aws.table("conversations")
    for index in range(count):
        table.put_item(
            Item={
                "primary_channel": f"+4477009001{index:02d}",
                "conversation_id": f"conv-{index:02d}",
                "created_at": f"2026-11-25T10:00:{index:02d}Z",
                "conversation_status": "initial_message_sent",
                "channel_method": "sms",
                "messages": [{"content": BIG}],
            }
        )


def test_every_conversation_is_listed_across_scan_pages(aws, env):
    _put_conversations(aws, 9)
    assert len(aws.table("conversations").scan()["Items"]) < 9  # the table really spans pages

    listed = conversations(env)

    assert [item["conversation_id"] for item in listed] == [f"conv-{i:02d}" for i in range(9)]


def test_a_conversation_beyond_the_first_page_is_found_in_full(aws, env):
    _put_conversations(aws, 9)
    first_page = {item["conversation_id"] for item in aws.table("conversations").scan()["Items"]}
    beyond = next(f"conv-{i:02d}" for i in range(9) if f"conv-{i:02d}" not in first_page)

    found = conversation(env, beyond)

    assert found is not None and found["conversation_id"] == beyond
    assert found["messages"][0]["content"] == BIG


def test_every_dead_letter_is_shown_and_stays_in_its_dlq(aws, env):
    sqs = aws.client("sqs")
    dlq = aws.queues[Channel.EMAIL].dlq_url
    for index in range(23):
        sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps({"n": index}))

    shown = dead_letters(env)
    shown_again = dead_letters(env)  # right away: nothing was left hidden by the first look

    assert sorted(letter["body"]["n"] for letter in shown["email"]) == list(range(23))
    assert sorted(letter["body"]["n"] for letter in shown_again["email"]) == list(range(23))
    assert shown["sms"] == [] and shown["whatsapp"] == []
    attributes = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "23"
