"""``comms suppressions add|remove|check|list``: the operators' view of the suppression list (issue 12).

``add`` writes an ``operator`` entry (START never lifts it); ``remove`` lifts an active entry of any
reason and records the written reason and who. Nothing is ever deleted: the list is the consent
history. Addresses are given on the command line and never printed unmasked. Needs
``secretsmanager:GetSecretValue`` on the environment's consent key (the table's key is a keyed
hash of the address) and the table's items.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from shared.channels import Channel
from shared.consent.address_hash import load_hasher, normalise_address
from shared.consent.suppressions import SuppressionEntry, SuppressionList, SuppressionReason
from shared.log_masking import mask_address
from shared.processing.errors import CredentialsMissing, RecordStoreUnavailable, SecretsUnavailable
from shared.secret_names import consent_key_secret_name
from shared.tables import SUPPRESSIONS
from tools.comms.arguments import identifier, parse_address
from tools.comms.errors import CommandError, NotFound, Unavailable
from tools.comms.options import Subcommands, add_command, add_group
from tools.comms.output import emit, emit_one
from tools.comms.target import Target

# ``operator:<who>`` is the entry's source: a login name, not free text (it must hold no personal data).
_OPERATOR = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_MAX_REASON = 300
LIST_COLUMNS = ("channel", "address_hint", "state", "reason", "source", "time")


def register(groups: Subcommands) -> None:
    commands = add_group(
        groups,
        "suppressions",
        help="who a company may not contact: add, remove, check an address, list",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )

    def command(name: str, run: Any, help_text: str, *, address: bool = True) -> argparse.ArgumentParser:
        sub = add_command(commands, name, run, help=help_text)
        sub.add_argument("--company-id", required=True, type=identifier)
        if address:
            sub.add_argument("--channel", required=True, choices=[channel.value for channel in Channel])
            sub.add_argument("--address", required=True, help="the person's number or email (never printed unmasked)")
        return sub

    add = command("add", _add, "suppress an address (reason operator: START never lifts it)")
    add.add_argument("--reason", default=SuppressionReason.OPERATOR.value, choices=[SuppressionReason.OPERATOR.value])
    add.add_argument("--project-id", type=identifier, help="the project the request came through, if any")
    add.add_argument("--by", help="who is adding it (default $USER); stored as source operator:<by>")
    remove = command("remove", _remove, "lift an active entry of any reason, saying why")
    remove.add_argument("--reason", required=True, help="why it is lifted (do not write the address)")
    remove.add_argument("--by", help="who is lifting it (default $USER)")
    command("check", _check, "is the address suppressed? with reason and time")
    command("list", _list, "a company's entries, addresses masked", address=False)


def operator_name(given: str | None, environment_user: str | None) -> str:
    name = given or environment_user
    if not name:
        raise CommandError("say who you are: pass --by NAME (or set $USER)")
    if not _OPERATOR.match(name):
        raise CommandError("--by must be a login name: letters, digits, '.', '_' or '-', at most 64")
    return name


def lift_reason(text: str) -> str:
    reason = " ".join(text.split())
    if not reason:
        raise CommandError("--reason must say why the entry is lifted")
    if len(reason) > _MAX_REASON:
        raise CommandError(f"--reason is longer than {_MAX_REASON} characters")
    return reason


class _Address:
    """The address of a command, checked, with its masked form (what is printed)."""

    def __init__(self, args: argparse.Namespace):
        self.company_id = args.company_id
        self.channel = Channel(args.channel)
        self.address = parse_address(self.channel, args.address)
        self.masked = mask_address(normalise_address(self.address)) or ""

    def describe(self, entry: SuppressionEntry | None) -> str:
        where = f"{self.masked} on {self.channel.value} for {self.company_id}"
        if entry is None:
            return f"not suppressed: {where} (no entry)"
        if entry.is_active:
            return (
                f"suppressed: {where} since {entry.suppressed_at} (reason {entry.reason.value}, source {entry.source})"
            )
        return (
            f"not suppressed: {where}; lifted {entry.lifted_at} by {entry.lifted_by} ({entry.lifted_reason}); "
            f"was {entry.reason.value} since {entry.suppressed_at}"
        )

    def answer(self, entry: SuppressionEntry | None, **fields: Any) -> dict[str, Any]:
        """What ``--json`` prints: the state, the masked address and the entry without its key."""
        suppressed = entry is not None and entry.is_active
        return {
            "suppressed": suppressed,
            "address_hint": self.masked,
            "entry": None if entry is None else _public(entry),
            **fields,
        }


def _add(args: argparse.Namespace, target: Target) -> None:
    address = _Address(args)
    project_id = args.project_id
    who = operator_name(args.by, os.environ.get("USER"))
    with _suppression_list(target) as suppressions:
        made = suppressions.suppress(
            address.company_id, address.channel, address.address, reason=SuppressionReason.OPERATOR,
            source=f"operator:{who}", project_id=project_id,
        )  # fmt: skip
        entry = suppressions.entry(address.company_id, address.channel, address.address)
    if args.json:
        emit_one(address.answer(entry, added=made), as_json=True)
    elif made:
        print(f"suppressed: {address.masked} on {address.channel.value} for {address.company_id} (operator, by {who})")
    else:
        print("already " + address.describe(entry))


def _remove(args: argparse.Namespace, target: Target) -> None:
    address = _Address(args)
    why = lift_reason(args.reason)
    who = operator_name(args.by, os.environ.get("USER"))
    with _suppression_list(target) as suppressions:
        lifted = suppressions.lift(
            address.company_id, address.channel, address.address, reasons=None, lifted_reason=why,
            lifted_by=f"operator:{who}",
        )  # fmt: skip
        entry = suppressions.entry(address.company_id, address.channel, address.address) if args.json else None
    where = f"{address.masked} on {address.channel.value} for {address.company_id}"
    if not lifted:
        raise NotFound(f"nothing lifted: {where} is not suppressed")
    if args.json:
        emit_one(address.answer(entry, lifted=True), as_json=True)
    else:
        print(f"lifted: {where} (by {who}: {why})")


def _check(args: argparse.Namespace, target: Target) -> None:
    address = _Address(args)
    with _suppression_list(target) as suppressions:
        entry = suppressions.entry(address.company_id, address.channel, address.address)
    if args.json:
        emit_one(address.answer(entry), as_json=True)
    else:
        print(address.describe(entry))


def _list(args: argparse.Namespace, target: Target) -> None:
    company_id = args.company_id
    with _suppression_list(target) as suppressions:
        entries = suppressions.entries(company_id)
    ordered = sorted(entries, key=lambda entry: (entry.channel.value, _time(entry)))
    emit([_public(entry) for entry in ordered], LIST_COLUMNS, as_json=args.json)


@contextmanager
def _suppression_list(target: Target) -> Iterator[SuppressionList]:
    """The environment's list; its failures (no consent key, a failing table) are ``Unavailable``
    naming the environment."""
    try:
        hasher = load_hasher(target.client("secretsmanager"), consent_key_secret_name(target.env))
        yield SuppressionList(target.client("dynamodb"), target.name(SUPPRESSIONS.logical_name), hasher)
    except (SecretsUnavailable, CredentialsMissing, RecordStoreUnavailable) as error:
        raise Unavailable(f"the suppression list of {target.env} could not be used: {error}") from None


def _time(entry: SuppressionEntry) -> str:
    """When the entry reached its current state."""
    return (entry.suppressed_at if entry.is_active else entry.lifted_at) or entry.suppressed_at


def _public(entry: SuppressionEntry) -> dict[str, Any]:
    """What an operator sees of an entry: everything but its key (the address's keyed hash)."""
    return entry.model_dump(mode="json", exclude={"suppression_key"}) | {"time": _time(entry)}
