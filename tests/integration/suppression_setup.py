"""What the suppression-list tests share: the repository over the emulator's table and key, and a
scan of what the table really holds."""

from __future__ import annotations

from typing import Any

from local.emulator import LocalResources
from shared.consent.address_hash import load_hasher
from shared.consent.suppressions import SuppressionList
from shared.tables import SUPPRESSIONS


def suppression_list(aws: LocalResources) -> SuppressionList:
    hasher = load_hasher(aws.client("secretsmanager"), aws.consent_key_secret_id)
    return SuppressionList(aws.client("dynamodb"), aws.table_name(SUPPRESSIONS.logical_name), hasher)


def stored_items(aws: LocalResources) -> list[dict[str, Any]]:
    """Every item of the suppression table, attribute -> plain value."""
    items = aws.client("dynamodb").scan(TableName=aws.table_name(SUPPRESSIONS.logical_name))["Items"]
    return [{name: next(iter(value.values())) for name, value in item.items()} for item in items]
