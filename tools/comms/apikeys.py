"""``comms apikey create|list|revoke``: tenants' API keys, the environment's usage plan, the bindings.

    comms apikey create --name cucumber-clarify-cv --company-id ci-demo-001 --project-id pi-demo-001 --env prod
    comms apikey list [--company-id ci-demo-001 [--project-id pi-demo-001]] --env prod
    comms apikey revoke KEY_ID --env prod            # what it would change; --yes to do it

A key's value is printed once, by ``create``; nothing else prints or logs it.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from tools.comms.arguments import identifier
from tools.comms.company_table import CompanyTable
from tools.comms.errors import CommandError
from tools.comms.key_lifecycle import Project, Revocation, create_key, revocation_of, revoke
from tools.comms.options import Subcommands, add_command, add_group
from tools.comms.output import emit, emit_one
from tools.comms.target import Target
from tools.comms.usage_plans import ApiKeys

LIST_COLUMNS = ("id", "name", "enabled", "created", "projects")


def register(groups: Subcommands) -> None:
    commands = add_group(
        groups,
        "apikey",
        help="tenants' API keys: create (in the usage plan, bound to a project), list, revoke",
        description="API Gateway keys of the environment's usage plan and the projects they are bound to.",
    )

    create = add_command(
        commands,
        "create",
        _create,
        help="create an enabled key in the usage plan, bound to a project if given; prints its value once",
    )
    create.add_argument("--name", required=True, help="the key's name in API Gateway (e.g. <company>-<project>)")
    create.add_argument(
        "--company-id", type=identifier, help="bind the key to this company's project (with --project-id)"
    )
    create.add_argument("--project-id", type=identifier, help="bind the key to this project (with --company-id)")

    listing = add_command(commands, "list", _list, help="the usage plan's keys and the projects bound to each")
    listing.add_argument("--company-id", type=identifier, help="only keys bound to this company's projects")
    listing.add_argument("--project-id", type=identifier, help="only keys bound to this project (with --company-id)")

    withdraw = add_command(
        commands,
        "revoke",
        _revoke,
        help="unbind a key from every project, remove it from the usage plan and delete it (--yes)",
    )
    withdraw.add_argument("key_id", metavar="KEY_ID")
    withdraw.add_argument("--yes", action="store_true", help="do it (without: show what would change)")


def _create(args: argparse.Namespace, target: Target) -> None:
    project = _project_of(args, required_together=True)
    key = create_key(
        args.name, project=project, keys=ApiKeys.of(target), company=CompanyTable.of(target), now=datetime.now(UTC)
    )
    emit_one(
        {
            "id": key.id,
            "name": key.name,
            "value": key.value,
            "usage_plan": key.usage_plan.name,
            "bound_to": str(key.project) if key.project else None,
        },
        as_json=args.json,
    )


def _list(args: argparse.Namespace, target: Target) -> None:
    _project_of(args, required_together=False)
    keys = ApiKeys.of(target)
    bound: dict[str, list[str]] = defaultdict(list)
    for record in CompanyTable.of(target).projects(args.company_id):
        if args.project_id is None or record["project_id"] == args.project_id:
            for key_id in record.get("api_key_ids") or []:
                bound[key_id].append(f"{record['company_id']}/{record['project_id']}")
    rows = [
        {"id": key.id, "name": key.name, "enabled": key.enabled, "created": key.created, "projects": bound[key.id]}
        for key in keys.in_plan(keys.plan())
        if args.company_id is None or bound[key.id]
    ]
    emit(rows, LIST_COLUMNS, as_json=args.json)


def _revoke(args: argparse.Namespace, target: Target) -> None:
    keys, company = ApiKeys.of(target), CompanyTable.of(target)
    revocation = revocation_of(args.key_id, keys=keys, company=company)
    if args.yes:
        revoke(revocation, keys=keys, company=company, now=datetime.now(UTC))
    if args.json:
        emit_one(_revocation_fields(revocation) | {"revoked": bool(args.yes)}, as_json=True)
        return
    print(_revocation_text(revocation, done=args.yes))


def _project_of(args: argparse.Namespace, *, required_together: bool) -> Project | None:
    """``--company-id``/``--project-id``: both or neither to bind; ``--project-id`` needs its company."""
    if args.project_id and not args.company_id:
        raise CommandError("--project-id needs --company-id")
    if required_together and args.company_id and not args.project_id:
        raise CommandError("--company-id needs --project-id: a key is bound to one project")
    if args.company_id and args.project_id:
        return Project(args.company_id, args.project_id)
    return None


def _revocation_fields(revocation: Revocation) -> dict[str, Any]:
    return {
        "key_id": revocation.key_id,
        "name": revocation.name,
        "key_exists": revocation.key_exists,
        "projects": [str(project) for project in revocation.projects],
        "usage_plans": [plan.name for plan in revocation.usage_plans],
    }


def _revocation_text(revocation: Revocation, *, done: bool) -> str:
    unbind, leave, delete = (
        ("unbound from", "removed from", "deleted")
        if done
        else ("would unbind from", "would remove from", "would delete")
    )
    name = revocation.name or "no longer in API Gateway"
    lines = [f"{'revoked' if done else 'would revoke'} API key {revocation.key_id} ({name}):"]
    lines += [f"  {unbind} project {project}" for project in revocation.projects]
    lines += [f"  {leave} usage plan {plan.name}" for plan in revocation.usage_plans]
    if revocation.key_exists:
        lines.append(f"  {delete} the key")
    if not done:
        lines.append("nothing changed: run again with --yes to revoke")
    return "\n".join(lines)
