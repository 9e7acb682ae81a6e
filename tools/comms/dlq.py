"""``comms dlq list|show|redrive|status|purge``: the environment's dead letters, seen and moved on."""

from __future__ import annotations

import argparse
from typing import Any

from botocore.exceptions import ClientError

from tools.comms.dead_letter_moves import endpoints, move_by_hand, move_tasks, start_move_task
from tools.comms.dead_letters import (
    QUEUE_KEYS,
    DeadLetterQueue,
    dead_letter_queue,
    dead_letter_queues,
    depth,
    letter,
    peek,
)
from tools.comms.options import Subcommands, add_command, add_group
from tools.comms.output import emit, emit_one
from tools.comms.target import Target

SHOW_DEFAULT = 10
MISSING_QUEUE = "AWS.SimpleQueueService.NonExistentQueue"


def register(groups: Subcommands) -> None:
    commands = add_group(
        groups,
        "dlq",
        help="dead-letter queues: list, look, redrive, purge",
        description="The environment's dead-letter queues: "
        "whatsapp, sms, email, events, webhooks (FIFO) and tenant-events (stream failures).",
    )
    add_command(commands, "list", _list, help="every DLQ: messages waiting and in flight, the queue it redrives to")
    show = add_command(
        commands,
        "show",
        _show,
        help="look at a DLQ's messages without taking them (ids, times, receives, why, a masked summary)",
    )
    _queue_argument(show)
    show.add_argument("--max", type=_positive, default=SHOW_DEFAULT, help=f"at most this many (default {SHOW_DEFAULT})")
    redrive = add_command(
        commands,
        "redrive",
        _redrive,
        help="move a DLQ's messages back to their queue (AWS: SQS's move task; local or --max: one by one)",
    )
    _queue_argument(redrive)
    redrive.add_argument("--max", type=_positive, help="at most this many, moved one by one (default: all waiting)")
    status = add_command(commands, "status", _status, help="the DLQ's recent move tasks (AWS) and its depth")
    _queue_argument(status)
    purge = add_command(commands, "purge", _purge, help="delete every message of a DLQ (only with --yes)")
    _queue_argument(purge)
    purge.add_argument("--yes", action="store_true", help="purge; without it, only say how many would go")


def _queue_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("queue", choices=QUEUE_KEYS, help="which DLQ")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return value


def _list(args: argparse.Namespace, target: Target) -> None:
    sqs = target.client("sqs")
    rows = [_depth_row(sqs, queue) for queue in dead_letter_queues(target.env)]
    emit(rows, ("queue", "name", "waiting", "in_flight", "redrives_to"), as_json=args.json)


def _depth_row(sqs: Any, queue: DeadLetterQueue) -> dict[str, Any]:
    row: dict[str, Any] = {
        "queue": queue.key,
        "name": queue.name,
        "redrives_to": queue.source or "- (stream records: comms webhooks replay)",
    }
    url = _url(sqs, queue)
    if url is None:  # the local stack logs stream failures instead of queueing them
        return {**row, "waiting": None, "in_flight": None, "redrives_to": "- (no such queue here)"}
    row["waiting"], row["in_flight"] = depth(sqs, url)
    return row


def _url(sqs: Any, queue: DeadLetterQueue) -> str | None:
    try:
        return str(sqs.get_queue_url(QueueName=queue.name)["QueueUrl"])
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in (MISSING_QUEUE, "QueueDoesNotExist"):
            return None
        raise


def _show(args: argparse.Namespace, target: Target) -> None:
    queue = dead_letter_queue(args.queue, target.env)
    sqs = target.client("sqs")
    url = sqs.get_queue_url(QueueName=queue.name)["QueueUrl"]
    letters = [letter(message) for message in peek(sqs, url, args.max)]
    columns = ("message_id", "sent_at", "receive_count", "failure_reason", *(("group",) if queue.fifo else ()))
    emit(letters, (*columns, "summary"), as_json=args.json)


def _redrive(args: argparse.Namespace, target: Target) -> None:
    queue = dead_letter_queue(args.queue, target.env)
    sqs = target.client("sqs")
    where = endpoints(sqs, queue)  # refuses the stream-failure DLQ before anything moves
    assert queue.source is not None
    if target.is_local or args.max is not None:
        moved = move_by_hand(sqs, where, limit=args.max, fifo=queue.fifo)
        if args.json:
            emit_one({"moved": moved, "from": queue.name, "to": queue.source}, as_json=True)
        else:
            print(f"moved {moved} message(s) from {queue.name} to {queue.source}")
        return
    handle = start_move_task(sqs, where)
    tasks = move_tasks(sqs, where.dlq_arn)
    if args.json:
        emit_one({"task_handle": handle, "from": queue.name, "to": queue.source, "tasks": tasks}, as_json=True)
        return
    print(f"started moving the messages of {queue.name} to {queue.source} (task handle {handle})")
    emit(tasks, _TASK_COLUMNS, as_json=False)
    print(f"follow it with: comms dlq status {queue.key} --env {target.env}")


_TASK_COLUMNS = ("status", "started_at", "moved", "to_move", "destination", "failure_reason")


def _status(args: argparse.Namespace, target: Target) -> None:
    queue = dead_letter_queue(args.queue, target.env)
    sqs = target.client("sqs")
    url = sqs.get_queue_url(QueueName=queue.name)["QueueUrl"]
    waiting, in_flight = depth(sqs, url)
    # The emulator has no move tasks: there `redrive` moves the messages itself before it returns.
    tasks = [] if target.is_local or queue.source is None else move_tasks(sqs, endpoints(sqs, queue).dlq_arn)
    if args.json:
        emit_one({"queue": queue.name, "waiting": waiting, "in_flight": in_flight, "tasks": tasks}, as_json=True)
        return
    print(f"{queue.name}: {waiting} waiting, {in_flight} in flight")
    emit(tasks, _TASK_COLUMNS, as_json=False)


def _purge(args: argparse.Namespace, target: Target) -> None:
    queue = dead_letter_queue(args.queue, target.env)
    sqs = target.client("sqs")
    url = sqs.get_queue_url(QueueName=queue.name)["QueueUrl"]
    waiting, in_flight = depth(sqs, url)
    if args.yes:
        sqs.purge_queue(QueueUrl=url)
    if args.json:
        summary = {"queue": queue.name, "waiting": waiting, "in_flight": in_flight, "purged": args.yes}
        emit_one(summary, as_json=True)
    elif args.yes:
        print(
            f"purged {queue.name}: {waiting + in_flight} message(s) deleted ({waiting} waiting, {in_flight} in flight)"
        )
    else:
        print(
            f"would delete {waiting + in_flight} message(s) from {queue.name} ({waiting} waiting, {in_flight} "
            "in flight); add --yes to purge"
        )
