"""Which projects have a webhook: the project's ``webhook`` read from the company table, kept a minute.

Most changes of a busy conversation come within seconds of each other; one read a minute per
project per container is enough, and a webhook set, changed or removed applies within that minute.

A ``webhook`` that does not parse still means the project wants its events: they are logged and
queued, and the sender (which reads the configuration again at every delivery) moves them to the
DLQ, from where they are redriven once the operator has fixed it. Nothing is dropped on the way.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from shared.models.company import WebhookConfig
from shared.processing.dynamodb_items import store_error
from shared.processing.errors import RecordStoreUnavailable

CACHE_SECONDS = 60.0
_DESERIALIZER = TypeDeserializer()


@dataclass(frozen=True)
class WebhookPresence:
    configured: bool
    # Why the configured ``webhook`` does not parse (field names only: the URL may carry the
    # tenant's own tokens); None when it parses or is absent.
    problem: str | None = None


_ABSENT = WebhookPresence(configured=False)


class ProjectWebhooks:
    def __init__(
        self,
        client: Any,
        table_name: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        cache_seconds: float = CACHE_SECONDS,
    ):
        self._client = client
        self._table = table_name
        self._clock = clock
        self._cache_seconds = cache_seconds
        self._cache: dict[tuple[str, str], tuple[float, WebhookPresence]] = {}

    def presence(self, company_id: str, project_id: str) -> WebhookPresence:
        """Whether the project has a webhook (a project that is gone has none)."""
        key = (company_id, project_id)
        now = self._clock()
        cached = self._cache.get(key)
        if cached is not None and now - cached[0] < self._cache_seconds:
            return cached[1]
        found = self._read(company_id, project_id)
        self._cache[key] = (now, found)
        return found

    def _read(self, company_id: str, project_id: str) -> WebhookPresence:
        try:
            item = self._client.get_item(
                TableName=self._table,
                Key={"company_id": {"S": company_id}, "project_id": {"S": project_id}},
                ProjectionExpression="webhook",
            ).get("Item")
        except ClientError as error:
            raise store_error(error, "reading the project's webhook") from None
        except BotoCoreError as error:
            raise RecordStoreUnavailable(f"DynamoDB unreachable reading the webhook: {type(error).__name__}") from None
        if not item or "webhook" not in item:
            return _ABSENT
        webhook = _DESERIALIZER.deserialize(item["webhook"])
        if webhook is None:  # an explicit null: the webhook was switched off
            return _ABSENT
        try:
            WebhookConfig.model_validate(webhook)
        except ValidationError as error:
            fields = sorted({".".join(str(part) for part in problem["loc"]) or "webhook" for problem in error.errors()})
            return WebhookPresence(configured=True, problem=f"invalid webhook fields: {', '.join(fields)}")
        return WebhookPresence(configured=True)
