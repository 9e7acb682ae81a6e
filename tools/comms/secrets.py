"""``comms secrets put openai|credentials|webhook`` and ``comms secrets check``.

Values come from ``--file`` or stdin, never argv, and are checked against the shape the engine
reads before anything is written (``tools.comms.secret_shapes``). Nothing prints a value, except
the signing secret ``put webhook --generate`` makes: the tenant needs it, and it is shown once.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from shared.channels import Channel
from shared.models.company import CHANNEL_CONFIGS
from shared.secret_names import openai_secret_name, webhook_secret_name
from shared.tenant_webhooks.signing_secrets import new_signing_secret
from tools.comms.arguments import CHANNELS, project_options
from tools.comms.errors import CommandError
from tools.comms.options import Subcommands, add_command, add_group
from tools.comms.output import emit, emit_one
from tools.comms.project_record import load_project
from tools.comms.project_secrets import check_secret, needed_secrets
from tools.comms.secret_input import read_secret_text
from tools.comms.secret_shapes import Verdict, credentials_secret, openai_key_text, webhook_secret
from tools.comms.secret_store import Stored, store_secret
from tools.comms.target import Target

CHECK_COLUMNS = ("kind", "channel", "secret", "exists", "valid", "last_changed", "problems", "notes")


def register(groups: Subcommands) -> None:
    commands = add_group(
        groups,
        "secrets",
        help="put a secret (from a file or stdin) or check a project's",
        description="Put the engine's secrets (values from --file or stdin, never the command line; checked "
        "before anything is written) and check that a project has every secret it needs.",
    )
    put = commands.add_parser("put", help="create or update a secret", description="Create or update one secret.")
    kinds = put.add_subparsers(dest="kind", required=True, metavar="KIND")

    openai = add_command(
        kinds, "openai", _put_openai, help="the OpenAI key of a channel (the key text), shared by every tenant"
    )
    openai.add_argument("--channel", required=True, choices=CHANNELS)
    _value_from_file(openai)

    credentials = add_command(
        kinds,
        "credentials",
        _put_credentials,
        help="a project's provider credentials JSON (Twilio for whatsapp/sms, SendGrid for email; docs/secrets.md)",
    )
    credentials.add_argument("--channel", required=True, choices=CHANNELS)
    project_options(credentials)
    _value_from_file(credentials)

    webhook = add_command(
        kinds, "webhook", _put_webhook, help="a project's webhook signing secret (whsec_…), given or --generate'd"
    )
    project_options(webhook)
    source = webhook.add_mutually_exclusive_group()
    _value_from_file(source)
    source.add_argument("--generate", action="store_true", help="make a new secret and print it once")

    check = add_command(
        commands,
        "check",
        _check,
        help="each secret a project needs: exists, shape valid, last changed (exit 1 on any problem)",
    )
    project_options(check)


def _value_from_file(parser: argparse.ArgumentParser | argparse._MutuallyExclusiveGroup) -> None:
    parser.add_argument("--file", metavar="PATH", help="read the value from PATH (default: stdin)")


def _put_openai(args: argparse.Namespace, target: Target) -> int | None:
    key = read_secret_text(args.file, sys.stdin)
    _require_valid(openai_key_text(key), "the OpenAI key")
    name = openai_secret_name(args.channel, target.env)
    _report(store_secret(target.client("secretsmanager"), name, json.dumps({"ai_api_key": key})), args)
    return None


def _put_credentials(args: argparse.Namespace, target: Target) -> int | None:
    channel = Channel(args.channel)
    text = read_secret_text(args.file, sys.stdin)
    _require_valid(credentials_secret(channel, text), f"the {channel.value} credentials")
    name = CHANNEL_CONFIGS[channel].credentials_secret_name(args.company_id, args.project_id, target.env)
    _report(store_secret(target.client("secretsmanager"), name, text), args)
    return None


def _put_webhook(args: argparse.Namespace, target: Target) -> int | None:
    value = new_signing_secret() if args.generate else read_secret_text(args.file, sys.stdin)
    _require_valid(webhook_secret(value), "the webhook signing secret")
    name = webhook_secret_name(args.company_id, args.project_id, target.env)
    stored = store_secret(target.client("secretsmanager"), name, value)
    if stored.action == "updated":
        _note("the webhook sender may sign with the previous secret for up to 5 minutes (its cache)")
    if args.generate:
        _note("give the signing secret to the tenant now: it is not shown again")
    _report(stored, args, shown={"signing_secret": value} if args.generate else {})
    return None


def _check(args: argparse.Namespace, target: Target) -> int | None:
    record = load_project(target, args.company_id, args.project_id)
    secretsmanager = target.client("secretsmanager")
    reports = [check_secret(secretsmanager, needed) for needed in needed_secrets(record, target.env)]
    rows = [report.row() for report in reports]
    if not args.json:
        rows = [row | {"problems": "; ".join(row["problems"]), "notes": "; ".join(row["notes"])} for row in rows]
    emit(rows, CHECK_COLUMNS, as_json=args.json)
    return 1 if any(report.problems for report in reports) else None


def _require_valid(verdict: Verdict, what: str) -> None:
    if not verdict.valid:
        raise CommandError(f"{what} cannot be used, nothing was written: {'; '.join(verdict.problems)}")
    for note in verdict.notes:
        _note(note)


def _report(stored: Stored, args: argparse.Namespace, shown: dict[str, Any] | None = None) -> None:
    item = {"secret": stored.name, "action": stored.action, "version": stored.version_id, **(shown or {})}
    emit_one(item, as_json=args.json)


def _note(text: str) -> None:
    print(f"note: {text}", file=sys.stderr)
