"""``local.state`` carries everything the local stack holds across a restart: saved from one
emulator, restored into a freshly provisioned one, nothing lost and nothing changed."""

from __future__ import annotations

import json
import stat

import pytest
import requests

from local.aws_emulator import release_hidden_messages
from local.emulator import provision
from local.seed import Tenant, create_api, create_tenant_key
from local.state import StateError, restore, save
from shared.channels import Channel
from stacks.settings import load_settings
from tests.conftest import REGION
from tests.integration.test_sandboxes import send_sms, twilio_client

SANDBOXES = {"openai": "sandbox", "twilio": "sandbox", "sendgrid": "sandbox"}
BIG = "x" * 300_000  # four of these exceed DynamoDB's 1 MB scan page


def _fresh_emulator(aws):
    requests.post(f"{aws.endpoint_url}/moto-api/reset", timeout=10).raise_for_status()
    resources = provision(load_settings("dev"), endpoint_url=aws.endpoint_url, region=REGION)
    return resources, create_api(resources, load_settings("dev"))


def _all_messages(sqs, url):
    found = []
    while batch := sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60, MessageAttributeNames=["All"]
    ).get("Messages"):
        found += batch
    return found


@pytest.fixture
def saved(aws, sandbox, tmp_path):
    """A stack's worth of state, saved: items over several scan pages, queued and dead messages
    (one of them in flight), a secret, two keys (one outside the plan), a Twilio message."""
    api = create_api(aws, load_settings("dev"))
    key_id, key_value = create_tenant_key(aws, api, "tenant")
    apigateway = aws.client("apigateway")
    loose = apigateway.create_api_key(name="loose", enabled=False, value="a-key-outside-every-usage-plan")
    conversations = aws.table("conversations")
    for index in range(6):
        conversations.put_item(
            Item={"primary_channel": "+447700900123", "conversation_id": f"c{index}", "blob": BIG, "n": 10**30 + index}
        )
    sqs = aws.client("sqs")
    urls = aws.queues[Channel.SMS]
    attributes = {"conversation_id": {"DataType": "String", "StringValue": "c1"}}
    for index in range(12):
        sqs.send_message(QueueUrl=urls.queue_url, MessageBody=f'{{"n": {index}}}', MessageAttributes=attributes)
        sqs.send_message(QueueUrl=urls.dlq_url, MessageBody=f'{{"dead": {index}}}')
    in_flight = sqs.receive_message(QueueUrl=urls.queue_url, VisibilityTimeout=0)  # released at once
    assert in_flight["Messages"]
    events = aws.events_queue
    for index in range(3):
        sqs.send_message(QueueUrl=events.queue_url, MessageBody=f'{{"event": {index}}}')
    sqs.send_message(QueueUrl=events.dlq_url, MessageBody='{"dead event": 0}')
    assert in_flight["Messages"]
    aws.client("secretsmanager").create_secret(Name="ai-multi-comms/sms/t", SecretString='{"twilio_auth_token": "t"}')
    send_sms(twilio_client(sandbox), body="Hello Alex")
    tenant = Tenant("ci-demo-001", "pi-demo-001", key_id, key_value)
    path = tmp_path / "state" / "snapshot.json"

    summary = save(path, aws, api, tenant, sandbox, providers=SANDBOXES)

    return path, summary, tenant, loose


def test_everything_saved_comes_back_in_a_fresh_emulator(aws, sandbox, saved):
    path, summary, tenant, loose = saved
    assert summary.items["conversations"] == 6 and summary.messages["ai-multi-comms-sms-queue-dev"] == 12
    assert summary.messages["ai-multi-comms-sms-dlq-dev"] == 12 and summary.not_saved == 0
    assert summary.messages["ai-multi-comms-events-queue-dev"] == 3
    assert summary.messages["ai-multi-comms-events-dlq-dev"] == 1
    sandbox.reset()
    resources, api = _fresh_emulator(aws)

    restored_tenant, restored = restore(path, resources, api, sandbox, providers=SANDBOXES)

    assert restored_tenant == tenant and restored.items == summary.items
    items = resources.table("conversations").scan()["Items"]  # a second page is read below
    assert len(items) < 6
    client = resources.client("dynamodb")
    pages = client.get_paginator("scan").paginate(TableName=resources.table_name("conversations"))
    every = [item for page in pages for item in page["Items"]]
    assert sorted(i["conversation_id"]["S"] for i in every) == [f"c{i}" for i in range(6)]
    assert {i["n"]["N"] for i in every} == {str(10**30 + i) for i in range(6)}  # no float rounding
    sqs = resources.client("sqs")
    queued = _all_messages(sqs, resources.queues[Channel.SMS].queue_url)
    assert sorted(json.loads(m["Body"])["n"] for m in queued) == list(range(12))
    assert all(m["MessageAttributes"]["conversation_id"]["StringValue"] == "c1" for m in queued)
    assert len(_all_messages(sqs, resources.queues[Channel.SMS].dlq_url)) == 12
    events = _all_messages(sqs, resources.events_queue.queue_url)
    assert sorted(json.loads(m["Body"])["event"] for m in events) == [0, 1, 2]
    assert [m["Body"] for m in _all_messages(sqs, resources.events_queue.dlq_url)] == ['{"dead event": 0}']
    secret = resources.client("secretsmanager").get_secret_value(SecretId="ai-multi-comms/sms/t")
    assert json.loads(secret["SecretString"]) == {"twilio_auth_token": "t"}
    apigateway = resources.client("apigateway")
    keys = {k["id"]: k for k in apigateway.get_api_keys(includeValues=True)["items"]}
    assert keys[tenant.api_key_id]["value"] == tenant.api_key and keys[tenant.api_key_id]["enabled"]
    assert keys[loose["id"]]["value"] == loose["value"] and not keys[loose["id"]]["enabled"]
    plan = apigateway.get_usage_plans()["items"][0]["id"]
    assert [k["id"] for k in apigateway.get_usage_plan_keys(usagePlanId=plan)["items"]] == [tenant.api_key_id]
    assert [m["body"] for m in sandbox.twilio.outbox] == ["Hello Alex"]
    listed = twilio_client(sandbox).messages.list(to="+447700900123")
    assert [m.body for m in listed] == ["Hello Alex"]


