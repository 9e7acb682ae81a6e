"""Keeps the local stack's state across restarts: saved on stop, restored on start.

moto 5.2.5 has no snapshot of its backends (``/moto-api/`` offers reset, seed and a request
recorder whose replay would mint new ids and redeliver consumed messages), so the state goes
through the AWS APIs, as an operator's export would: every item of every table (all pages, in
DynamoDB's typed JSON so numbers keep their precision), every message of every queue and DLQ (the
channels', the events queue and the tenant webhooks' FIFO queue with its group and deduplication
ids, in order; as visible messages: one in flight at the stop is delivered again), every secret,
the API keys with their values and ids (``api_key_ids`` in the company records must keep
matching), and the sandboxes' outbox. One JSON file, written atomically, readable only by its
owner.
"""

from __future__ import annotations

import base64
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from moto.apigateway.utils import ApigwApiKeyIdentifier
from moto.core import DEFAULT_ACCOUNT_ID
from moto.utilities.id_generator import moto_id_manager

from local.emulator import LocalResources
from local.seed import LocalApi, Tenant
from shared.tables import ALL_TABLES

FORMAT_VERSION = 1
# Messages a processor put back with a backoff (1, 2, 4 s locally) become visible within this.
IN_FLIGHT_GRACE_SECONDS = 10.0
# What a FIFO message needs to be sent back as it was: its group (the order) and its id.
FIFO_ATTRIBUTES = ("MessageGroupId", "MessageDeduplicationId")


class StateError(Exception):
    """The saved state cannot be restored (unreadable, or from another format or environment)."""


@dataclass
class StateSummary:
    """What was saved or restored, for the console."""

    items: dict[str, int] = field(default_factory=dict)  # table logical name -> items
    messages: dict[str, int] = field(default_factory=dict)  # queue name -> messages
    secrets: int = 0
    api_keys: int = 0
    outbox: int = 0
    not_saved: int = 0  # messages still in flight when the grace ran out

    def describe(self) -> str:
        tables = ", ".join(f"{count} {name}" for name, count in self.items.items())
        queued = sum(self.messages.values())
        text = (
            f"items {tables}; {queued} queued message(s) (DLQs included); "
            f"{self.secrets} secret(s); {self.api_keys} API key(s); {self.outbox} outbox message(s)"
        )
        if self.not_saved:
            text += f"; {self.not_saved} message(s) still in flight were NOT saved"
        return text


# -- save ------------------------------------------------------------------------------------------


def save(
    path: Path,
    resources: LocalResources,
    api: LocalApi,
    tenant: Tenant,
    sandboxes: Any | None,
    *,
    providers: dict[str, str],
) -> StateSummary:
    """Write everything the stack holds to ``path``. Call it once nothing consumes the queues.
    ``providers``: "real" or "sandbox" per provider, which the saved secrets were made for."""
    summary = StateSummary()
    snapshot = {
        "version": FORMAT_VERSION,
        "environment": resources.env,
        "providers": providers,
        "tenant": asdict(tenant),
        "tables": _export_tables(resources, summary),
        "queues": _export_queues(resources, summary),
        "secrets": _export_secrets(resources, summary),
        "api_keys": _export_api_keys(resources, api, summary),
        "sandboxes": {},
    }
    if sandboxes is not None:
        snapshot["sandboxes"] = {sandbox.name: sandbox.saved_state() for sandbox in sandboxes}
        summary.outbox = sum(len(state["outbox"]) for state in snapshot["sandboxes"].values())
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    # It holds API key values and the emulator's secrets (real provider keys, when given).
    temporary.unlink(missing_ok=True)  # a leftover of a crashed save may have another mode
    temporary.touch(mode=0o600)
    temporary.write_text(json.dumps(snapshot, default=_encode_bytes))
    temporary.replace(path)
    return summary


def _export_tables(resources: LocalResources, summary: StateSummary) -> dict[str, list[dict[str, Any]]]:
    dynamodb = resources.client("dynamodb")
    exported = {}
    for spec in ALL_TABLES:
        items: list[dict[str, Any]] = []
        pages = dynamodb.get_paginator("scan").paginate(
            TableName=resources.table_name(spec.logical_name), ConsistentRead=True
        )
        for page in pages:
            items += page["Items"]
        exported[spec.logical_name] = items
        summary.items[spec.logical_name] = len(items)
    return exported


