"""The conversations table as the read API sees it: one conversation by id, one page of a project.

Both go through an index, never a scan: ``conversation-id-index`` finds the record's key (the id
does not hold the table's partition key, the recipient's address) and ``project-created-at-index``
lists a project newest first. Every DynamoDB failure is a ``DatabaseError`` (500).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shared.api_errors import DatabaseError
from shared.models.conversation import ConversationRecord, project_key
from shared.processing.conversation_repository import ConversationKey, ConversationRepository
from shared.processing.dynamodb_items import from_item, to_item
from shared.processing.errors import RecordStoreUnavailable
from shared.reading.conversation_ids import ConversationRef
from shared.reading.list_query import ListQuery
from shared.tables import CONVERSATION_ID_INDEX, PROJECT_CREATED_AT_INDEX


@dataclass(frozen=True)
class Page:
    records: list[ConversationRecord]  # the listing index's projection of each, newest first
    last_key: dict[str, str] | None  # where the next page starts; None on the last page


class ConversationStore:
    def __init__(self, dynamodb: Any, table_name: str):
        self._dynamodb = dynamodb
        self._table = table_name
        self._repository = ConversationRepository(dynamodb, table_name)

    def find(self, ref: ConversationRef) -> ConversationRecord | None:
        """The conversation, only if it belongs to the id's own company and project."""
        with _database_errors("The conversation could not be read"):
            keys = self._dynamodb.query(
                TableName=self._table,
                IndexName=CONVERSATION_ID_INDEX,
                KeyConditionExpression="conversation_id = :id",
                ExpressionAttributeValues=to_item({":id": ref.conversation_id}),
            ).get("Items", [])
            if not keys:
                return None
            key = from_item(keys[0])
            # Consistent, unlike the index: the status and history as they are now.
            record = self._repository.get(ConversationKey(key["primary_channel"], key["conversation_id"]))
        if record is None or (record.company_id, record.project_id) != (ref.company_id, ref.project_id):
            return None
        return record

    def page(self, query: ListQuery, start_key: dict[str, str] | None) -> Page:
        conditions = ["gsi_project_key = :project"]
        values: dict[str, Any] = {":project": project_key(query.company_id, query.project_id)}
        if query.created_from is not None and query.created_through is not None:
            conditions.append("created_at BETWEEN :from AND :through")
            values.update({":from": query.created_from, ":through": query.created_through})
        elif query.created_from is not None:
            conditions.append("created_at >= :from")
            values[":from"] = query.created_from
        elif query.created_through is not None:
            conditions.append("created_at <= :through")
            values[":through"] = query.created_through
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": PROJECT_CREATED_AT_INDEX,
            "KeyConditionExpression": " AND ".join(conditions),
            "ScanIndexForward": False,
            "Limit": query.limit,
        }
        if query.statuses:
            names = [f":status{n}" for n in range(len(query.statuses))]
            request["FilterExpression"] = f"conversation_status IN ({', '.join(names)})"
            values.update({name: status.value for name, status in zip(names, query.statuses, strict=True)})
        request["ExpressionAttributeValues"] = to_item(values)
        if start_key is not None:
            request["ExclusiveStartKey"] = to_item(start_key)
        with _database_errors("The conversations could not be listed"):
            answer = self._dynamodb.query(**request)
        last = answer.get("LastEvaluatedKey")
        return Page(
            records=[ConversationRecord.model_validate(from_item(item)) for item in answer.get("Items", [])],
            last_key=None if last is None else {name: str(value) for name, value in from_item(last).items()},
        )


@contextmanager
def _database_errors(message: str) -> Iterator[None]:
    try:
        yield
    except (ClientError, BotoCoreError, RecordStoreUnavailable) as error:
        raise DatabaseError(message) from error
