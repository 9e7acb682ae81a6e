"""``comms people erase``: a person's conversations and personal data, listed (dry run) or erased."""

from __future__ import annotations

import argparse
from dataclasses import asdict

from tools.comms.erasure import Erasure, Person, Summary, run
from tools.comms.options import Subcommands, add_command, add_group
from tools.comms.output import emit_one
from tools.comms.target import Target


def register(groups: Subcommands) -> None:
    commands = add_group(
        groups,
        "people",
        help="a person's data: erase it when they ask",
        description="The people the engine wrote to (issue 12).",
    )
    erase = add_command(
        commands,
        "erase",
        _erase,
        help="erase a person's conversations and personal data (a dry run without --yes)",
        description="Every conversation record, provider-messages item, unmatched item, tenant webhook event and "
        "pending wake-up holding the address goes; suppression entries (a keyed hash) stay. Addresses are "
        "printed masked.",
    )
    erase.add_argument("--address", required=True, help="E.164 phone number (+447700900123) or email address")
    erase.add_argument("--company-id", help="only this company's data (default: every company's)")
    erase.add_argument("--yes", action="store_true", help="erase; without it, only list what would go")


def _erase(args: argparse.Namespace, target: Target) -> None:
    person = Person.parse(args.address)
    erasure = Erasure(target.client("dynamodb"), target.client("scheduler"), env=target.env)
    summary = run(erasure, person, company_id=args.company_id, act=args.yes)
    if args.json:
        emit_one(asdict(summary), as_json=True)
    else:
        _print(summary)


def _print(summary: Summary) -> None:
    verb = "erased" if summary.erased else "would erase (dry run: add --yes to erase)"
    print(f"{summary.address}: {verb}")
    print(f"  conversations: {len(summary.conversations)}")
    for shown in summary.conversations:
        print(
            f"    {shown['company_id']}/{shown['project_id']} {shown['channel']} {shown['status']} "
            f"(keyed by {shown['keyed_by']})"
        )
    print(f"  provider-messages items of those conversations: {summary.provider_messages}")
    print(f"  unmatched items mentioning the address: {summary.unmatched_items}")
    print(f"  tenant webhook events of those conversations: {summary.webhook_events}")
    if summary.erased:
        print(f"  pending wake-ups cancelled: {summary.schedules_cancelled}")
    print(f"  kept: {summary.kept}")
