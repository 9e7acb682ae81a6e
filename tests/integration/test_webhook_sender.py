"""The webhook sender on its own: a real FIFO queue and DLQ, the company and webhook-events tables
and Secrets Manager in the emulator, the real handler, and a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import base64
import copy
import json
import logging
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer
from standardwebhooks import Webhook

from local.emulator import LocalResources
from local.event_source import PollResult, poll_once
from shared.channels import Channel
from shared.models.conversation import ConversationStatus
from shared.models.tenant_events import WebhookEvent, WebhookEventData, WebhookEventType, event_id
from shared.secret_names import webhook_secret_name
from shared.tables import COMPANY_DATA, WEBHOOK_EVENTS
from shared.tenant_events.event_log import WebhookEventLog, event_key
from shared.tenant_events.event_queue import WebhookQueue
from shared.tenant_webhooks.entrypoint import SERVICE, lambda_handler
from shared.tenant_webhooks.settings import WebhookSenderSettings
from shared.tenant_webhooks.signing_secrets import CACHE_SECONDS, SigningSecrets
from stacks.names import WEBHOOKS_QUEUE, fifo_dlq_name, fifo_queue_name
from tests.fixtures.webhook_receiver import Reply, WebhookReceiver

ENV = "dev"
COMPANY = "ci-demo-001"
SECRETS = {
    "pi-hooks-a": "whsec_" + base64.b64encode(b"fake-signing-secret-project-a!!!").decode(),
    "pi-hooks-b": "whsec_" + base64.b64encode(b"fake-signing-secret-project-b!!!").decode(),
}
PROJECT_A, PROJECT_B = SECRETS


@dataclass
class Sender:
    """The handler, its queues and what it reads, driven like Lambda's SQS poller would."""

    aws: LocalResources
    receiver: WebhookReceiver
    company_record: dict[str, Any]
    queue_url: str = ""
    dlq_url: str = ""
    options: dict[str, str] = field(default_factory=dict)
    resolver: Any = None

    def __post_init__(self) -> None:
        sqs = self.aws.client("sqs")
        # The FIFO queue and its FIFO DLQ as the local stack provisions them (local/emulator.py).
        self.queue_url, self.dlq_url = self.aws.webhooks_queue.queue_url, self.aws.webhooks_queue.dlq_url
        assert self.queue_url.endswith(fifo_queue_name(WEBHOOKS_QUEUE, ENV))
        assert self.dlq_url.endswith(fifo_dlq_name(WEBHOOKS_QUEUE, ENV))
        sqs.set_queue_attributes(QueueUrl=self.queue_url, Attributes={"VisibilityTimeout": "60"})
        secrets = self.aws.client("secretsmanager")
        for project, secret in SECRETS.items():
            secrets.create_secret(Name=webhook_secret_name(COMPANY, project, ENV), SecretString=secret)

    def settings(self, **overrides: Any) -> WebhookSenderSettings:
        values: dict[str, Any] = {
            "environment": ENV,
            "company_table_name": self.aws.table_name(COMPANY_DATA.logical_name),
            "webhook_events_table_name": self.aws.table_name(WEBHOOK_EVENTS.logical_name),
            "webhook_queue_url": self.queue_url,
            "webhook_dlq_url": self.dlq_url,
            "retry_base_seconds": 1,
            "allow_local_targets": True,
        }
        return WebhookSenderSettings(**{**values, **overrides})

    def project(self, project_id: str, *, webhook: dict[str, Any] | str | None = "receiver", path: str = "/hooks"):
        record = copy.deepcopy(self.company_record)
        record["project_id"] = project_id
        if webhook == "receiver":
            webhook = {
                "url": self.receiver.url(path),
                "secret_reference": webhook_secret_name(COMPANY, project_id, ENV),
            }
        if webhook is not None:
            record["webhook"] = webhook
        serializer = TypeSerializer()
        self.aws.client("dynamodb").put_item(
            TableName=self.aws.table_name(COMPANY_DATA.logical_name),
            Item={name: serializer.serialize(value) for name, value in _numbers_as_decimal(record).items()},
        )

    def queue(self, project_id: str, request_id: str, discriminator: str = "", *, age: timedelta = timedelta()):
        """Log and queue one event with the tenant-events function's own writers."""
        conversation_id = f"{COMPANY}#{project_id}#{request_id}#+447700900123"
        event = WebhookEvent(
            id=event_id(conversation_id, WebhookEventType.SENT, discriminator),
            type=WebhookEventType.SENT,
            timestamp=(datetime.now(UTC) - age).isoformat(),
            data=WebhookEventData(
                conversation_id=conversation_id,
                company_id=COMPANY,
                project_id=project_id,
                request_id=request_id,
                channel=Channel.SMS,
                conversation_status=ConversationStatus.INITIAL_MESSAGE_SENT,
                task_complete=False,
                reason=discriminator or None,
            ),
        )
        dynamodb, sqs = self.aws.client("dynamodb"), self.aws.client("sqs")
        WebhookEventLog(dynamodb, self.aws.table_name(WEBHOOK_EVENTS.logical_name)).add(
            event, expires_at=int((datetime.now(UTC) + timedelta(days=30)).timestamp()), logged_at=event.timestamp
        )
        WebhookQueue(sqs, self.queue_url).send(event)
        return event, event.model_dump_json()

    def handler(self, **overrides: Any):
        environ = {**self.settings(**overrides).to_environment(), "POWERTOOLS_METRICS_NAMESPACE": "AiMultiComms"}
        handler = lambda_handler(environ, resolver=self.resolver) if self.resolver else lambda_handler(environ)
        # Powertools keeps the stdout of the test that first built the logger: this test's instead,
        # so its log lines are read exactly as CloudWatch would get them.
        for stream_handler in logging.getLogger(SERVICE).handlers:
            if isinstance(stream_handler, logging.StreamHandler):
                stream_handler.stream = sys.stdout  # not setStream: it flushes the closed one
        return handler

    def poll(self, handler: Any, *, wait_seconds: int = 0) -> PollResult:
        return poll_once(self.aws.client("sqs"), self.queue_url, handler, wait_seconds=wait_seconds)

    def poll_until_received(self, handler: Any, attempts: int = 10) -> PollResult:
        """The next batch once a retried message is visible again (its short backoff has run out)."""
        for _ in range(attempts):
            result = self.poll(handler, wait_seconds=1)
            if result.received:
                return result
        raise AssertionError("the retried message did not come back")

    def dead_letters(self) -> list[dict[str, Any]]:
        return (
            self.aws.client("sqs")
            .receive_message(
                QueueUrl=self.dlq_url,
                MaxNumberOfMessages=10,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
                VisibilityTimeout=600,
            )
            .get("Messages", [])
        )

    def waiting(self) -> int:
        attributes = self.aws.client("sqs").get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["All"])
        counts = attributes["Attributes"]
        return int(counts["ApproximateNumberOfMessages"]) + int(counts["ApproximateNumberOfMessagesNotVisible"])

    def log_item(self, event: WebhookEvent) -> dict[str, Any]:
        item = self.aws.table(WEBHOOK_EVENTS.logical_name).get_item(
            Key={"conversation_id": event.data.conversation_id, "event_key": event_key(event)}
        )
        return item["Item"]


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as running:
        yield running


