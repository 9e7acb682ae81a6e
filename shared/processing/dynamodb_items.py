"""DynamoDB items as the repositories write and read them, and DynamoDB's errors as named failures."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError
from pydantic import BaseModel

from shared.processing.errors import RecordStoreUnavailable

_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()
# Codes that say "not now"; anything else (a missing table, a malformed request) is a bug to surface.
TRANSIENT_CODES = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionConflictException",
}
CONDITION_FAILED = "ConditionalCheckFailedException"


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def store_error(error: ClientError, doing: str) -> Exception:
    code = error_code(error)
    if code in TRANSIENT_CODES:
        return RecordStoreUnavailable(f"DynamoDB failed {doing}: {code}")
    return error


def old_item(error: ClientError) -> dict[str, Any] | None:
    """The item a failed condition was checked against (``ReturnValuesOnConditionCheckFailure``)."""
    item = error.response.get("Item")
    return from_item(item) if item else None


def to_item(values: dict[str, Any]) -> dict[str, Any]:
    return {name: _SERIALIZER.serialize(_plain(value)) for name, value in values.items()}


def _plain(value: Any) -> Any:
    """Plain DynamoDB values: models as maps, enums as strings, floats as exact decimals."""
    if isinstance(value, BaseModel):
        return _plain(value.model_dump(mode="python", exclude_none=True))
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "value") and isinstance(getattr(value, "value", None), str):
        return value.value
    return value


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _DESERIALIZER.deserialize(value) for name, value in item.items()}
