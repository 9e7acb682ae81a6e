"""``comms webhooks replay`` against the emulator: what it lists, what it puts back on the webhooks
FIFO queue (in order, in the conversation's group, the same body and webhook id, a new
deduplication id), and its refusals."""

from __future__ import annotations

import json

import pytest

from shared.channels import Channel
from shared.models.conversation import ConversationStatus
from shared.models.tenant_events import WebhookEvent, WebhookEventData, WebhookEventType, event_id
from shared.tenant_events.event_log import WebhookEventLog, event_key

CONVERSATION = "ci-demo-001#pi-demo-001#3f8b2c1e-4d5a-4b6c-9e7f-0a1b2c3d4e5f#whatsapp:+447700900000"
OTHER = "ci-demo-001#pi-demo-001#0d1e2f3a-4d5a-4b6c-9e7f-0a1b2c3d4e5f#whatsapp:+447700900000"
_T = WebhookEventType
# (type, discriminator, when, delivery state): the order they happened in.
HISTORY = [
    (_T.SENT, "", "2026-11-26T09:00:00.000Z", "delivered"),
    (_T.DELIVERED, "SM1", "2026-11-26T09:00:05.000Z", "delivered"),
    (_T.REPLY_RECEIVED, "in#1", "2026-11-26T09:10:00.000Z", "dead_lettered"),
    (_T.REPLY_SENT, "out#SM2", "2026-11-26T09:10:30.000Z", "pending"),
]


def _event(conversation_id: str, event_type: WebhookEventType, discriminator: str, when: str) -> WebhookEvent:
    return WebhookEvent(
        id=event_id(conversation_id, event_type, discriminator),
        type=event_type,
        timestamp=when,
        data=WebhookEventData(
            conversation_id=conversation_id,
            company_id="ci-demo-001",
            project_id="pi-demo-001",
            request_id=conversation_id.split("#")[2],
            channel=Channel.WHATSAPP,
            conversation_status=ConversationStatus.INITIAL_MESSAGE_SENT,
            task_complete=False,
        ),
    )


@pytest.fixture
def logged(aws):
    """The two conversations' events in the log (written out of order: the sort key orders them)."""
    log = WebhookEventLog(aws.client("dynamodb"), aws.table_name("webhook-events"))
    table = aws.table("webhook-events")
    events = {}
    for conversation_id in (CONVERSATION, OTHER):
        for event_type, discriminator, when, state in reversed(HISTORY):
            event = _event(conversation_id, event_type, discriminator, when)
            events.setdefault(conversation_id, []).insert(0, event)
            assert log.add(event, expires_at=1_900_000_000, logged_at=when)
            table.update_item(  # as the sender records the outcome
                Key={"conversation_id": conversation_id, "event_key": event_key(event)},
                UpdateExpression="SET delivery_state = :s",
                ExpressionAttributeValues={":s": state},
            )
    return events


@pytest.fixture
def queue(aws) -> str:
    return aws.webhooks_queue.queue_url


def _tool(comms, *arguments: str):
    return comms("webhooks", "replay", *arguments)


def _queued(aws, queue: str) -> list[dict]:
    sqs = aws.client("sqs")
    found = []
    while batch := sqs.receive_message(
        QueueUrl=queue,
        MaxNumberOfMessages=10,
        MessageSystemAttributeNames=["MessageGroupId", "MessageDeduplicationId"],
    ).get("Messages"):
        found += batch
        for message in batch:
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    return found


def test_a_dry_run_lists_the_conversations_events_in_order_and_sends_nothing(aws, comms, logged, queue):
    done = _tool(comms, "--conversation-id", CONVERSATION)

    assert done.code == 0, done.stderr
    header, *lines = done.stdout.strip().splitlines()
    expected = logged[CONVERSATION]
    assert header.split() == ["TIMESTAMP", "TYPE", "ID", "DELIVERY_STATE"]
    assert [line.split()[:3] for line in lines[:-1]] == [[e.timestamp, e.type.value, e.id] for e in expected]
    assert [line.split()[-1] for line in lines[:-1]] == [state for *_, state in HISTORY]
    assert lines[-1].startswith("dry run: 4 event(s) would be re-sent to ai-multi-comms-webhooks-queue-dev.fifo")
    assert _queued(aws, queue) == []


