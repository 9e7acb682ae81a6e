"""The company-data table as operators change it: whole records, a project's status, and the API
keys bound to a project (``api_key_ids``, which the router checks on every request).

Every change to an existing project is a conditional write: a status or a key never creates a
half record for a project that does not exist, and a key is unbound only from the list it was read
in (a concurrent bind is not lost).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from tools.comms.company_records import utc_stamp
from tools.comms.errors import CommandError, NotFound
from tools.comms.target import Target

# An unbind that meets a concurrent change reads the record again; more than this many is not a race.
_UNBIND_ATTEMPTS = 5


class ProjectNotFound(NotFound):
    def __init__(self, company_id: str, project_id: str):
        super().__init__(f"no project {company_id}/{project_id} in the company-data table")


class KeptChanging(CommandError):
    """Others wrote the record between each read and write; nothing of ours was written to it."""

    exit_code = 1


class CompanyTable:
    def __init__(self, table: Any):
        self._table = table

    @classmethod
    def of(cls, target: Target) -> CompanyTable:
        return cls(target.resource("dynamodb").Table(target.name("company-data")))

    @property
    def name(self) -> str:
        return str(self._table.name)

    def get(self, company_id: str, project_id: str) -> dict[str, Any] | None:
        key = {"company_id": company_id, "project_id": project_id}
        item: dict[str, Any] | None = self._table.get_item(Key=key, ConsistentRead=True).get("Item")
        return item

    def require(self, company_id: str, project_id: str) -> dict[str, Any]:
        item = self.get(company_id, project_id)
        if item is None:
            raise ProjectNotFound(company_id, project_id)
        return item

    def put(self, record: dict[str, Any]) -> None:
        self._table.put_item(Item=record)

    def projects(self, company_id: str | None = None) -> list[dict[str, Any]]:
        """Every project (a Scan: the table is small and read by operators only), or one company's
        (a Query of its partition), in key order."""
        if company_id is not None:
            items = self._pages("query", KeyConditionExpression=Key("company_id").eq(company_id))
        else:
            items = self._pages("scan")
        return sorted(items, key=lambda item: (item["company_id"], item["project_id"]))

    def projects_bound_to(self, key_id: str) -> list[dict[str, Any]]:
        items = self._pages("scan", FilterExpression=Attr("api_key_ids").contains(key_id))
        return sorted(items, key=lambda item: (item["company_id"], item["project_id"]))

    def set_status(self, company_id: str, project_id: str, status: str, now: datetime) -> dict[str, Any]:
        """Sets ``project_status``; returns the record as it was before. ProjectNotFound (nothing
        written) when there is no such project."""
        try:
            answer = self._table.update_item(
                Key={"company_id": company_id, "project_id": project_id},
                UpdateExpression="SET project_status = :status, updated_at = :now",
                ConditionExpression=Attr("project_id").exists(),
                ExpressionAttributeValues={":status": status, ":now": utc_stamp(now)},
                ReturnValues="ALL_OLD",
            )
        except ClientError as error:
            raise _missing_project(error, company_id, project_id) from None
        old: dict[str, Any] = answer["Attributes"]
        return old

    def bind_key(self, company_id: str, project_id: str, key_id: str, now: datetime) -> None:
        """Appends ``key_id`` to the project's ``api_key_ids``; ProjectNotFound when the project is gone."""
        try:
            self._table.update_item(
                Key={"company_id": company_id, "project_id": project_id},
                UpdateExpression="SET api_key_ids = list_append(if_not_exists(api_key_ids, :none), :key), "
                "updated_at = :now",
                ConditionExpression=Attr("project_id").exists(),
                ExpressionAttributeValues={":key": [key_id], ":none": [], ":now": utc_stamp(now)},
            )
        except ClientError as error:
            raise _missing_project(error, company_id, project_id) from None

    def unbind_key(self, company_id: str, project_id: str, key_id: str, now: datetime) -> bool:
        """Removes ``key_id`` from the project's ``api_key_ids``; False when it was not bound (or
        the project is gone). Written only over the list it read, read again after a concurrent change."""
        for _ in range(_UNBIND_ATTEMPTS):
            item = self.get(company_id, project_id)
            bound = (item or {}).get("api_key_ids") or []
            if key_id not in bound:
                return False
            try:
                self._table.update_item(
                    Key={"company_id": company_id, "project_id": project_id},
                    UpdateExpression="SET api_key_ids = :remaining, updated_at = :now",
                    ConditionExpression=Attr("api_key_ids").eq(bound),
                    ExpressionAttributeValues={
                        ":remaining": [key for key in bound if key != key_id],
                        ":now": utc_stamp(now),
                    },
                )
                return True
            except ClientError as error:
                if not _condition_failed(error):
                    raise
        raise KeptChanging(f"{company_id}/{project_id} kept changing while unbinding {key_id}; run it again")

    def _pages(self, operation: str, **parameters: Any) -> Iterator[dict[str, Any]]:
        call = getattr(self._table, operation)
        while True:
            page = call(**parameters)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            parameters["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _condition_failed(error: ClientError) -> bool:
    return bool(error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException")


def _missing_project(error: ClientError, company_id: str, project_id: str) -> Exception:
    return ProjectNotFound(company_id, project_id) if _condition_failed(error) else error
