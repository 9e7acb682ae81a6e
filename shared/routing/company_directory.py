"""Loads a company/project record from the company-data table (one GetItem, nothing else)."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from shared.api_errors import CompanyNotFound, ConfigurationError, DatabaseError
from shared.models.company import CompanyRecord

_DESERIALIZER = TypeDeserializer()


class CompanyDirectory:
    def __init__(self, dynamodb: Any, table_name: str):
        self._dynamodb = dynamodb
        self._table_name = table_name

    def load(self, company_id: str, project_id: str) -> dict[str, Any]:
        """The raw record; checked for the caller's key before it is validated as a whole."""
        try:
            response = self._dynamodb.get_item(
                TableName=self._table_name,
                Key={"company_id": {"S": company_id}, "project_id": {"S": project_id}},
                # A key removed from api_key_ids must stop working at once, not a second later.
                ConsistentRead=True,
            )
        except (ClientError, BotoCoreError) as error:
            raise DatabaseError("The company configuration could not be read") from error
        item = response.get("Item")
        if item is None:
            raise CompanyNotFound(f"No project {project_id!r} is registered for company {company_id!r}")
        return {name: _DESERIALIZER.deserialize(value) for name, value in item.items()}


def company_record(item: dict[str, Any]) -> CompanyRecord:
    try:
        return CompanyRecord.model_validate(item)
    except ValidationError as error:
        raise ConfigurationError("The project's configuration is incomplete or invalid") from error
