"""``comms company put|show|list|set-status``: the tenants' company/project records.

comms company put my_company_record.json --env prod [--api-key-id ID]… [--allow-local-webhook]
comms company show ci-demo-001 pi-demo-001 --env prod
comms company list [--company-id ci-demo-001] --env prod
comms company set-status ci-demo-001 pi-demo-001 inactive --env prod
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from tools.comms.arguments import identifier
from tools.comms.company_records import RecordRefused, prepared_record, read_record_file, record_key
from tools.comms.company_table import CompanyTable
from tools.comms.errors import CommandError
from tools.comms.options import Subcommands, add_command, add_group
from tools.comms.output import emit, emit_one
from tools.comms.target import Target

STATUSES = ("active", "inactive")
LIST_COLUMNS = ("company_id", "project_id", "project_status", "channels", "keys", "updated_at")


def register(groups: Subcommands) -> None:
    commands = add_group(
        groups,
        "company",
        help="tenants' company/project records: put, show, list, set-status",
        description="The company-data table: one record per project, as the router reads it.",
    )

    put = add_command(
        commands,
        "put",
        _put,
        help="put a record from a JSON file, validated as the router reads it",
        description="Put a company/project record from FILE (examples/company_record.example.json is one), "
        "validated by the router's own model. Refused: secrets that are not the project's own, a webhook "
        "that is not https to a public host. An existing record keeps its created_at and its bound keys.",
    )
    put.add_argument("file", type=Path, metavar="FILE")
    put.add_argument("--api-key-id", action="append", default=[], help="bind this API key id too (repeatable)")
    put.add_argument(
        "--allow-local-webhook",
        action="store_true",
        help="admit an http:// or loopback webhook url (a test receiver); only with --env local",
    )

    show = add_command(commands, "show", _show, help="one project's record (--json: all of it)")
    _project_arguments(show)

    listing = add_command(commands, "list", _list, help="one row per project")
    listing.add_argument("--company-id", type=identifier, help="only this company's projects")

    status = add_command(
        commands,
        "set-status",
        _set_status,
        help="activate or deactivate a project (the router refuses an inactive one: 403 PROJECT_INACTIVE)",
    )
    _project_arguments(status)
    status.add_argument("status", choices=STATUSES)


def _project_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("company_id", metavar="COMPANY_ID", type=identifier)
    parser.add_argument("project_id", metavar="PROJECT_ID", type=identifier)


def _put(args: argparse.Namespace, target: Target) -> None:
    if args.allow_local_webhook and not target.is_local:
        raise CommandError("--allow-local-webhook is only for --env local (a receiver on this machine, `make local`)")
    document = read_record_file(args.file)
    table = CompanyTable.of(target)
    key = record_key(document)
    existing = table.get(key["company_id"], key["project_id"]) if key else None
    try:
        record = prepared_record(
            document,
            api_key_ids=args.api_key_id,
            now=datetime.now(UTC),
            env=target.env,
            existing=existing,
            allow_local_webhook=args.allow_local_webhook,
        )
    except ValidationError as error:
        raise CommandError(f"the record is invalid:\n{error}") from None
    except RecordRefused as error:
        raise CommandError(str(error)) from None
    table.put(record)
    emit_one(
        {
            "company_id": record["company_id"],
            "project_id": record["project_id"],
            "table": table.name,
            "action": "replaced" if existing else "created",
            "api_key_ids": record["api_key_ids"],
            "created_at": record["created_at"],
            "updated_at": record["updated_at"],
        },
        as_json=args.json,
    )


def _show(args: argparse.Namespace, target: Target) -> None:
    record = CompanyTable.of(target).require(args.company_id, args.project_id)
    emit_one(record if args.json else _summary(record), as_json=args.json)


def _list(args: argparse.Namespace, target: Target) -> None:
    rows = [_row(record) for record in CompanyTable.of(target).projects(args.company_id)]
    emit(rows, LIST_COLUMNS, as_json=args.json)


def _set_status(args: argparse.Namespace, target: Target) -> None:
    now = datetime.now(UTC)
    old = CompanyTable.of(target).set_status(args.company_id, args.project_id, args.status, now)
    change = {
        "company_id": args.company_id,
        "project_id": args.project_id,
        "old_status": old.get("project_status"),
        "new_status": args.status,
    }
    if args.json:
        emit_one(change, as_json=True)
    else:
        print(f"{args.company_id}/{args.project_id}: {change['old_status']} -> {args.status}")


def _identity(record: dict[str, Any]) -> dict[str, Any]:
    return {
        name: record.get(name)
        for name in ("company_id", "project_id", "company_name", "project_name", "project_status")
    }


def _summary(record: dict[str, Any]) -> dict[str, Any]:
    """What an operator checks on a project (the whole record is ``--json``)."""
    return _identity(record) | {
        "allowed_channels": record.get("allowed_channels"),
        "configured_channels": _configured_channels(record),
        "api_key_ids": record.get("api_key_ids"),
        "webhook_url": (record.get("webhook") or {}).get("url"),
        "allowed_link_domains": record.get("allowed_link_domains"),
        "created_at": record.get("created_at"),
        "updated_at": record.get("updated_at"),
    }


def _row(record: dict[str, Any]) -> dict[str, Any]:
    return _identity(record) | {
        "channels": record.get("allowed_channels"),
        "keys": len(record.get("api_key_ids") or []),
        "updated_at": record.get("updated_at"),
    }


def _configured_channels(record: dict[str, Any]) -> list[str]:
    return sorted(name for name, config in (record.get("channel_config") or {}).items() if config)
