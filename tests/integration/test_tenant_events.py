"""The tenant-events function end to end on the emulator: a conversation written the way the
pipeline, the events processor and a reply turn write it, the conversations table's real stream
read back, the real handler fed with it; its event log and the webhooks FIFO queue inspected."""

from __future__ import annotations

import copy
import importlib.util
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer

from local.emulator import LocalResources
from shared.channels import Channel
from shared.events.delivery_state import DeliveryState
from shared.identifiers import conversation_id
from shared.models.conversation import ConversationRecord, ConversationStatus, MessageEntry, project_key
from shared.models.tenant_events import WebhookEvent, WebhookEventType, event_id
from shared.processing.conversation_repository import Claim, ConversationRepository, key_of
from shared.replies.inbound import InboundMessage
from shared.replies.inbound_records import InboundRecords
from shared.secret_names import webhook_secret_name
from shared.tables import COMPANY_DATA, CONVERSATIONS, WEBHOOK_EVENTS
from shared.tenant_events.entrypoint import SERVICE
from shared.tenant_events.event_queue import message_group_id
from shared.tenant_events.project_webhooks import ProjectWebhooks
from shared.tenant_events.settings import TenantEventsSettings
from stacks.names import WEBHOOKS_QUEUE, fifo_queue_name
from stacks.settings import load_settings
from tests.conftest import ROOT
from tests.integration.conftest import FakeLambdaContext

S = ConversationStatus
T = WebhookEventType
PERSON = "+447700900123"
COMPANY_NUMBER = "+14155550100"
START = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
RETENTION_DAYS = load_settings("dev").data.conversation_retention_days


def at(seconds: int) -> str:
    return (START + timedelta(seconds=seconds)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class TenantEvents:
    """The emulator's tables and queue, the real handler, and the conversations table's stream."""

    aws: LocalResources
    queue_url: str
    module: Any
    company: dict[str, Any]

    @property
    def dynamodb(self) -> Any:
        return self.aws.client("dynamodb")

    def put_project(self, *, project_id: str, webhook: dict[str, Any] | None) -> None:
        record = self.company | {"project_id": project_id}
        if webhook is not None:
            record["webhook"] = webhook
        serializer = TypeSerializer()
        self.dynamodb.put_item(
            TableName=self.aws.table_name(COMPANY_DATA.logical_name),
            Item={name: serializer.serialize(value) for name, value in record.items()},
        )

    def stream_records(self) -> list[dict[str, Any]]:
        """Every record of the conversations table's stream so far, in shard order."""
        arn = self.dynamodb.describe_table(TableName=self.aws.table_name(CONVERSATIONS.logical_name))["Table"][
            "LatestStreamArn"
        ]
        streams = self.aws.client("dynamodbstreams")
        found: list[dict[str, Any]] = []
        for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
            iterator = streams.get_shard_iterator(
                StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            while iterator:
                page = streams.get_records(ShardIterator=iterator, Limit=100)
                found += page["Records"]
                iterator = page.get("NextShardIterator") if page["Records"] else None
        return found

    def handle(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        return self.module.handler({"Records": records}, FakeLambdaContext(function_name="tenant-events"))

    def logged(self, conversation: str) -> list[dict[str, Any]]:
        table = self.aws.table(WEBHOOK_EVENTS.logical_name)
        return table.query(
            KeyConditionExpression="conversation_id = :c", ExpressionAttributeValues={":c": conversation}
        )["Items"]

    def all_logged(self) -> list[dict[str, Any]]:
        return self.aws.table(WEBHOOK_EVENTS.logical_name).scan()["Items"]

    def queued(self) -> list[dict[str, Any]]:
        """Every message on the FIFO queue, in the order a consumer gets them (each deleted once
        read, as the sender does: a FIFO group gives nothing more while one of its messages is in flight)."""
        sqs = self.aws.client("sqs")
        found: list[dict[str, Any]] = []
        while True:
            batch = sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"], VisibilityTimeout=60
            ).get("Messages", [])
            if not batch:
                return found
            found += batch
            for message in batch:
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])


