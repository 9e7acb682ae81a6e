"""``comms webhooks replay``: a conversation's tenant events listed, and with ``--yes`` re-sent in order."""

from __future__ import annotations

import argparse

from shared.log_masking import mask_text
from shared.tables import WEBHOOK_EVENTS
from stacks.names import WEBHOOKS_QUEUE, fifo_queue_name
from tools.comms.errors import CommandError, NotFound
from tools.comms.event_replay import logged_events, parse_since, parse_type, replay
from tools.comms.options import Subcommands, add_command, add_group
from tools.comms.output import emit, emit_one
from tools.comms.target import Target


def register(groups: Subcommands) -> None:
    commands = add_group(
        groups,
        "webhooks",
        help="tenants' webhook events: replay a conversation's",
        description="The tenant webhook events the engine logged (issue 13).",
    )
    replay_command = add_command(
        commands,
        "replay",
        _replay,
        help="list a conversation's logged events in order; --yes re-sends them to its project's webhook",
        description="Lists the events logged for a conversation (type, id, time, delivery state); with --yes "
        "puts them back on the webhooks FIFO queue in that order, with the same webhook-id (the tenant dedupes).",
    )
    replay_command.add_argument("--conversation-id", required=True)
    replay_command.add_argument("--since", help="only events at or after this time (ISO 8601 with a zone)")
    replay_command.add_argument("--type", help="only events of this type (e.g. sent or conversation.sent)")
    replay_command.add_argument("--yes", action="store_true", help="re-send them (without it: only list them)")


def _replay(args: argparse.Namespace, target: Target) -> None:
    since, event_type = parse_since(args.since), parse_type(args.type)
    if not args.conversation_id.strip():
        raise CommandError("--conversation-id is empty")
    table_name = target.name(WEBHOOK_EVENTS.logical_name)
    queue = fifo_queue_name(WEBHOOKS_QUEUE, target.env)
    table = target.resource("dynamodb").Table(table_name)
    events = logged_events(table, args.conversation_id, since=since, event_type=event_type)
    if not events:
        # A conversation id ends with an address: echoed masked.
        raise NotFound(f"no logged events for {mask_text(args.conversation_id)} in {table_name}")
    if args.yes:
        sqs = target.client("sqs")
        replay(sqs, sqs.get_queue_url(QueueName=queue)["QueueUrl"], events)
    if args.json:
        emit_one({"replayed": args.yes, "events": [e.public() for e in events]}, as_json=True)
        return
    emit([e.public() for e in events], ("timestamp", "type", "id", "delivery_state"), as_json=False)
    if args.yes:
        print(f"re-sent {len(events)} event(s) to {queue}, in this order")
    else:
        print(f"dry run: {len(events)} event(s) would be re-sent to {queue}; add --yes to send them")