@pytest.fixture
def sender(aws: LocalResources, receiver: WebhookReceiver, company_record_example: dict[str, Any]) -> Sender:
    harness = Sender(aws, receiver, company_record_example)
    harness.project(PROJECT_A)
    return harness


def _numbers_as_decimal(record: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(record), parse_float=Decimal)


def _metrics(output: str) -> dict[str, float]:
    """The EMF metrics Powertools printed (summed by name)."""
    found: dict[str, float] = {}
    for line in output.splitlines():
        if not line.startswith("{") or "_aws" not in line:
            continue
        document = json.loads(line)
        for definition in document["_aws"]["CloudWatchMetrics"]:
            for metric in definition["Metrics"]:
                value = document[metric["Name"]]
                found[metric["Name"]] = found.get(metric["Name"], 0) + (
                    sum(value) if isinstance(value, list) else value
                )
    return found


def _logs(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith('{"level"')]


def test_an_event_is_posted_signed_and_logged_as_delivered(sender, receiver, capsys):
    event, body = sender.queue(PROJECT_A, "req-1")
    result = sender.poll(sender.handler())

    assert result.deleted == result.received and len(result.received) == 1
    (request,) = receiver.requests("/hooks")
    assert request.method == "POST"
    assert request.body.decode() == body
    assert Webhook(SECRETS[PROJECT_A]).verify(request.body, request.headers) == json.loads(body)
    assert request.headers["webhook-id"] == event.id
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"].startswith("AiMultiComms-Webhooks/")
    item = sender.log_item(event)
    assert (item["delivery_state"], item["attempts"], item["last_status"]) == ("delivered", 1, 200)
    assert sender.waiting() == 0 and sender.dead_letters() == []

    output = capsys.readouterr().out
    assert _metrics(output)["WebhooksDelivered"] == 1
    assert [line["message"] for line in _logs(output)] == ["webhook attempted"]
    for never_logged in (SECRETS[PROJECT_A], request.headers["webhook-signature"].split(",", 1)[1], "+447700900123"):
        assert never_logged not in output


