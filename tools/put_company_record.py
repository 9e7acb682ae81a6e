"""Puts a company/project record into the company-data table, validated by the same model the
router reads it with: ``python -m tools.put_company_record RECORD.json --env dev [--api-key-id ID]``.

A project's ``webhook`` must be an https URL to a public host (``shared.url_safety``, the rule the
webhook sender applies again at every delivery) and name its own signing secret. Only against the
local stack (``AWS_ENDPOINT_URL`` on this machine) does ``--allow-local-webhook`` admit an http://
or loopback receiver. Uses the usual AWS credentials (or ``AWS_ENDPOINT_URL`` for the local stack).
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError

from shared import json_codec
from shared.models.company import CompanyRecord
from shared.url_safety import configuration_problem
from stacks.names import physical_name
from tools.aws_region import add_region_argument, session


class RecordRefused(ValueError):
    """The record is valid but the environment may not use it: it names secrets that are not its
    project's own, or a webhook URL the engine must not call."""


def targets_local_stack(environ: Mapping[str, str] = os.environ) -> bool:
    """The tool writes to the local stack: its endpoint (``. .local/env``) is on this machine.
    Real AWS has no endpoint override, and a remote override is not ours to loosen."""
    endpoint = environ.get("AWS_ENDPOINT_URL_DYNAMODB") or environ.get("AWS_ENDPOINT_URL")
    if not endpoint:
        return False
    host = urlsplit(endpoint).hostname or ""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def prepared_record(
    path: Path,
    *,
    api_key_ids: list[str],
    now: datetime,
    env: str,
    existing: dict[str, Any] | None = None,
    allow_local_webhook: bool = False,
) -> dict[str, Any]:
    """The record as it will be stored; raises ValidationError when the router could not use it,
    and RecordRefused when it names another tenant's (or no tenant's) credentials in ``env`` or a
    webhook URL that is not https to a public host (http/loopback only with ``allow_local_webhook``).

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
    company = CompanyRecord.model_validate(record)
    problems = company.secret_problems(env)
    if problems:
        raise RecordRefused("the record names secrets that are not its own:\n" + "\n".join(problems))
    if company.webhook is not None:
        problem = configuration_problem(company.webhook.url, allow_local=allow_local_webhook)
        if problem is not None:
            raise RecordRefused(f"webhook.url: {problem}")
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.put_company_record", description=__doc__)
    parser.add_argument("record", type=Path)
    parser.add_argument("--env", default="dev")
    parser.add_argument("--api-key-id", action="append", default=[], help="API Gateway key id to bind (repeatable)")
    parser.add_argument(
        "--allow-local-webhook",
        action="store_true",
        help="admit an http:// or loopback webhook url (a test receiver); only against the local stack",
    )
    add_region_argument(parser)
    args = parser.parse_args(argv)
    if args.allow_local_webhook and not targets_local_stack():
        print(
            "error: --allow-local-webhook is only for the local stack (AWS_ENDPOINT_URL on this machine, "
            "as . .local/env sets it)",
            file=sys.stderr,
        )
        return 2
    table = session(args.env, args.region).resource("dynamodb").Table(physical_name("company-data", args.env))
    ids = json_codec.loads(args.record.read_text())
    existing = table.get_item(
        Key={"company_id": ids["company_id"], "project_id": ids["project_id"]}, ConsistentRead=True
    ).get("Item")
    try:
        record = prepared_record(
            args.record,
            api_key_ids=args.api_key_id,
            now=datetime.now(UTC),
            env=args.env,
            existing=existing,
            allow_local_webhook=args.allow_local_webhook,
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