def _load_handler() -> Any:
    """A fresh module each test: the handler reads its settings at import, as in Lambda."""
    spec = importlib.util.spec_from_file_location("tenant_events_handler", ROOT / "lambdas/tenant_events/handler.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _webhooks_queue(aws: LocalResources) -> str:
    sqs = aws.client("sqs")
    name = fifo_queue_name(WEBHOOKS_QUEUE, aws.env)
    try:  # the local stack's provisioning may create it already
        return sqs.get_queue_url(QueueName=name)["QueueUrl"]
    except sqs.exceptions.QueueDoesNotExist:
        return sqs.create_queue(QueueName=name, Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "false"})[
            "QueueUrl"
        ]


def _settings(aws: LocalResources, queue_url: str) -> TenantEventsSettings:
    return TenantEventsSettings(
        environment=aws.env,
        company_table_name=aws.table_name(COMPANY_DATA.logical_name),
        webhook_events_table_name=aws.table_name(WEBHOOK_EVENTS.logical_name),
        webhook_queue_url=queue_url,
        conversation_retention_days=RETENTION_DAYS,
    )


@pytest.fixture
def tenant_events(
    aws: LocalResources, monkeypatch: pytest.MonkeyPatch, company_record_example: dict[str, Any]
) -> TenantEvents:
    queue_url = _webhooks_queue(aws)
    for name, value in _settings(aws, queue_url).to_environment().items():
        monkeypatch.setenv(name, value)
    harness = TenantEvents(aws=aws, queue_url=queue_url, module=_load_handler(), company=company_record_example)
    company = company_record_example["company_id"]
    harness.put_project(project_id="hooked", webhook=webhook_of(company, "hooked"))
    harness.put_project(project_id="quiet", webhook=None)
    return harness


def webhook_of(company_id: str, project_id: str) -> dict[str, str]:
    return {
        "url": "https://hooks.tenant.example/ai-multi-comms",
        "secret_reference": webhook_secret_name(company_id, project_id, "dev"),
    }


class Conversation:
    """One WhatsApp conversation written with the engine's own writers, step by step."""

    def __init__(self, aws: LocalResources, company_id: str, project_id: str, request_id: str):
        self.dynamodb = aws.client("dynamodb")
        table = aws.table_name(CONVERSATIONS.logical_name)
        self.repository = ConversationRepository(self.dynamodb, table)
        self.inbound = InboundRecords(self.dynamodb, table, self.repository, retention_days=RETENTION_DAYS)
        cid = conversation_id(
            company_id=company_id,
            project_id=project_id,
            request_id=request_id,
            channel=Channel.WHATSAPP,
            sender=COMPANY_NUMBER,
        )
        self.record = ConversationRecord(
            primary_channel=PERSON,
            conversation_id=cid,
            company_id=company_id,
            project_id=project_id,
            request_id=request_id,
            channel_method=Channel.WHATSAPP,
            conversation_status=S.PROCESSING,
            created_at=at(0),
            updated_at=at(0),
            version=1,
            written_by="delivery-1",
            recipient_tel=PERSON,
            recipient_first_name="Alex",
            company_sender=COMPANY_NUMBER,
            gsi_project_key=project_key(company_id, project_id),
            expires_at=int((START + timedelta(days=RETENTION_DAYS)).timestamp()),
        )
        self.claim = Claim(self.repository, token="delivery-1")

    @property
    def id(self) -> str:
        return self.record.conversation_id

    def create(self) -> None:
        self.claim.record, _ = self.repository.claim(self.record)

    def send_first_message(self) -> None:
        self.claim.move(S.AI_GENERATED, now=at(2), fields={"ai_content": {"message": "Hi Alex, shall we book?"}})
        self.claim.move(S.SENDING, now=at(3), fields={"send_started_at": at(3)})
        self.claim.move(
            S.INITIAL_MESSAGE_SENT,
            now=at(4),
            fields={
                "provider_message_id": "SMfirst0001",
                "sent_at": at(4),
                "delivery_status": "queued",
                "delivery_rank": 1,
                "delivery_updated_at": at(4),
            },
            append=MessageEntry(message_id="SMfirst0001", timestamp=at(4), role="assistant", content="Hi Alex"),
        )

    def delivered(self, message_id: str, when: str) -> None:
        state = DeliveryState(delivery_status="delivered", delivery_rank=5, delivery_updated_at=when)
        self.repository.record_delivery(
            key_of(self.record),
            company_id=self.record.company_id,
            project_id=self.record.project_id,
            provider_message_id=message_id,
            state=state,
        )

    def person_writes(self, text: str, when: str) -> None:
        current = self.repository.get(key_of(self.record))
        assert current is not None
        message = InboundMessage(
            channel=Channel.WHATSAPP,
            provider="twilio",
            inbound_id="SMinbound0001",
            sender=PERSON,
            company_address=COMPANY_NUMBER,
            text=text,
        )
        recorded = self.inbound.record(current, message, at=when)
        assert recorded.record is not None
        self.inbound.mark_received(recorded.record, token="events-1", now=when)

    def reply(self, when: int) -> None:
        self.claim = Claim(self.repository, token="reply-1")
        self.claim.record = self.repository.get(key_of(self.record))
        self.claim.move(S.REPLY_PROCESSING, now=at(when), fields={"reply_through": 1})
        self.claim.move(S.REPLY_GENERATED, now=at(when + 1), fields={"reply_content": {"text": "Booked."}})
        self.claim.move(S.REPLY_SENDING, now=at(when + 2), fields={"reply_send_started_at": at(when + 2)})
        self.claim.move(
            S.REPLY_SENT,
            now=at(when + 3),
            fields={
                "provider_message_id": "SMreply0001",
                "answered_through": 1,
                "last_reply_at": at(when + 3),
                "delivery_status": "queued",
                "delivery_rank": 1,
                "delivery_updated_at": at(when + 3),
            },
            append=MessageEntry(
                message_id="SMreply0001", timestamp=at(when + 3), role="assistant", content="Booked.", answers_through=1
            ),
        )


