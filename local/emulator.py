"""Creates the engine's AWS resources in an emulator from the same definitions the CDK app uses:
table specs from ``shared.tables``, names from ``stacks.names``, queue settings from ``cdk.json``
(a queue and DLQ per channel, the events queue with its DLQ, and the FIFO webhooks queue with its
FIFO DLQ).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

from shared.channels import ALL_CHANNELS, Channel
from shared.consent.address_hash import CONSENT_KEY_FIELD
from shared.consent.wakeup_names import schedule_group_name
from shared.secret_names import consent_key_secret_name
from shared.tables import ALL_TABLES, CONVERSATIONS, IndexSpec, TableSpec
from stacks.names import (
    EVENTS_QUEUE,
    WEBHOOKS_QUEUE,
    dlq_name,
    fifo_dlq_name,
    fifo_queue_name,
    physical_name,
    queue_name,
    scheduler_role_name,
)
from stacks.settings import EnvironmentSettings

FAKE_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@dataclass(frozen=True)
class QueueUrls:
    queue_url: str
    dlq_url: str


@dataclass
class LocalResources:
    endpoint_url: str
    region: str
    env: str
    tables: dict[str, str] = field(default_factory=dict)  # logical name -> physical name
    queues: dict[Channel, QueueUrls] = field(default_factory=dict)
    events_queue: QueueUrls = field(init=False)  # created by provision()
    webhooks_queue: QueueUrls = field(init=False)  # FIFO, tenants' events (issue 13); created by provision()
    conversations_stream_arn: str = field(init=False)  # the tenant events' source (provision())
    consent_key_secret_id: str = field(init=False)  # created by provision()
    # Wake-ups of scheduled first messages (created by provision(); local/scheduler.py fires them).
    scheduler_group_name: str = field(init=False)
    scheduler_role_arn: str = field(init=False)

    def work_queues(self) -> dict[str, QueueUrls]:
        """Every queue with its DLQ, by the name in ``ai-multi-comms-<name>-queue-<env>``: the
        channels', the events queue and the webhooks queue."""
        return {
            **{channel.value: urls for channel, urls in self.queues.items()},
            EVENTS_QUEUE: self.events_queue,
            WEBHOOKS_QUEUE: self.webhooks_queue,
        }

    def client(self, service: str, *, max_connections: int = 10) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            config=Config(max_pool_connections=max_connections),
            **FAKE_CREDENTIALS,
        )

    def table_name(self, logical_name: str) -> str:
        return self.tables[logical_name]

    def table(self, logical_name: str) -> Any:
        """A boto3 Table resource (plain Python values in and out, numbers as Decimal)."""
        resource = boto3.resource(
            "dynamodb", endpoint_url=self.endpoint_url, region_name=self.region, **FAKE_CREDENTIALS
        )
        return resource.Table(self.table_name(logical_name))


def _index(index: IndexSpec) -> dict[str, Any]:
    keys = [{"AttributeName": index.partition_key.name, "KeyType": "HASH"}]
    if index.sort_key is not None:
        keys.append({"AttributeName": index.sort_key.name, "KeyType": "RANGE"})
    projection: dict[str, Any] = {"ProjectionType": index.projection}
    if index.projection == "INCLUDE":
        projection["NonKeyAttributes"] = list(index.non_key_attributes)
    return {"IndexName": index.name, "KeySchema": keys, "Projection": projection}


def create_table(dynamodb: Any, spec: TableSpec, env: str) -> str:
    name = physical_name(spec.logical_name, env)
    keys = [{"AttributeName": spec.partition_key.name, "KeyType": "HASH"}]
    if spec.sort_key is not None:
        keys.append({"AttributeName": spec.sort_key.name, "KeyType": "RANGE"})
    request: dict[str, Any] = {
        "TableName": name,
        "KeySchema": keys,
        "AttributeDefinitions": [
            {"AttributeName": attr, "AttributeType": kind} for attr, kind in spec.key_attributes().items()
        ],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if spec.global_indexes:
        request["GlobalSecondaryIndexes"] = [_index(i) for i in spec.global_indexes]
    if spec.local_indexes:
        request["LocalSecondaryIndexes"] = [_index(i) for i in spec.local_indexes]
    if spec.stream_view:
        request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": spec.stream_view}
    dynamodb.create_table(**request)
    if spec.time_to_live_attribute:
        dynamodb.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.time_to_live_attribute},
        )
    return name


