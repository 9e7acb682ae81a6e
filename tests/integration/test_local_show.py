"""``make show`` reports everything: every conversation over many scan pages, any one of them
wherever it is in the table, and every dead letter, not the first ten (and leaves them there).
One conversation's thread is ``comms conversations show`` (tests/integration/test_comms_conversations.py)."""

from __future__ import annotations

import json

import pytest

from local.show import conversation, conversations, dead_letters, main, unmatched_events
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
    assert shown["sms"] == [] and shown["whatsapp"] == [] and shown["events"] == []
    attributes = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "23"


def test_the_events_dlq_is_shown_beside_the_channels(aws, env):
    aws.client("sqs").send_message(QueueUrl=aws.events_queue.dlq_url, MessageBody=json.dumps({"kind": "twilio_status"}))

    shown = dead_letters(env)

    assert [letter["body"] for letter in shown["events"]] == [{"kind": "twilio_status"}]
    assert shown["email"] == []


def test_the_tenant_webhooks_fifo_dlq_is_shown_and_stays(aws, env):
    sqs = aws.client("sqs")
    for group, n in (("conv-a", 1), ("conv-a", 2), ("conv-b", 1)):
        body = json.dumps({"id": f"evt_{group}_{n}", "type": "conversation.sent"})
        sqs.send_message(
            QueueUrl=aws.webhooks_queue.dlq_url, MessageBody=body, MessageGroupId=group, MessageDeduplicationId=body
        )

    shown = dead_letters(env)
    shown_again = dead_letters(env)

    for look in (shown, shown_again):
        assert sorted(letter["body"]["id"] for letter in look["webhooks"]) == [
            "evt_conv-a_1",
            "evt_conv-a_2",
            "evt_conv-b_1",
        ]
    assert shown["events"] == []


def _conversation(index: int, **fields) -> dict:
    return {
        "primary_channel": f"+44770090020{index}",
        "conversation_id": f"ci-demo-001#pi-demo-001#req-{index}#447700900002",
        "created_at": f"2026-11-25T10:00:0{index}Z",
        "channel_method": "sms",
        "conversation_status": "initial_message_sent",
        **fields,
    }


def test_each_conversation_shows_its_delivery_status_beside_its_processing_status(aws, env, tmp_path, capsys):
    table = aws.table("conversations")
    table.put_item(Item=_conversation(0, delivery_status="delivered", delivery_rank=5))
    table.put_item(
        Item=_conversation(
            1, delivery_status="undelivered", delivery_error_code="30003", delivery_error_reason="Unreachable handset"
        )
    )
    table.put_item(Item=_conversation(2, conversation_status="processing"))  # no webhook yet
    messages = aws.table("provider-messages")
    for event in ("EV1", "EV2"):
        messages.put_item(
            Item={"provider_message_key": f"unmatched#twilio#SM404#{event}", "item_type": "unmatched", "reason": "x"}
        )
    messages.put_item(Item={"provider_message_key": "twilio#SM200", "item_type": "message"})
    env_file = tmp_path / "env"
    env_file.write_text("".join(f"export {name}={value}\n" for name, value in env.items()))

    assert main(["conversations", "--env-file", str(env_file)]) == 0

    lines = capsys.readouterr().out.splitlines()
    assert "processing status" in lines[1] and "delivery" in lines[1]
    assert "initial_message_sent" in lines[2] and " delivered " in lines[2] and "req-0" in lines[2]
    assert "undelivered (30003 Unreachable handset)" in lines[3] and "req-1" in lines[3]
    assert "processing" in lines[4] and " - " in lines[4]
    assert lines[5] == "Unmatched provider events: 2"
    assert unmatched_events(env) == 2
