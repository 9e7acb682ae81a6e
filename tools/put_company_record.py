"""Puts a company/project record into the company-data table, validated by the same model the
router reads it with: ``python -m tools.put_company_record RECORD.json --env dev [--api-key-id ID]``.

Uses the usual AWS credentials (or ``AWS_ENDPOINT_URL`` for the local stack).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

import boto3
from pydantic import ValidationError

from shared import json_codec
from shared.models.company import CompanyRecord
from stacks.names import physical_name


def prepared_record(path: Path, *, api_key_ids: list[str], now: datetime) -> dict:
    """The record as it will be stored; raises ValidationError when the router could not use it."""
    record = json_codec.loads(path.read_text())
    if api_key_ids:
        record["api_key_ids"] = sorted(set(record.get("api_key_ids", [])) | set(api_key_ids))
    record["api_key_ids"] = [key for key in record.get("api_key_ids", []) if not key.startswith("<")]
    record.setdefault("created_at", now.isoformat().replace("+00:00", "Z"))
    record["updated_at"] = now.isoformat().replace("+00:00", "Z")
    CompanyRecord.model_validate(record)
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.put_company_record", description=__doc__)
    parser.add_argument("record", type=Path)
    parser.add_argument("--env", default="dev")
    parser.add_argument("--api-key-id", action="append", default=[], help="API Gateway key id to bind (repeatable)")
    args = parser.parse_args(argv)
    try:
        record = prepared_record(args.record, api_key_ids=args.api_key_id, now=datetime.now(UTC))
    except ValidationError as error:
        print(f"error: the record is invalid:\n{error}", file=sys.stderr)
        return 2
    table = boto3.resource("dynamodb").Table(physical_name("company-data", args.env))
    table.put_item(Item=record)
    print(f"put {record['company_id']}/{record['project_id']} into {table.name} (keys: {record['api_key_ids']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
