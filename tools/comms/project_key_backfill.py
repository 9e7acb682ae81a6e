"""Gives conversation records written before issue 13 their listing key
(``comms maintenance backfill-project-key``).

``GET /conversations`` lists a project through ``project-created-at-index``, whose partition key
``gsi_project_key`` (``<company_id>#<project_id>``) the pipeline writes when it creates a record;
older records lack it and are not listed until this runs. A dry run counts what it would set, per
project, and changes nothing.

Finding them takes a paginated Scan of the conversations table (an operator's one-off command,
never a path of the API), reading only the keys and ids. Each record is updated with
``SET gsi_project_key`` on the condition that it still exists and still lacks the key, so a run
never recreates a record deleted meanwhile and can be repeated or interrupted safely; ``version``
and ``updated_at`` are left alone (this is not a change of the conversation).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from shared.identifiers import ID_PATTERN
from shared.models.conversation import project_key
from shared.processing.dynamodb_items import CONDITION_FAILED, error_code, from_item, to_item

_ID = re.compile(ID_PATTERN)


@dataclass
class Summary:
    applied: bool
    scanned: int = 0
    missing: Counter[str] = field(default_factory=Counter)  # project key -> records lacking it
    written: int = 0
    already_set: int = 0  # set by another writer (or gone) between the scan and the update
    unusable: int = 0  # company or project id that is not an id: left for an operator to look at

    def as_dict(self) -> dict[str, Any]:
        return {
            "applied": self.applied,
            "scanned": self.scanned,
            "missing": dict(sorted(self.missing.items())),
            "written": self.written,
            "already_set": self.already_set,
            "unusable": self.unusable,
        }


class Backfill:
    def __init__(self, dynamodb: Any, table_name: str):
        self._dynamodb = dynamodb
        self._table = table_name

    def run(self, *, act: bool) -> Summary:
        summary = Summary(applied=act)
        for item in self._records_lacking_the_key(summary):
            company_id, project_id = item.get("company_id"), item.get("project_id")
            if not (isinstance(company_id, str) and _ID.match(company_id)) or not (
                isinstance(project_id, str) and _ID.match(project_id)
            ):
                summary.unusable += 1
                continue
            value = project_key(company_id, project_id)
            summary.missing[value] += 1
            if act:
                if self.set_key(item["primary_channel"], item["conversation_id"], value):
                    summary.written += 1
                else:
                    summary.already_set += 1
        return summary

    def _records_lacking_the_key(self, summary: Summary) -> Iterator[dict[str, Any]]:
        request: dict[str, Any] = {
            "TableName": self._table,
            "ProjectionExpression": "primary_channel, conversation_id, company_id, project_id",
            "FilterExpression": "attribute_not_exists(gsi_project_key)",
        }
        while True:
            page = self._dynamodb.scan(**request)
            summary.scanned += page.get("ScannedCount", 0)
            yield from (from_item(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def set_key(self, primary_channel: str, conversation_id: str, value: str) -> bool:
        """False when the record already has a key or is gone: nothing is written then."""
        try:
            self._dynamodb.update_item(
                TableName=self._table,
                Key=to_item({"primary_channel": primary_channel, "conversation_id": conversation_id}),
                UpdateExpression="SET gsi_project_key = :key",
                ConditionExpression="attribute_exists(primary_channel) AND attribute_not_exists(gsi_project_key)",
                ExpressionAttributeValues=to_item({":key": value}),
            )
        except ClientError as error:
            if error_code(error) == CONDITION_FAILED:
                return False
            raise
        return True