@pytest.fixture
def conversation(aws: LocalResources, company_record_example: dict[str, Any]) -> Iterator[Conversation]:
    yield Conversation(aws, company_record_example["company_id"], "hooked", "7d3c1a52-5f0e-4c1b-9a7e-1b2c3d4e5f60")


def _live_thread(conversation: Conversation) -> None:
    conversation.create()
    conversation.send_first_message()
    conversation.delivered("SMfirst0001", at(6))
    conversation.person_writes("Yes, Tuesday works", at(30))
    conversation.reply(40)


def test_a_conversations_events_are_logged_and_queued_in_the_order_they_happened(
    tenant_events: TenantEvents, conversation: Conversation
):
    _live_thread(conversation)
    records = tenant_events.stream_records()

    assert tenant_events.handle(records) == {"batchItemFailures": []}

    expected = [
        (T.SENT, "", at(4)),
        (T.DELIVERED, "SMfirst0001", at(6)),
        (T.REPLY_RECEIVED, "in#1", at(30)),
        (T.REPLY_SENT, "out#SMreply0001", at(43)),
    ]
    expected_ids = [event_id(conversation.id, kind, disc) for kind, disc, _ in expected]
    queued = tenant_events.queued()
    bodies = [WebhookEvent.model_validate_json(message["Body"]) for message in queued]
    assert [(body.id, body.type, body.timestamp) for body in bodies] == [
        (ident, kind, when) for ident, (kind, _, when) in zip(expected_ids, expected, strict=True)
    ]
    for message, body in zip(queued, bodies, strict=True):
        assert message["Attributes"]["MessageGroupId"] == conversation.id
        assert message["Attributes"]["MessageDeduplicationId"] == body.id
        assert body.data.conversation_id == conversation.id
        assert (body.data.company_id, body.data.project_id) == (conversation.record.company_id, "hooked")
    assert bodies[2].data.message is not None and bodies[2].data.message.content == "Yes, Tuesday works"
    assert bodies[3].data.message is not None and bodies[3].data.message.answers_through == 1

    logged = tenant_events.logged(conversation.id)  # sorted by event_key: the order they happened
    assert [item["webhook_id"] for item in logged] == expected_ids
    for item, message in zip(logged, queued, strict=True):
        assert item["event_key"] == f"{item['occurred_at']}#{item['webhook_id']}"
        assert item["payload"] == message["Body"]  # byte for byte what the sender signs
        assert item["delivery_state"] == "queued"
        assert (item["company_id"], item["project_id"]) == (conversation.record.company_id, "hooked")
        assert "SMfirst0001" not in json.dumps({k: str(v) for k, v in item.items() if k != "payload"})
    # Kept as long as the conversation: the retention after its latest activity (the person wrote).
    reply_expiry = int((START + timedelta(seconds=43) + timedelta(days=RETENTION_DAYS)).timestamp())
    assert int(logged[3]["expires_at"]) == reply_expiry


