"""``comms maintenance backfill-project-key``: one-off data fixes an upgrade asks for (a dry run without --yes)."""

from __future__ import annotations

import argparse

from shared.tables import CONVERSATIONS
from tools.comms.options import Subcommands, add_command, add_group
from tools.comms.output import emit_one
from tools.comms.project_key_backfill import Backfill, Summary
from tools.comms.target import Target


def register(groups: Subcommands) -> None:
    commands = add_group(
        groups,
        "maintenance",
        help="one-off data fixes after an upgrade",
        description="One-off data fixes an upgrade asks for; each is a dry run without --yes and safe to repeat.",
    )
    backfill = add_command(
        commands,
        "backfill-project-key",
        _backfill_project_key,
        help="give conversation records written before issue 13 their listing key (gsi_project_key)",
        description="GET /conversations lists a project through project-created-at-index; records written before "
        "issue 13 lack its key and are not listed until this runs. Counts per project; --yes writes.",
    )
    backfill.add_argument("--yes", action="store_true", help="write; without it, only count what would be set")


def _backfill_project_key(args: argparse.Namespace, target: Target) -> None:
    backfill = Backfill(target.client("dynamodb"), target.name(CONVERSATIONS.logical_name))
    summary = backfill.run(act=args.yes)
    if args.json:
        emit_one(summary.as_dict(), as_json=True)
    else:
        _print(summary)


def _print(summary: Summary) -> None:
    verb = "set" if summary.applied else "would set (dry run: add --yes to write)"
    print(f"records scanned: {summary.scanned}")
    print(f"records lacking gsi_project_key: {sum(summary.missing.values())} ({verb})")
    for key, count in sorted(summary.missing.items()):
        print(f"  {key}: {count}")
    if summary.applied:
        print(f"written: {summary.written}; already set or gone meanwhile: {summary.already_set}")
    if summary.unusable:
        print(f"left alone (company_id or project_id is not a valid id): {summary.unusable}")