def test_yes_requeues_them_in_order_with_their_ids_and_new_dedup_ids_and_again_on_a_second_run(
    aws, comms, logged, queue
):
    first = _tool(comms, "--conversation-id", CONVERSATION, "--yes")
    second = _tool(comms, "--conversation-id", CONVERSATION, "--yes")

    assert first.code == 0, first.stderr
    assert second.code == 0, second.stderr
    assert "re-sent 4 event(s) to ai-multi-comms-webhooks-queue-dev.fifo" in first.stdout
    queued = _queued(aws, queue)
    expected = logged[CONVERSATION]
    # Both runs arrive (a new dedup id each time), each in the order the events happened.
    assert [WebhookEvent.model_validate_json(m["Body"]) for m in queued] == expected + expected
    assert {m["Attributes"]["MessageGroupId"] for m in queued} == {CONVERSATION}
    dedup_ids = [m["Attributes"]["MessageDeduplicationId"] for m in queued]
    assert len(set(dedup_ids)) == 8
    assert all(d.startswith(e.id) and d != e.id for d, e in zip(dedup_ids, expected + expected, strict=True))


def test_since_and_type_narrow_what_is_replayed(aws, comms, logged, queue):
    done = _tool(comms, "--conversation-id", CONVERSATION, "--since", "2026-11-26T09:00:05Z", "--json", "--yes")

    assert done.code == 0, done.stderr
    answer = done.json()
    assert answer["replayed"] is True
    assert [e["type"] for e in answer["events"]] == [
        "conversation.delivered",
        "conversation.reply_received",
        "conversation.reply_sent",
    ]
    assert [json.loads(m["Body"])["type"] for m in _queued(aws, queue)] == [e["type"] for e in answer["events"]]

    only = _tool(comms, "--conversation-id", CONVERSATION, "--type", "reply_received", "--json")
    assert [e["id"] for e in only.json()["events"]] == [logged[CONVERSATION][2].id]


def test_a_conversation_without_logged_events_says_so(aws, comms, logged, queue):
    done = _tool(comms, "--conversation-id", "ci-demo-001#pi-demo-001#nothing#x", "--yes")

    assert done.code == 1
    assert (
        done.stderr.strip()
        == "error: no logged events for ci-demo-001#pi-demo-001#nothing#x in ai-multi-comms-webhook-events-dev"
    )
    assert done.stdout == ""
    assert _queued(aws, queue) == []
    unknown = _tool(comms, "--conversation-id", OTHER.replace("0d1e2f3a", "00000000"))
    assert unknown.code == 1 and "whatsapp:+44********00 in" in unknown.stderr  # echoed masked


@pytest.mark.parametrize(
    ("arguments", "why"),
    [
        (("--since", "yesterday"), "--since 'yesterday' is not an ISO 8601 time"),
        (("--since", "2026-11-26T09:00:00"), "has no zone"),
        (("--type", "conversation.exploded"), "--type 'conversation.exploded' is not an event type"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_read(aws, comms, arguments, why):
    done = _tool(comms, "--conversation-id", CONVERSATION, *arguments)

    assert done.code == 2
    assert why in done.stderr


def test_a_log_item_that_is_not_an_event_stops_the_replay_before_anything_is_sent(aws, comms, logged, queue):
    aws.table("webhook-events").put_item(
        Item={"conversation_id": CONVERSATION, "event_key": "2026-11-26T09:05:00.000Z#evt_x", "payload": "{}"}
    )

    done = _tool(comms, "--conversation-id", CONVERSATION, "--yes")

    assert done.code == 1
    assert "'2026-11-26T09:05:00.000Z#evt_x' is not a valid event" in done.stderr
    assert _queued(aws, queue) == []


def test_a_queue_refusing_midway_says_how_many_went_and_sends_none_after(aws, comms, logged, queue):
    # The third event's body over the queue's size limit: the queue refuses it; those before it went.
    aws.client("sqs").set_queue_attributes(QueueUrl=queue, Attributes={"MaximumMessageSize": "1024"})
    big = logged[CONVERSATION][2].model_copy(deep=True)
    big.data.reason = "x" * 2048
    aws.table("webhook-events").update_item(
        Key={"conversation_id": CONVERSATION, "event_key": event_key(big)},
        UpdateExpression="SET payload = :p",
        ExpressionAttributeValues={":p": big.model_dump_json()},
    )

    done = _tool(comms, "--conversation-id", CONVERSATION, "--yes")

    assert done.code == 1
    assert "after 2 were re-sent; the rest were not" in done.stderr
    assert [WebhookEvent.model_validate_json(m["Body"]) for m in _queued(aws, queue)] == logged[CONVERSATION][:2]