def test_the_same_stream_records_processed_again_log_and_queue_each_event_once(
    tenant_events: TenantEvents, conversation: Conversation
):
    _live_thread(conversation)
    records = tenant_events.stream_records()

    assert tenant_events.handle(records) == {"batchItemFailures": []}
    assert tenant_events.handle(records) == {"batchItemFailures": []}  # Lambda retried the batch
    assert tenant_events.handle(records[3:6]) == {"batchItemFailures": []}

    assert len(tenant_events.logged(conversation.id)) == 4
    assert len(tenant_events.queued()) == 4


def test_a_project_without_a_webhook_gets_nothing_logged_or_queued(
    tenant_events: TenantEvents, aws: LocalResources, company_record_example: dict[str, Any]
):
    quiet = Conversation(aws, company_record_example["company_id"], "quiet", "0b6a3e0c-7c5d-4e2f-8a1b-2c3d4e5f6a7b")
    _live_thread(quiet)

    assert tenant_events.handle(tenant_events.stream_records()) == {"batchItemFailures": []}

    assert tenant_events.all_logged() == []
    assert tenant_events.queued() == []


def test_two_projects_in_one_batch_only_the_hooked_ones_events_are_queued(
    tenant_events: TenantEvents, conversation: Conversation, aws: LocalResources, company_record_example
):
    quiet = Conversation(aws, company_record_example["company_id"], "quiet", "0b6a3e0c-7c5d-4e2f-8a1b-2c3d4e5f6a7b")
    _live_thread(quiet)
    _live_thread(conversation)

    assert tenant_events.handle(tenant_events.stream_records()) == {"batchItemFailures": []}

    assert {json.loads(m["Body"])["data"]["project_id"] for m in tenant_events.queued()} == {"hooked"}
    assert {item["conversation_id"] for item in tenant_events.all_logged()} == {conversation.id}


def test_a_failing_change_stops_the_batch_there_and_the_retry_from_it_completes_in_order(
    tenant_events: TenantEvents, conversation: Conversation, aws: LocalResources, monkeypatch: pytest.MonkeyPatch
):
    _live_thread(conversation)
    records = tenant_events.stream_records()
    first_with_event = next(
        record
        for record in records
        if record["dynamodb"]["NewImage"]["conversation_status"]["S"] == "initial_message_sent"
    )
    monkeypatch.setenv("WEBHOOK_QUEUE_URL", tenant_events.queue_url.replace(".fifo", "-gone.fifo"))
    broken = _load_handler()

    result = broken.handler({"Records": records}, FakeLambdaContext(function_name="tenant-events"))

    assert result == {"batchItemFailures": [{"itemIdentifier": first_with_event["dynamodb"]["SequenceNumber"]}]}
    assert tenant_events.queued() == []
    # Lambda retries from the failed record: every event once, in order.
    retry_from = records.index(first_with_event)
    assert tenant_events.handle(records[retry_from:]) == {"batchItemFailures": []}
    kinds = [json.loads(m["Body"])["type"] for m in tenant_events.queued()]
    assert kinds == [T.SENT, T.DELIVERED, T.REPLY_RECEIVED, T.REPLY_SENT]
    assert len(tenant_events.logged(conversation.id)) == 4


@pytest.fixture
def handler_logs() -> Iterator[list[str]]:
    """Every line the function logs during the test, formatted as in CloudWatch."""
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    logger = logging.getLogger(SERVICE)
    collector = Collect()
    collector.setFormatter(logger.handlers[0].formatter)
    logger.addHandler(collector)
    yield lines
    logger.removeHandler(collector)


def test_the_handler_logs_no_personal_data_or_message_text(
    tenant_events: TenantEvents, conversation: Conversation, handler_logs: list[str]
):
    _live_thread(conversation)

    tenant_events.handle(tenant_events.stream_records())

    text = "\n".join(handler_logs)
    assert "tenant events queued" in text
    for personal in (PERSON, PERSON.lstrip("+"), "Yes, Tuesday works", "Booked.", "Hi Alex", "Alex"):
        assert personal not in text