def test_the_saved_file_is_readable_by_its_owner_only(saved):
    path = saved[0]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_state_of_another_environment_is_refused_with_its_reason(aws, sandbox, saved):
    path = saved[0]
    snapshot = json.loads(path.read_text())
    path.write_text(json.dumps(snapshot | {"environment": "prod"}))
    resources, api = _fresh_emulator(aws)

    with pytest.raises(StateError, match="'prod'"):
        restore(path, resources, api, sandbox, providers=SANDBOXES)


def test_state_saved_for_the_sandboxes_is_refused_when_a_real_provider_is_configured(aws, sandbox, saved):
    path = saved[0]
    resources, api = _fresh_emulator(aws)

    with pytest.raises(StateError, match="providers"):
        restore(path, resources, api, sandbox, providers=SANDBOXES | {"openai": "real"})
    assert resources.table("company-data").scan()["Items"] == []  # refused before writing anything


def test_a_message_hidden_for_a_retry_at_the_stop_is_saved_and_delivered_after_the_restart(aws, sandbox, tmp_path):
    # A processor failed it: SQS hides it for the visibility timeout, out of reach of any receive.
    api = create_api(aws, load_settings("dev"))
    key_id, key_value = create_tenant_key(aws, api, "tenant")
    sqs = aws.client("sqs")
    url = aws.queues[Channel.EMAIL].queue_url
    sqs.send_message(QueueUrl=url, MessageBody='{"retry": "me"}')
    assert sqs.receive_message(QueueUrl=url, VisibilityTimeout=720)["Messages"]
    assert sqs.receive_message(QueueUrl=url).get("Messages") is None
    path = tmp_path / "state" / "snapshot.json"

    assert release_hidden_messages() == 1
    summary = save(path, aws, api, Tenant("ci-demo-001", "pi-demo-001", key_id, key_value), None, providers=SANDBOXES)
    resources, fresh_api = _fresh_emulator(aws)
    restore(path, resources, fresh_api, None, providers=SANDBOXES)

    assert summary.messages["ai-multi-comms-email-queue-dev"] == 1 and summary.not_saved == 0
    [message] = _all_messages(resources.client("sqs"), resources.queues[Channel.EMAIL].queue_url)
    assert json.loads(message["Body"]) == {"retry": "me"}


def test_tenant_webhook_events_come_back_in_group_order_with_their_ids_and_their_log(aws, tmp_path):
    # More than one receive's worth per group: a FIFO queue hands out no more of a group while
    # any of it is hidden, so the save must not stop at the first ten.
    api = create_api(aws, load_settings("dev"))
    key_id, key_value = create_tenant_key(aws, api, "tenant")
    sqs = aws.client("sqs")
    queue, dlq = aws.webhooks_queue.queue_url, aws.webhooks_queue.dlq_url
    for index in range(12):
        for group in ("conv-a", "conv-b"):
            sqs.send_message(
                QueueUrl=queue,
                MessageBody=json.dumps({"group": group, "n": index}),
                MessageGroupId=group,
                MessageDeduplicationId=f"evt_{group}_{index}",
            )
    sqs.send_message(QueueUrl=dlq, MessageBody='{"dead": 1}', MessageGroupId="conv-c", MessageDeduplicationId="d1")
    aws.table("webhook-events").put_item(
        Item={"conversation_id": "conv-a", "event_key": "2026-11-26T09:00:00Z#evt_1", "expires_at": 1799999999}
    )
    path = tmp_path / "state" / "snapshot.json"

    summary = save(path, aws, api, Tenant("ci-demo-001", "pi-demo-001", key_id, key_value), None, providers=SANDBOXES)
    resources, fresh_api = _fresh_emulator(aws)
    restore(path, resources, fresh_api, None, providers=SANDBOXES)

    assert summary.messages["ai-multi-comms-webhooks-queue-dev.fifo"] == 24 and summary.not_saved == 0
    assert summary.items["webhook-events"] == 1
    restored_sqs = resources.client("sqs")
    received = []
    while batch := restored_sqs.receive_message(
        QueueUrl=resources.webhooks_queue.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"]
    ).get("Messages"):
        received += batch
        restored_sqs.delete_message_batch(
            QueueUrl=resources.webhooks_queue.queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
        )
    for group in ("conv-a", "conv-b"):
        mine = [m for m in received if m["Attributes"]["MessageGroupId"] == group]
        assert [json.loads(m["Body"])["n"] for m in mine] == list(range(12))
        assert [m["Attributes"]["MessageDeduplicationId"] for m in mine] == [f"evt_{group}_{i}" for i in range(12)]
    [dead] = restored_sqs.receive_message(QueueUrl=resources.webhooks_queue.dlq_url, AttributeNames=["All"])["Messages"]
    assert (dead["Body"], dead["Attributes"]["MessageGroupId"]) == ('{"dead": 1}', "conv-c")
    [logged] = resources.table("webhook-events").scan()["Items"]
    assert logged["event_key"] == "2026-11-26T09:00:00Z#evt_1"