def _queue_urls(resources: LocalResources) -> list[str]:
    """Every queue and DLQ: the channels' and the webhooks' events queue."""
    return [url for queue in resources.work_queues().values() for url in (queue.queue_url, queue.dlq_url)]


def _export_queues(resources: LocalResources, summary: StateSummary) -> dict[str, list[dict[str, Any]]]:
    sqs = resources.client("sqs")
    exported = {}
    for url in _queue_urls(resources):
        messages = _drain(sqs, url)
        exported[_queue_name(url)] = [_sendable(m) for m in messages]
        summary.messages[_queue_name(url)] = len(messages)
        summary.not_saved += _held(sqs, url) if _is_fifo(url) else max(0, _held(sqs, url) - len(messages))
    return exported


def _sendable(message: dict[str, Any]) -> dict[str, Any]:
    """A received message as SendMessageBatch takes it back (a FIFO one with its ids)."""
    sendable = {"MessageBody": message["Body"], "MessageAttributes": _sendable_attributes(message)}
    for name in FIFO_ATTRIBUTES:
        if name in message.get("Attributes", {}):
            sendable[name] = message["Attributes"][name]
    return sendable


def _drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    """Every message of the queue, in order, received and kept hidden so none is read twice.
    Messages a processor hid for a retry backoff are waited for (a short grace), so they are saved
    too. A FIFO queue hands out no more of a group while one of its messages is hidden, so its
    messages are deleted as they are read (the emulator is going away with them)."""
    fifo = _is_fifo(url)
    messages: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + IN_FLIGHT_GRACE_SECONDS
    while True:
        batch = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=3600,
            MessageAttributeNames=["All"],
            AttributeNames=list(FIFO_ATTRIBUTES),
        ).get("Messages", [])
        messages.update((m["MessageId"], m) for m in batch)
        if batch and fifo:
            sqs.delete_message_batch(
                QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)]
            )
        if batch:
            continue
        if _held(sqs, url) <= (0 if fifo else len(messages)) or time.monotonic() > deadline:
            return list(messages.values())
        time.sleep(0.2)


def _held(sqs: Any, url: str) -> int:
    """Every message the queue holds: visible, in flight (ours included) and delayed."""
    names = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return sum(int(attributes.get(name, 0)) for name in names)


def _sendable_attributes(message: dict[str, Any]) -> dict[str, Any]:
    keep = ("DataType", "StringValue", "BinaryValue")
    attributes = message.get("MessageAttributes", {})
    return {name: {k: v for k, v in value.items() if k in keep} for name, value in attributes.items()}


def _is_fifo(url: str) -> bool:
    return url.endswith(".fifo")


def _export_secrets(resources: LocalResources, summary: StateSummary) -> list[dict[str, Any]]:
    manager = resources.client("secretsmanager")
    exported = []
    for page in manager.get_paginator("list_secrets").paginate():
        for entry in page["SecretList"]:
            value = manager.get_secret_value(SecretId=entry["ARN"])
            secret = {"Name": entry["Name"]}
            secret |= {k: value[k] for k in ("SecretString", "SecretBinary") if k in value}
            exported.append(secret)
    summary.secrets = len(exported)
    return exported


def _export_api_keys(resources: LocalResources, api: LocalApi, summary: StateSummary) -> list[dict[str, Any]]:
    apigateway = resources.client("apigateway")
    bound = {key["id"] for key in apigateway.get_usage_plan_keys(usagePlanId=_stage_plan(apigateway, api))["items"]}
    exported = [
        {
            "id": key["id"],
            "name": key.get("name"),
            "value": key["value"],
            "enabled": key.get("enabled", False),
            "in_usage_plan": key["id"] in bound,
        }
        for page in apigateway.get_paginator("get_api_keys").paginate(includeValues=True)
        for key in page["items"]
    ]
    summary.api_keys = len(exported)
    return exported


# -- restore ---------------------------------------------------------------------------------------


