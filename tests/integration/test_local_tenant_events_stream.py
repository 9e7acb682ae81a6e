"""The local stream poller feeding the real tenant-events function (in its own process, as the
local stack runs it): a conversation written by the engine's own writers becomes its tenant
events, logged and queued in the order they happened; the records written before the poller
started (a restore) become none."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from local.invoker import FunctionPool
from local.stream_poller import StreamPoller
from shared.models.tenant_events import WebhookEvent, WebhookEventType
from shared.tables import COMPANY_DATA, WEBHOOK_EVENTS
from shared.tenant_events.settings import TenantEventsSettings
from tests.conftest import REGION
from tests.integration.test_tenant_events import RETENTION_DAYS, Conversation, at, webhook_of

T = WebhookEventType


@pytest.fixture
def tenant_events_function(aws, company_record_example: dict[str, Any], tmp_path) -> Iterator[FunctionPool]:
    company = company_record_example["company_id"]
    aws.table(COMPANY_DATA.logical_name).put_item(
        Item=company_record_example | {"project_id": "hooked", "webhook": webhook_of(company, "hooked")}
    )
    settings = TenantEventsSettings(
        environment=aws.env,
        company_table_name=aws.table_name(COMPANY_DATA.logical_name),
        webhook_events_table_name=aws.table_name(WEBHOOK_EVENTS.logical_name),
        webhook_queue_url=aws.webhooks_queue.queue_url,
        conversation_retention_days=RETENTION_DAYS,
    )
    environment = {
        "AWS_ENDPOINT_URL": aws.endpoint_url,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "POWERTOOLS_TRACE_DISABLED": "true",
        **settings.to_environment(),
    }
    pool = FunctionPool("tenant_events", environment, size=1, log_file=tmp_path / "tenant-events.log")
    try:
        yield pool.wait_ready()
    finally:
        pool.stop()


def _queued(aws) -> list[WebhookEvent]:
    sqs = aws.client("sqs")
    found = []
    while batch := sqs.receive_message(
        QueueUrl=aws.webhooks_queue.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"]
    ).get("Messages"):
        for message in batch:
            found.append(WebhookEvent.model_validate_json(message["Body"]))
            sqs.delete_message(QueueUrl=aws.webhooks_queue.queue_url, ReceiptHandle=message["ReceiptHandle"])
    return found


def test_a_conversation_written_after_the_start_reaches_the_queue_as_its_events_in_order(
    aws, tenant_events_function, company_record_example
):
    restored = Conversation(aws, company_record_example["company_id"], "hooked", "0b5e8a52-5f0e-4c1b-9a7e-1b2c3d4e5f61")
    restored.create()
    restored.send_first_message()  # before the start: as a restore puts it back
    poller = StreamPoller(
        name="tenant-events",
        streams=aws.client("dynamodbstreams"),
        stream_arn=aws.conversations_stream_arn,
        invoke=tenant_events_function.invoke,
    )
    live = Conversation(aws, company_record_example["company_id"], "hooked", "7d3c1a52-5f0e-4c1b-9a7e-1b2c3d4e5f60")
    live.create()
    live.send_first_message()
    live.delivered("SMfirst0001", at(6))
    live.person_writes("Yes, Tuesday works", at(30))
    live.reply(40)

    results = []
    while (result := poller.poll_once()).invoked:
        results.append(result)

    assert all(r.retried_from == [] and r.skipped == [] for r in results)
    events = _queued(aws)
    assert [(e.type, e.data.conversation_id) for e in events] == [
        (T.SENT, live.id),
        (T.DELIVERED, live.id),
        (T.REPLY_RECEIVED, live.id),
        (T.REPLY_SENT, live.id),
    ]
    logged = aws.table(WEBHOOK_EVENTS.logical_name).scan()["Items"]
    assert {item["conversation_id"] for item in logged} == {live.id}