def test_a_500_is_retried_with_the_same_id_and_body_then_delivered(sender, receiver):
    receiver.script("/hooks", Reply(500))
    event, body = sender.queue(PROJECT_A, "req-1")
    handler = sender.handler()

    first = sender.poll(handler)
    assert first.failed == first.received
    assert sender.log_item(event)["delivery_state"] == "retrying"
    second = sender.poll_until_received(handler)
    assert second.deleted == second.received == first.received

    one, two = receiver.requests("/hooks")
    assert one.body == two.body == body.encode()
    assert one.headers["webhook-id"] == two.headers["webhook-id"] == event.id
    assert Webhook(SECRETS[PROJECT_A]).verify(two.body, two.headers)
    item = sender.log_item(event)
    assert (item["delivery_state"], item["attempts"], item["last_status"]) == ("delivered", 2, 200)
    assert "failure_reason" not in item


def test_a_404_goes_to_the_dlq_at_once_with_its_group_and_reason(sender, receiver, capsys):
    receiver.script("/hooks", Reply(404))
    event, body = sender.queue(PROJECT_A, "req-1")
    result = sender.poll(sender.handler())

    assert result.deleted == result.received  # moved, so Lambda deletes it from the queue
    (dead,) = sender.dead_letters()
    assert dead["Body"] == body
    assert dead["Attributes"]["MessageGroupId"] == event.data.conversation_id
    assert dead["Attributes"]["MessageDeduplicationId"] == event.id
    assert dead["MessageAttributes"]["failure_reason"]["StringValue"] == "the target answered 404"
    item = sender.log_item(event)
    assert (item["delivery_state"], item["last_status"]) == ("dead_lettered", 404)
    assert item["failure_reason"] == "the target answered 404"
    assert sender.waiting() == 0 and len(receiver.requests()) == 1
    assert _metrics(capsys.readouterr().out)["WebhooksDeadLettered"] == 1


def test_a_429_waits_as_long_as_its_retry_after_asks(sender, receiver, capsys):
    receiver.script("/hooks", Reply(429, headers={"Retry-After": "120"}))
    event, _ = sender.queue(PROJECT_A, "req-1")
    result = sender.poll(sender.handler())

    assert result.failed == result.received
    (retry,) = [line for line in _logs(capsys.readouterr().out) if line["message"] == "webhook to be retried"]
    assert retry["delay_seconds"] == 120  # not the 1 s backoff of a first attempt
    assert sender.log_item(event)["last_status"] == 429
    assert sender.poll(sender.handler()).received == []  # still hidden for its Retry-After


