"""Puts a company/project record into the company-data table, validated by the same model the
router reads it with: ``python -m tools.put_company_record RECORD.json --env dev [--api-key-id ID]``.

Uses the usual AWS credentials (or ``AWS_ENDPOINT_URL`` for the local stack).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from shared import json_codec
from shared.models.company import CompanyRecord
from stacks.names import physical_name
from tools.aws_region import add_region_argument, session


class RecordRefused(ValueError):
    """The record is valid but names secrets that are not its project's own in the environment."""


def prepared_record(
    path: Path, *, api_key_ids: list[str], now: datetime, env: str, existing: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The record as it will be stored; raises ValidationError when the router could not use it,
    and RecordRefused when it names another tenant's (or no tenant's) credentials in ``env``.

    Once a record exists, the table is the truth of which keys are bound to it (keys are bound
    and revoked there): the file's ``api_key_ids`` only seed a new record, and ``api_key_ids``
    given here are added to whatever is bound now.
    """
    record = json_codec.loads(path.read_text())
    bound = existing.get("api_key_ids", []) if existing else record.get("api_key_ids", [])
    record["api_key_ids"] = sorted({key for key in [*bound, *api_key_ids] if not key.startswith("<")})
    stamp = now.isoformat().replace("+00:00", "Z")
    record["created_at"] = (existing or {}).get("created_at") or record.get("created_at") or stamp
    record["updated_at"] = stamp
    problems = CompanyRecord.model_validate(record).secret_problems(env)
    if problems:
        raise RecordRefused("the record names secrets that are not its own:\n" + "\n".join(problems))
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.put_company_record", description=__doc__)
    parser.add_argument("record", type=Path)
    parser.add_argument("--env", default="dev")
    parser.add_argument("--api-key-id", action="append", default=[], help="API Gateway key id to bind (repeatable)")
    add_region_argument(parser)
    args = parser.parse_args(argv)
    table = session(args.env, args.region).resource("dynamodb").Table(physical_name("company-data", args.env))
    ids = json_codec.loads(args.record.read_text())
    existing = table.get_item(
        Key={"company_id": ids["company_id"], "project_id": ids["project_id"]}, ConsistentRead=True
    ).get("Item")
    try:
        record = prepared_record(
            args.record, api_key_ids=args.api_key_id, now=datetime.now(UTC), env=args.env, existing=existing
        )
    except ValidationError as error:
        print(f"error: the record is invalid:\n{error}", file=sys.stderr)
        return 2
    except RecordRefused as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    table.put_item(Item=record)
    print(f"put {record['company_id']}/{record['project_id']} into {table.name} (keys: {record['api_key_ids']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