def test_an_unreadable_change_is_reported_and_passed_and_the_rest_of_the_batch_goes_on(
    tenant_events: TenantEvents, conversation: Conversation, handler_logs: list[str]
):
    _live_thread(conversation)
    records = tenant_events.stream_records()
    broken = copy.deepcopy(records[0])
    broken["dynamodb"]["NewImage"]["conversation_status"] = {"S": "no-such-status"}
    broken["dynamodb"]["SequenceNumber"] = "1"

    assert tenant_events.handle([broken, *records]) == {"batchItemFailures": []}

    assert len(tenant_events.queued()) == 4
    errors = [json.loads(line) for line in handler_logs if "unreadable conversation change" in line]
    assert len(errors) == 1 and errors[0]["level"] == "ERROR"
    assert "conversation_status" in errors[0]["why"] and "no-such-status" not in errors[0]["why"]


def test_a_changed_webhook_applies_within_the_cache_minute(tenant_events: TenantEvents, aws: LocalResources):
    now = [0.0]
    webhooks = ProjectWebhooks(aws.client("dynamodb"), aws.table_name(COMPANY_DATA.logical_name), clock=lambda: now[0])
    company = tenant_events.company["company_id"]
    assert webhooks.presence(company, "hooked").configured
    assert not webhooks.presence(company, "quiet").configured

    tenant_events.put_project(project_id="hooked", webhook=None)
    tenant_events.put_project(project_id="quiet", webhook=webhook_of(company, "quiet"))
    now[0] = 59.0
    assert webhooks.presence(company, "hooked").configured  # still the cached answer
    now[0] = 60.0
    assert not webhooks.presence(company, "hooked").configured
    assert webhooks.presence(company, "quiet").configured
    assert not webhooks.presence(company, "no-such-project").configured


def test_an_invalid_webhook_still_gets_its_events_queued_and_names_only_the_bad_fields(
    tenant_events: TenantEvents, conversation: Conversation, handler_logs: list[str]
):
    tenant_events.put_project(
        project_id="hooked",
        webhook={"url": "https://user:pa55word@hooks.tenant.example/x?token=tenant-own-token", "secret_reference": ""},
    )
    _live_thread(conversation)

    assert tenant_events.handle(tenant_events.stream_records()) == {"batchItemFailures": []}

    # Queued all the same: the sender dead-letters them until the operator fixes the webhook.
    assert len(tenant_events.queued()) == 4
    errors = [json.loads(line) for line in handler_logs if "webhook is invalid" in line]
    assert errors and {error["why"] for error in errors} == {"invalid webhook fields: secret_reference, url"}
    assert not [line for line in handler_logs if "pa55word" in line or "tenant-own-token" in line]


def test_a_group_id_sqs_would_refuse_becomes_a_digest():
    assert message_group_id("ci#pi#r#+14155550100") == "ci#pi#r#+14155550100"
    long_sender = "ci#pi#r#" + "a" * 121  # 129 characters
    assert message_group_id(long_sender) == message_group_id(long_sender)
    assert message_group_id(long_sender).startswith("conv_") and len(message_group_id(long_sender)) <= 128
    assert message_group_id("ci#pi#r#jösé@exämple.com").startswith("conv_")  # SQS takes ASCII only


def test_a_held_first_message_is_scheduled_and_an_erased_conversation_tells_nothing(
    tenant_events: TenantEvents, conversation: Conversation
):
    conversation.record = conversation.record.model_copy(
        update={"conversation_status": S.SCHEDULED, "scheduled_for": at(3600), "schedule_reason": "send_at"}
    )
    conversation.create()
    assert tenant_events.handle(tenant_events.stream_records()) == {"batchItemFailures": []}
    (scheduled,) = [WebhookEvent.model_validate_json(m["Body"]) for m in tenant_events.queued()]
    assert (scheduled.type, scheduled.timestamp, scheduled.data.scheduled_for) == (T.SCHEDULED, at(0), at(3600))

    already = len(tenant_events.stream_records())
    conversation.dynamodb.delete_item(
        TableName=tenant_events.aws.table_name(CONVERSATIONS.logical_name), Key=key_of(conversation.record).item_key()
    )
    removal = tenant_events.stream_records()[already:]
    assert [record["eventName"] for record in removal] == ["REMOVE"]

    assert tenant_events.handle(removal) == {"batchItemFailures": []}
    assert tenant_events.queued() == []
    assert len(tenant_events.logged(conversation.id)) == 1