def test_a_timeout_is_retried(sender, receiver):
    receiver.script("/hooks", Reply(200, delay=3))
    event, _ = sender.queue(PROJECT_A, "req-1")
    handler = sender.handler(request_timeout_seconds=0.5)

    first = sender.poll(handler)
    assert first.failed == first.received
    item = sender.log_item(event)
    assert item["delivery_state"] == "retrying" and "in time" in item["failure_reason"]
    assert "last_status" not in item
    sender.poll_until_received(handler)
    assert sender.log_item(event)["delivery_state"] == "delivered"
    assert [r.headers["webhook-id"] for r in receiver.requests()] == [event.id, event.id]


def test_retries_stop_a_day_after_the_event_and_it_goes_to_the_dlq(sender, receiver):
    receiver.script("/hooks", Reply(503))
    event, _ = sender.queue(PROJECT_A, "req-1", age=timedelta(hours=24, minutes=1))
    result = sender.poll(sender.handler())

    assert result.deleted == result.received
    (dead,) = sender.dead_letters()
    assert dead["MessageAttributes"]["failure_reason"]["StringValue"].startswith("retried for 24 h")
    assert sender.log_item(event)["delivery_state"] == "dead_lettered"


def test_later_events_of_a_retried_conversation_wait_while_other_conversations_go(sender, receiver):
    sender.project(PROJECT_B, path="/b")
    receiver.script("/hooks", Reply(500))
    first, _ = sender.queue(PROJECT_A, "req-1", "one")
    second, _ = sender.queue(PROJECT_A, "req-1", "two")
    third, _ = sender.queue(PROJECT_A, "req-1", "three")
    other, _ = sender.queue(PROJECT_B, "req-9")
    handler = sender.handler()

    batch = sender.poll(handler)
    assert len(batch.received) == 4
    assert len(batch.failed) == 3  # the whole of conversation A: one tried, two held back
    assert [r.headers["webhook-id"] for r in receiver.requests("/hooks")] == [first.id]
    assert [r.headers["webhook-id"] for r in receiver.requests("/b")] == [other.id]
    assert sender.log_item(second)["delivery_state"] == "queued"  # never attempted

    while sender.waiting():
        sender.poll_until_received(handler)
    assert [r.headers["webhook-id"] for r in receiver.requests("/hooks")] == [first.id, first.id, second.id, third.id]


def test_a_slow_endpoint_does_not_hold_up_another_conversation_in_the_same_batch(sender, receiver):
    """Each endpoint answers only once the other's request has arrived (or after 8 s): delivered
    one after another, the second request would arrive after the first answer. Both arriving
    before either answers proves the two conversations were in flight at once."""
    sender.project(PROJECT_B, path="/other")
    receiver.script("/hooks", Reply(200, delay=8, hold_until="/other"))
    receiver.script("/other", Reply(200, delay=8, hold_until="/hooks"))
    sender.queue(PROJECT_A, "req-1")
    sender.queue(PROJECT_B, "req-2")
    result = sender.poll(sender.handler(request_timeout_seconds=10))

    assert result.deleted == result.received and len(result.received) == 2
    kinds = [kind for kind, _, _ in receiver.events]
    assert kinds == ["arrived", "arrived", "answered", "answered"]


class _Resolver:
    def __init__(self, *answers: str):
        self.answers = answers

    def __call__(self, host: str, port: int) -> list[str]:
        return list(self.answers)


@pytest.mark.parametrize("answers", [("10.0.0.1",), ("93.184.216.34", "169.254.169.254"), ("::ffff:10.0.0.1",)])
def test_a_host_resolving_to_a_private_address_is_refused_and_dead_lettered(sender, receiver, capsys, answers):
    sender.resolver = _Resolver(*answers)
    webhook = {
        "url": "https://hooks.tenant.example/in",
        "secret_reference": webhook_secret_name(COMPANY, PROJECT_A, ENV),
    }
    sender.project(PROJECT_A, webhook=webhook)
    event, _ = sender.queue(PROJECT_A, "req-1")
    result = sender.poll(sender.handler(allow_local_targets=False))

    assert result.deleted == result.received
    (dead,) = sender.dead_letters()
    assert "resolves to" in dead["MessageAttributes"]["failure_reason"]["StringValue"]
    assert sender.log_item(event)["delivery_state"] == "dead_lettered"
    assert receiver.requests() == []
    metrics = _metrics(capsys.readouterr().out)
    assert metrics["WebhookTargetRefused"] == 1 and metrics["WebhooksDeadLettered"] == 1