def restore(
    path: Path, resources: LocalResources, api: LocalApi, sandboxes: Any | None, *, providers: dict[str, str]
) -> tuple[Tenant, StateSummary]:
    """Put a saved state into a freshly provisioned emulator (tables, queues and API created)."""
    try:
        snapshot = json.loads(path.read_text(), object_hook=_decode_bytes)
    except (OSError, ValueError) as error:
        raise StateError(f"{path} cannot be read: {error}") from error
    if snapshot.get("version") != FORMAT_VERSION or snapshot.get("environment") != resources.env:
        raise StateError(
            f"{path} holds state of format {snapshot.get('version')} for environment "
            f"{snapshot.get('environment')!r}, not format {FORMAT_VERSION} for {resources.env!r}"
        )
    if snapshot.get("providers") != providers:
        # The saved secrets hold the credentials of the other kind: a sandbox key sent to the
        # real service (or the reverse) would fail every send.
        raise StateError(f"{path} was saved with providers {snapshot.get('providers')}, this start has {providers}")
    summary = StateSummary()
    _import_tables(resources, snapshot["tables"], summary)
    _import_queues(resources, snapshot["queues"], summary)
    _import_secrets(resources, snapshot["secrets"], summary)
    _import_api_keys(resources, api, snapshot["api_keys"], summary)
    if sandboxes is not None:
        for sandbox in sandboxes:
            state = snapshot["sandboxes"].get(sandbox.name, {})
            sandbox.restore_state(state)
            summary.outbox += len(state.get("outbox", []))
    return Tenant(**snapshot["tenant"]), summary


def _import_tables(resources: LocalResources, tables: dict[str, list[dict[str, Any]]], summary: StateSummary) -> None:
    dynamodb = resources.client("dynamodb")
    for logical_name, items in tables.items():
        name = resources.table_name(logical_name)
        for start in range(0, len(items), 25):
            pending = {name: [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]}
            while pending:
                pending = dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
        summary.items[logical_name] = len(items)


def _import_queues(resources: LocalResources, queues: dict[str, list[dict[str, Any]]], summary: StateSummary) -> None:
    sqs = resources.client("sqs")
    urls = {_queue_name(url): url for url in _queue_urls(resources)}
    for name, messages in queues.items():
        for start in range(0, len(messages), 10):
            entries = [{"Id": str(i), **m} for i, m in enumerate(messages[start : start + 10])]
            answer = sqs.send_message_batch(QueueUrl=urls[name], Entries=entries)
            if answer.get("Failed"):
                raise StateError(f"restoring {name}: {answer['Failed']}")
        summary.messages[name] = len(messages)


def _import_secrets(resources: LocalResources, secrets: list[dict[str, Any]], summary: StateSummary) -> None:
    manager = resources.client("secretsmanager")
    for secret in secrets:
        try:
            manager.create_secret(**secret)
        except manager.exceptions.ResourceExistsException:
            # provision() created it (the consent key): the saved value wins.
            value = {k: secret[k] for k in ("SecretString", "SecretBinary") if k in secret}
            manager.put_secret_value(SecretId=secret["Name"], **value)
    summary.secrets = len(secrets)


def _import_api_keys(
    resources: LocalResources, api: LocalApi, keys: list[dict[str, Any]], summary: StateSummary
) -> None:
    apigateway = resources.client("apigateway")
    plan_id = _stage_plan(apigateway, api)
    for key in keys:
        # CreateApiKey cannot choose the id; the emulator runs in this process, so tell moto's id
        # generator which id the key with this value gets (moto's documented custom-id hook).
        identifier = ApigwApiKeyIdentifier(DEFAULT_ACCOUNT_ID, resources.region, key["value"])
        moto_id_manager.set_custom_id(identifier, key["id"])
        try:
            created = apigateway.create_api_key(name=key["name"], value=key["value"], enabled=key["enabled"])
        finally:
            moto_id_manager.unset_custom_id(identifier)
        if created["id"] != key["id"]:
            raise StateError(f"API key {key['id']} came back as {created['id']}")
        if key["in_usage_plan"]:
            apigateway.create_usage_plan_key(usagePlanId=plan_id, keyId=key["id"], keyType="API_KEY")
    summary.api_keys = len(keys)


# -- shared ----------------------------------------------------------------------------------------


def _stage_plan(apigateway: Any, api: LocalApi) -> str:
    stage = {"apiId": api.rest_api_id, "stage": api.stage}
    return next(p["id"] for p in apigateway.get_usage_plans()["items"] if stage in p.get("apiStages", []))


def _queue_name(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


def _encode_bytes(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return {"__base64__": base64.b64encode(value).decode()}
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _decode_bytes(document: dict[str, Any]) -> Any:
    return base64.b64decode(document["__base64__"]) if set(document) == {"__base64__"} else document


def remove(path: Path) -> bool:
    """Forget the saved state (``make local-reset``); whether there was one."""
    try:
        os.remove(path)
    except FileNotFoundError:
        return False
    return True
