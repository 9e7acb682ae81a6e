"""The operators' view of the suppression list (issue 12): add, remove, check an address, list a
company's entries. Addresses are given on the command line and never printed unmasked.

    python -m tools.suppressions add    --env dev --company-id C --channel sms --address +447700900123 [--by sam]
    python -m tools.suppressions remove --env dev --company-id C --channel sms --address +447700900123 \\
                                        --reason "asked by phone to hear from us again" [--by sam]
    python -m tools.suppressions check  --env dev --company-id C --channel email --address a@example.com [--json]
    python -m tools.suppressions list   --env dev --company-id C [--json]

``add`` writes an ``operator`` entry (START never lifts it); ``remove`` lifts an active entry of any
reason and records the written reason and who. Nothing is ever deleted: the list is the consent
history. Uses the usual AWS credentials (``secretsmanager:GetSecretValue`` on the consent key and
the table's items), or ``AWS_ENDPOINT_URL`` for the local stack (``. .local/env``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import TypeAdapter, ValidationError

from shared.channels import Channel
from shared.consent.address_hash import load_hasher, normalise_address
from shared.consent.suppressions import SuppressionEntry, SuppressionList, SuppressionReason
from shared.identifiers import ID_PATTERN
from shared.log_masking import mask_address
from shared.models.request import PhoneNumber, RecipientEmail
from shared.processing.errors import CredentialsMissing, RecordStoreUnavailable, SecretsUnavailable
from shared.secret_names import consent_key_secret_name
from shared.tables import SUPPRESSIONS
from stacks.names import physical_name
from tools.aws_region import add_region_argument, session

_PHONE = TypeAdapter(PhoneNumber)
_EMAIL = TypeAdapter(RecipientEmail)
# ``operator:<who>`` is the entry's source: a login name, not free text (it must hold no personal data).
_OPERATOR = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_MAX_REASON = 300
_LIST_COLUMNS = ("channel", "address_hint", "state", "reason", "source", "time")


class BadInput(ValueError):
    """An argument the tool refuses before it reads or writes anything."""


def parse_address(channel: Channel, address: str) -> str:
    """The address as the router checks it: E.164 for WhatsApp and SMS (``whatsapp:`` allowed),
    a valid email for email. The error never repeats the address."""
    try:
        if channel is Channel.EMAIL:
            return _EMAIL.validate_python(address.strip())
        return _PHONE.validate_python(normalise_address(address))
    except ValidationError:
        expected = "an email address" if channel is Channel.EMAIL else "an E.164 number (+, country code, 7-15 digits)"
        raise BadInput(f"--address is not {expected} (channel {channel.value})") from None


def operator_name(given: str | None, environment_user: str | None) -> str:
    name = given or environment_user
    if not name:
        raise BadInput("say who you are: pass --by NAME (or set $USER)")
    if not _OPERATOR.match(name):
        raise BadInput("--by must be a login name: letters, digits, '.', '_' or '-', at most 64")
    return name


def lift_reason(text: str) -> str:
    reason = " ".join(text.split())
    if not reason:
        raise BadInput("--reason must say why the entry is lifted")
    if len(reason) > _MAX_REASON:
        raise BadInput(f"--reason is longer than {_MAX_REASON} characters")
    return reason


def _time(entry: SuppressionEntry) -> str:
    """When the entry reached its current state."""
    return (entry.suppressed_at if entry.is_active else entry.lifted_at) or entry.suppressed_at


def _public(entry: SuppressionEntry) -> dict[str, Any]:
    """What an operator sees of an entry: everything but its key (the address's keyed hash)."""
    return entry.model_dump(mode="json", exclude={"suppression_key"}) | {"time": _time(entry)}


def render_table(entries: list[SuppressionEntry]) -> str:
    rows = [_LIST_COLUMNS] + [
        (entry.channel.value, entry.address_hint or "", entry.state, entry.reason.value, entry.source, _time(entry))
        for entry in sorted(entries, key=lambda e: (e.channel.value, _time(e)))
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(len(_LIST_COLUMNS))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    )


def _describe(entry: SuppressionEntry | None, *, company_id: str, channel: Channel, masked: str) -> str:
    if entry is None:
        return f"not suppressed: {masked} on {channel.value} for {company_id} (no entry)"
    if entry.is_active:
        return (
            f"suppressed: {masked} on {channel.value} for {company_id} since {entry.suppressed_at} "
            f"(reason {entry.reason.value}, source {entry.source})"
        )
    return (
        f"not suppressed: {masked} on {channel.value} for {company_id}; lifted {entry.lifted_at} by "
        f"{entry.lifted_by} ({entry.lifted_reason}); was {entry.reason.value} since {entry.suppressed_at}"
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.suppressions", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help_text: str, *, address: bool = True) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("--env", default="dev")
        sub.add_argument("--company-id", required=True)
        if address:
            sub.add_argument("--channel", required=True, choices=[channel.value for channel in Channel])
            sub.add_argument("--address", required=True, help="the person's number or email (never printed unmasked)")
        add_region_argument(sub)
        return sub

    add = command("add", "suppress an address (reason operator: START never lifts it)")
    add.add_argument("--reason", default=SuppressionReason.OPERATOR.value, choices=[SuppressionReason.OPERATOR.value])
    add.add_argument("--project-id", help="the project the request came through, if any")
    add.add_argument("--by", help="who is adding it (default $USER); stored as source operator:<by>")
    remove = command("remove", "lift an active entry of any reason, saying why")
    remove.add_argument("--reason", required=True, help="why it is lifted (do not write the address)")
    remove.add_argument("--by", help="who is lifting it (default $USER)")
    check = command("check", "is the address suppressed? with reason and time")
    check.add_argument("--json", action="store_true")
    listing = command("list", "a company's entries, addresses masked", address=False)
    listing.add_argument("--json", action="store_true")
    return parser


def _identifier(value: str | None, option: str) -> str | None:
    if value is not None and not re.match(ID_PATTERN, value):
        raise BadInput(f"{option} is not an id ([A-Za-z0-9][A-Za-z0-9_.-]{{0,63}})")
    return value


def run(args: argparse.Namespace, suppressions_for: Any, user: str | None) -> tuple[int, str]:
    """The command's exit status and what it prints; bad input is refused before any AWS call."""
    company_id = _identifier(args.company_id, "--company-id") or ""
    project_id = _identifier(getattr(args, "project_id", None), "--project-id")
    if args.command == "list":
        entries = suppressions_for().entries(company_id)
        if args.json:
            return 0, json.dumps([_public(entry) for entry in entries], indent=2)
        return 0, render_table(entries) if entries else f"no entries for {company_id}"

    channel = Channel(args.channel)
    address = parse_address(channel, args.address)
    masked = mask_address(normalise_address(address)) or ""
    if args.command == "add":
        who = operator_name(args.by, user)
        suppressions = suppressions_for()
        made = suppressions.suppress(
            company_id, channel, address, reason=SuppressionReason.OPERATOR, source=f"operator:{who}",
            project_id=project_id,
        )  # fmt: skip
        if made:
            return 0, f"suppressed: {masked} on {channel.value} for {company_id} (operator, by {who})"
        entry = suppressions.entry(company_id, channel, address)
        return 0, "already " + _describe(entry, company_id=company_id, channel=channel, masked=masked)
    if args.command == "remove":
        why = lift_reason(args.reason)
        who = operator_name(args.by, user)
        lifted = suppressions_for().lift(
            company_id, channel, address, reasons=None, lifted_reason=why, lifted_by=f"operator:{who}"
        )
        if lifted:
            return 0, f"lifted: {masked} on {channel.value} for {company_id} (by {who}: {why})"
        return 1, f"nothing lifted: {masked} on {channel.value} for {company_id} is not suppressed"
    entry = suppressions_for().entry(company_id, channel, address)
    if args.json:
        found = None if entry is None else _public(entry)
        suppressed = entry is not None and entry.is_active
        return 0, json.dumps({"suppressed": suppressed, "address_hint": masked, "entry": found}, indent=2)
    return 0, _describe(entry, company_id=company_id, channel=channel, masked=masked)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    aws = session(args.env, args.region)

    def suppressions_for() -> SuppressionList:
        hasher = load_hasher(aws.client("secretsmanager"), consent_key_secret_name(args.env))
        return SuppressionList(aws.client("dynamodb"), physical_name(SUPPRESSIONS.logical_name, args.env), hasher)

    try:
        status, output = run(args, suppressions_for, os.environ.get("USER"))
    except BadInput as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (SecretsUnavailable, CredentialsMissing, RecordStoreUnavailable) as error:
        print(f"error: the suppression list of {args.env} could not be used: {error}", file=sys.stderr)
        return 1
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        print(f"error: the suppression list of {args.env} could not be used: {code}", file=sys.stderr)
        return 1
    except BotoCoreError as error:
        print(f"error: AWS could not be reached: {type(error).__name__}", file=sys.stderr)
        return 1
    print(output, file=sys.stdout if status == 0 else sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