def test_plain_http_is_refused_outside_the_local_stack(sender, receiver):
    sender.queue(PROJECT_A, "req-1")
    sender.poll(sender.handler(allow_local_targets=False))
    (dead,) = sender.dead_letters()
    assert "https" in dead["MessageAttributes"]["failure_reason"]["StringValue"]
    assert receiver.requests() == []


@pytest.mark.parametrize(
    ("webhook", "reason"),
    [
        (None, "no webhook configured"),
        # Another project's secret: a record must not sign with a key that is not its own.
        ({"secret_reference": webhook_secret_name(COMPANY, PROJECT_B, ENV)}, "is not the webhook signing secret"),
        ({"secret_reference": webhook_secret_name(COMPANY, "pi-no-secret", ENV)}, "is not the webhook signing secret"),
    ],
)
def test_a_project_without_a_usable_webhook_or_secret_goes_to_the_dlq(sender, receiver, webhook, reason):
    if webhook is not None:
        webhook = {"url": receiver.url(), **webhook}
    sender.project(PROJECT_A, webhook=webhook)
    sender.queue(PROJECT_A, "req-1")
    result = sender.poll(sender.handler())

    assert result.deleted == result.received
    (dead,) = sender.dead_letters()
    assert reason in dead["MessageAttributes"]["failure_reason"]["StringValue"]
    assert receiver.requests() == []


def test_a_missing_secret_or_one_not_in_whsec_form_goes_to_the_dlq(sender, receiver):
    secrets = sender.aws.client("secretsmanager")
    secrets.put_secret_value(SecretId=webhook_secret_name(COMPANY, PROJECT_A, ENV), SecretString="plain-password")
    sender.project("pi-hooks-c")
    sender.queue(PROJECT_A, "req-1")
    sender.queue("pi-hooks-c", "req-2")
    sender.poll(sender.handler())

    reasons = {
        m["Attributes"]["MessageGroupId"].split("#")[1]: m["MessageAttributes"]["failure_reason"]["StringValue"]
        for m in sender.dead_letters()
    }
    assert "is not a whsec_<base64> value" in reasons[PROJECT_A]
    assert "cannot be read" in reasons["pi-hooks-c"]
    assert receiver.requests() == []


def test_a_body_that_is_not_a_tenant_event_goes_to_the_dlq(sender):
    sender.aws.client("sqs").send_message(
        QueueUrl=sender.queue_url, MessageBody='{"id": "x"}', MessageGroupId="g", MessageDeduplicationId="d"
    )
    result = sender.poll(sender.handler())
    assert result.deleted == result.received
    (dead,) = sender.dead_letters()
    assert dead["MessageAttributes"]["failure_reason"]["StringValue"].startswith("not a tenant event")


def test_the_signing_secret_is_read_once_per_few_minutes_and_a_rotation_is_picked_up(sender):
    now = [0.0]
    secrets = SigningSecrets(sender.aws.client("secretsmanager"), environment=ENV, clock=lambda: now[0])
    name = webhook_secret_name(COMPANY, PROJECT_A, ENV)
    assert secrets.secret_for(COMPANY, PROJECT_A, name) == SECRETS[PROJECT_A]
    rotated = "whsec_" + base64.b64encode(b"fake-rotated-secret-project-a!!!").decode()
    sender.aws.client("secretsmanager").put_secret_value(SecretId=name, SecretString=rotated)
    now[0] = CACHE_SECONDS - 1
    assert secrets.secret_for(COMPANY, PROJECT_A, name) == SECRETS[PROJECT_A]
    now[0] = CACHE_SECONDS + 1
    assert secrets.secret_for(COMPANY, PROJECT_A, name) == rotated
