"""``comms conversations show|list``: one conversation as an operator reads it, or a project's, newest first.

Both read the table as the tenant's read API does (``shared.reading``): ``show`` finds the record
through ``conversation-id-index`` and reads it consistently; ``list`` queries
``project-created-at-index`` — never a Scan, whatever the table's size.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from botocore.exceptions import BotoCoreError, ClientError

from shared.api_errors import ApiError, DatabaseError
from shared.models.conversation import ConversationRecord
from shared.reading.conversation_ids import parse_conversation_id
from shared.reading.conversation_store import ConversationStore
from shared.reading.list_query import MAX_LIMIT, ListQuery, created_range, parse_statuses
from shared.tables import CONVERSATIONS
from tools.comms import conversation_view
from tools.comms.arguments import project_options
from tools.comms.errors import CommandError, NotFound, Unavailable
from tools.comms.options import Subcommands, add_command, add_group
from tools.comms.output import emit, emit_one
from tools.comms.target import Target

DEFAULT_LIMIT = 25
MAX_ROWS = 1000


def register(groups: Subcommands) -> None:
    commands = add_group(
        groups,
        "conversations",
        help="one conversation and its thread, or a project's conversations",
        description="Read conversations as an operator: statuses, why one failed, the thread. Addresses are masked.",
    )
    show = add_command(
        commands, "show", _show, help="where one conversation stands, then its thread in the order recorded"
    )
    show.add_argument(
        "conversation_id",
        help="as the API answered it: COMPANY#PROJECT#REQUEST_ID#SENDER (quote it; %%23 for # works too)",
    )
    show.add_argument(
        "--full",
        action="store_true",
        help=f"each message whole (default: its first {conversation_view.PREVIEW_CHARS} characters)",
    )
    listing = add_command(commands, "list", _list, help="a project's conversations, newest first")
    project_options(listing)
    listing.add_argument("--status", help="only these statuses: a comma-separated list, e.g. failed_to_send_message")
    listing.add_argument("--since", help="created at or after this ISO 8601 time with a zone (2026-11-24T09:00:00Z)")
    listing.add_argument("--until", help="created before this ISO 8601 time with a zone")
    listing.add_argument(
        "--limit",
        type=int,
        default=DEFAULT_LIMIT,
        help=f"at most this many rows (default {DEFAULT_LIMIT}, up to {MAX_ROWS})",
    )


def _show(args: argparse.Namespace, target: Target) -> None:
    try:
        ref = parse_conversation_id(args.conversation_id)
    except ApiError as error:
        raise CommandError(error.message) from None
    with _store_errors():
        record = _store(target).find(ref)
    if record is None:
        raise NotFound(f"no conversation {ref.conversation_id} in {target.env}")
    view = conversation_view.overview(record, full=args.full)
    if args.json:
        emit_one(view.model_dump(mode="json"), as_json=True)
    else:
        conversation_view.write_overview(view, sys.stdout)


def _list(args: argparse.Namespace, target: Target) -> None:
    query = _query(args)
    if not 1 <= args.limit <= MAX_ROWS:
        raise CommandError(f"--limit must be from 1 to {MAX_ROWS}")
    with _store_errors():
        records, more = newest(_store(target), query, args.limit)
    rows = [conversation_view.row(record).model_dump(mode="json") for record in records]
    emit(rows, conversation_view.LIST_COLUMNS, as_json=args.json)
    if more and not args.json:
        # --until is exclusive: the oldest row's time starts the next screen.
        print(f"more may match: raise --limit, or pass --until {records[-1].created_at}", file=sys.stderr)


def newest(store: ConversationStore, query: ListQuery, limit: int) -> tuple[list[ConversationRecord], bool]:
    """Up to ``limit`` records of the query, newest first, and whether the index may hold more.

    A page holds at most ``MAX_LIMIT`` items, fewer under a status filter (DynamoDB filters after
    its limit): pages are read until ``limit`` rows are found or the index ends."""
    records: list[ConversationRecord] = []
    start_key: dict[str, str] | None = None
    while len(records) < limit:
        page = store.page(replace(query, limit=min(limit - len(records), MAX_LIMIT)), start_key)
        records.extend(page.records)
        start_key = page.last_key
        if start_key is None:
            break
    return records, start_key is not None


def _query(args: argparse.Namespace) -> ListQuery:
    try:
        statuses = parse_statuses(args.status, name="--status")
        created_from, created_through = created_range(args.since, args.until, names=("--since", "--until"))
    except ApiError as error:
        raise CommandError(error.message) from None
    return ListQuery(
        company_id=args.company_id,
        project_id=args.project_id,
        statuses=statuses,
        created_from=created_from,
        created_through=created_through,
        limit=MAX_LIMIT,
        next_token=None,
    )


def _store(target: Target) -> ConversationStore:
    return ConversationStore(target.client("dynamodb"), target.name(CONVERSATIONS.logical_name))


@contextmanager
def _store_errors() -> Iterator[None]:
    """The store speaks the API's errors; an operator wants AWS's own answer (``cli.main`` prints it)."""
    try:
        yield
    except DatabaseError as error:
        cause = error.__cause__
        if isinstance(cause, ClientError | BotoCoreError):
            raise cause from None
        raise Unavailable(f"the conversations table could not be read: {cause}") from None