def create_work_queue(
    sqs: Any,
    name: str,
    *,
    visibility_timeout_seconds: int,
    settings: EnvironmentSettings,
    fifo: bool = False,
    max_receive_count: int | None = None,
) -> QueueUrls:
    """``ai-multi-comms-<name>-queue-<env>`` and its DLQ, as ``stacks.constructs.work_queue`` makes
    them; ``fifo``: both FIFO (``….fifo``; a FIFO queue's DLQ must be FIFO too), deduplicated by
    the sender's MessageDeduplicationId, not by content."""
    queues = settings.queues
    day = 24 * 3600
    fifo_attributes = {"FifoQueue": "true", "ContentBasedDeduplication": "false"} if fifo else {}
    dlq_url = sqs.create_queue(
        QueueName=(fifo_dlq_name if fifo else dlq_name)(name, settings.name),
        Attributes={
            "MessageRetentionPeriod": str(queues.dlq_retention_days * day),
            "SqsManagedSseEnabled": "true",
            **fifo_attributes,
        },
    )["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count or queues.max_receive_count}
    queue_url = sqs.create_queue(
        QueueName=(fifo_queue_name if fifo else queue_name)(name, settings.name),
        Attributes={
            "VisibilityTimeout": str(visibility_timeout_seconds),
            "MessageRetentionPeriod": str(queues.retention_days * day),
            "SqsManagedSseEnabled": "true",
            "RedrivePolicy": json.dumps(redrive),
            **fifo_attributes,
        },
    )["QueueUrl"]
    return QueueUrls(queue_url=queue_url, dlq_url=dlq_url)


def provision(settings: EnvironmentSettings, *, endpoint_url: str, region: str) -> LocalResources:
    """Create every table and queue of one environment in the emulator at ``endpoint_url``."""
    resources = LocalResources(endpoint_url=endpoint_url, region=region, env=settings.name)
    dynamodb = resources.client("dynamodb")
    for spec in ALL_TABLES:
        resources.tables[spec.logical_name] = create_table(dynamodb, spec, settings.name)
    resources.conversations_stream_arn = dynamodb.describe_table(
        TableName=resources.table_name(CONVERSATIONS.logical_name)
    )["Table"]["LatestStreamArn"]
    sqs = resources.client("sqs")
    for channel in ALL_CHANNELS:
        resources.queues[channel] = create_work_queue(
            sqs, channel.value, visibility_timeout_seconds=settings.queues.visibility_timeout_seconds, settings=settings
        )
    resources.events_queue = create_work_queue(
        sqs, EVENTS_QUEUE, visibility_timeout_seconds=settings.events.visibility_timeout_seconds, settings=settings
    )
    resources.webhooks_queue = create_work_queue(
        sqs,
        WEBHOOKS_QUEUE,
        visibility_timeout_seconds=settings.webhook_sender.visibility_timeout_seconds,
        settings=settings,
        fifo=True,
        max_receive_count=settings.webhook_sender.max_receive_count,
    )
    resources.consent_key_secret_id = create_consent_key(resources.client("secretsmanager"), settings.name)
    resources.scheduler_group_name, resources.scheduler_role_arn = create_schedule_group(resources, settings.name)
    return resources


def create_schedule_group(resources: LocalResources, env: str) -> tuple[str, str]:
    """The environment's schedule group and the role its schedules deliver with (moto checks
    neither; the role exists so its ARN is a real one)."""
    group = schedule_group_name(env)
    resources.client("scheduler").create_schedule_group(Name=group)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "scheduler.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    role = resources.client("iam").create_role(
        RoleName=scheduler_role_name(env), AssumeRolePolicyDocument=json.dumps(trust)
    )
    return group, role["Role"]["Arn"]


def create_consent_key(manager: Any, env: str) -> str:
    """The environment's consent key, random like the one Secrets Manager generates at deploy. A
    restored local state puts its saved key back over it (shared/consent/address_hash.py: the
    suppression list's hashes are only readable under the key that wrote them)."""
    name = consent_key_secret_name(env)
    manager.create_secret(Name=name, SecretString=json.dumps({CONSENT_KEY_FIELD: secrets.token_urlsafe(48)}))
    return name
