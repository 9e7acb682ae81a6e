"""Speed of the tenant's side (issue 13) on the local stack: ``python -m local.benchmark_tenant_api``
(``make bench-tenant``).

Starts the local stack on free ports with an instant AI, points the seeded project's webhook at a
receiver in this process (``local.tenant_webhook.set_webhook``, as an operator would) and raises
the project's own request limits (60 a minute in the sample record) so that a few hundred
conversations can be opened through the API. Then:

1. opens ``--timed`` conversations slowly and times each tenant event from the time the engine
   gives it (the record's own ``sent_at``, the reply's ``timestamp``, ``delivery_updated_at``: the
   same machine clock) to the receiver getting the POST; the person answers each of them once;
2. opens the rest quickly (a project to list) and waits until the receiver has been quiet;
3. times ``GET /conversations/{id}`` on an answered conversation (three messages) and every page
   of ``GET /conversations`` over the whole project at ``limit`` 25 and 100, paced under the usage
   plan's 10 requests/s;
4. reads the conversations table's stream from its start and counts the record writes per
   conversation and which of them rewrite each global secondary index (the cost notes' input).

Numbers go to docs/benchmarks.md; they are never asserted in tests.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests
from standardwebhooks.webhooks import Webhook

from local.benchmark import initiate_request
from local.benchmark_replies import REPLY_TEXT, percentile
from local.sandboxes.person import ReplyRequest
from local.stack import LocalStack, LocalStackOptions
from local.tenant_webhook import set_webhook
from shared import tables

CHANNELS = ("whatsapp", "sms", "email")
# What one key may do (the usage plan allows 10/s): the reads are paced under it, not throttled.
READS_PER_SECOND = 8.0
# The receiver has been quiet this long: the sandboxes' callbacks (0.5 s apart) are all through.
QUIET_SECONDS = 5.0
EVENT_TYPES = (
    "conversation.sent",
    "conversation.delivered",
    "conversation.read",
    "conversation.reply_received",
    "conversation.reply_sent",
)


@dataclass
class Arrival:
    at: float  # epoch seconds the receiver read the POST
    body: bytes
    headers: dict[str, str]

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)


class Receiver:
    """The tenant's endpoint: answers 200 to every POST and keeps when each one arrived."""

    def __init__(self) -> None:
        self.arrivals: list[Arrival] = []
        # Checked on arrival: Standard Webhooks refuses a timestamp older than five minutes.
        self.verifier: Webhook | None = None
        self.verified = 0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                arrival = Arrival(time.time(), body, {k.lower(): v for k, v in self.headers.items()})
                if receiver.verifier is not None:
                    receiver.verifier.verify(body, arrival.headers)  # raises on a bad signature: no 200
                with receiver._lock:
                    receiver.arrivals.append(arrival)
                    receiver.verified += receiver.verifier is not None
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="tenant-receiver", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/events"

    def received(self) -> list[Arrival]:
        with self._lock:
            return list(self.arrivals)

    def of_type(self, event_type: str) -> dict[str, Arrival]:
        """conversation id -> the first arrival of its event of that type."""
        found: dict[str, Arrival] = {}
        for arrival in self.received():
            event = arrival.event
            if event["type"] == event_type:
                found.setdefault(event["data"]["conversation_id"], arrival)
        return found

    def wait_quiet(self, seconds: float, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            arrivals = self.received()
            if not arrivals or time.time() - arrivals[-1].at >= seconds:
                return
            time.sleep(0.5)

    @contextmanager
    def running(self) -> Iterator[Receiver]:
        self._thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()


@dataclass
class Opened:
    channel: str
    conversation_id: str
    address: str


@dataclass
class Results:
    # type -> seconds from the happening to the POST received, and the two hops: to the event's
    # webhook-events item (the stream and the tenant-events function), from it to the POST (the
    # FIFO queue, the webhook sender, the HTTP request); the timed conversations only.
    event_lags: dict[str, list[float]] = field(default_factory=dict)
    to_logged: dict[str, list[float]] = field(default_factory=dict)
    logged_to_post: dict[str, list[float]] = field(default_factory=dict)
    load: list[float] = field(default_factory=list)  # the 1-minute load average at each phase
    by_id: list[float] = field(default_factory=list)
    thread_length: int = 0
    pages: dict[int, list[float]] = field(default_factory=dict)  # limit -> seconds per page
    listed: dict[int, int] = field(default_factory=dict)  # limit -> conversations seen in one walk
    opened: int = 0
    deliveries: int = 0
    verified: int = 0
    events_logged: int = 0
    writes: Counter[str] = field(default_factory=Counter)
    sizes: dict[str, list[int]] = field(default_factory=dict)  # what -> approximate item bytes


def _seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def prepare_project(stack: LocalStack, receiver_url: str) -> str:
    """The seeded project's limits raised and its webhook set; the signing secret."""
    tenant = stack.tenant
    stack.resources.table(tables.COMPANY_DATA.logical_name).update_item(
        Key={"company_id": tenant.company_id, "project_id": tenant.project_id},
        UpdateExpression="SET rate_limits.requests_per_minute = :minute, rate_limits.requests_per_day = :day",
        ExpressionAttributeValues={":minute": 6000, ":day": 100_000},
    )
    secret = set_webhook(stack.env_values(), tenant.company_id, tenant.project_id, receiver_url)
    assert secret is not None  # a fresh stack's project has none
    return secret


def open_conversations(stack: LocalStack, numbers: range, rate_per_second: float) -> list[Opened]:
    session = requests.Session()
    opened: list[Opened] = []
    lock = threading.Lock()

    def post(number: int) -> None:
        channel = CHANNELS[number % len(CHANNELS)]
        body, address = initiate_request(channel, number)
        for _ in range(10):
            response = session.post(
                f"{stack.gateway.url}/initiate-conversation",
                json=body,
                headers={"x-api-key": stack.tenant.api_key},
                timeout=30,
            )
            # The client's retry, the same body (the request id makes it safe): throttled, the
            # same request still being queued (409 with Retry-After), or a server error.
            if response.status_code not in (429, 500, 502, 503) and "Retry-After" not in response.headers:
                break
            time.sleep(float(response.headers.get("Retry-After", 1)))
        if not response.ok:
            raise RuntimeError(f"initiate answered {response.status_code}: {response.text[:300]}")
        with lock:
            opened.append(Opened(channel, response.json()["conversation_id"], address))

    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = []
        for number in numbers:
            futures.append(pool.submit(post, number))
            time.sleep(1 / rate_per_second)
        for future in futures:
            future.result()
    return opened


def _wait_for(condition: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def reply_to_each(stack: LocalStack, opened: list[Opened], rate_per_second: float) -> None:
    for conversation in opened:
        sandbox = stack.sandboxes.sendgrid if conversation.channel == "email" else stack.sandboxes.twilio
        sandbox.person.reply(ReplyRequest(conversation.conversation_id, REPLY_TEXT))
        time.sleep(1 / rate_per_second)


def _paced_get(session: requests.Session, url: str, **params: Any) -> tuple[float, dict[str, Any]]:
    started = time.monotonic()
    response = session.get(url, params=params or None, timeout=30)
    took = time.monotonic() - started
    response.raise_for_status()
    time.sleep(max(0.0, 1 / READS_PER_SECOND - took))
    return took, response.json()


def time_reads(stack: LocalStack, conversation_id: str, *, reads: int, walks: int, results: Results) -> None:
    session = requests.Session()
    session.headers["x-api-key"] = stack.tenant.api_key
    by_id = f"{stack.gateway.url}/conversations/{quote(conversation_id, safe='')}"
    for _ in range(reads):
        took, body = _paced_get(session, by_id)
        results.by_id.append(took)
        results.thread_length = len(body["messages"])
    listing = f"{stack.gateway.url}/conversations"
    project = {"company_id": stack.tenant.company_id, "project_id": stack.tenant.project_id}
    for limit in (25, 100):
        results.pages[limit] = []
        for _ in range(walks if limit == 25 else walks * 2):
            seen, token = 0, None
            while True:
                took, page = _paced_get(
                    session, listing, **project, limit=limit, **({"next_token": token} if token else {})
                )
                results.pages[limit].append(took)
                seen += len(page["conversations"])
                token = page.get("next_token")
                if not token:
                    break
            results.listed[limit] = seen


def count_writes(stack: LocalStack) -> Counter[str]:
    """Every change of the conversations table since it was made, from its stream, by what it
    costs the two issue-13 indexes (``index_writes``)."""
    streams = stack.resources.client("dynamodbstreams")
    arn = stack.resources.conversations_stream_arn
    counts: Counter[str] = Counter()
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")
        position = iterator["ShardIterator"]
        while position:
            answer = streams.get_records(ShardIterator=position, Limit=1000)
            if not answer["Records"]:
                break
            for record in answer["Records"]:
                counts[record["eventName"]] += 1
                for index in index_writes(record["dynamodb"].get("OldImage"), record["dynamodb"].get("NewImage")):
                    counts[index] += 1
            position = answer.get("NextShardIterator")
    return counts


def index_writes(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[str]:
    """The global secondary indexes one change of a record writes to (DynamoDB's rule: an index
    is written when an item enters or leaves it, or when an attribute it holds changes — its keys,
    the table's keys, and for INCLUDE its non-key attributes)."""
    written = []
    for index in tables.CONVERSATIONS.global_indexes:
        held = {key.name for key in (tables.CONVERSATIONS.partition_key, tables.CONVERSATIONS.sort_key) if key}
        held |= {index.partition_key.name} | ({index.sort_key.name} if index.sort_key else set())
        held |= set(index.non_key_attributes)
        in_old = old is not None and index.partition_key.name in old
        in_new = new is not None and index.partition_key.name in new
        if not (in_old or in_new):
            continue
        if in_old != in_new or any((old or {}).get(name) != (new or {}).get(name) for name in held):
            written.append(index.name)
    return written


def run(stack: LocalStack, receiver: Receiver, args: argparse.Namespace) -> Results:
    results = Results()
    receiver.verifier = Webhook(prepare_project(stack, receiver.url))
    _progress(f"opening {args.timed} timed conversations")
    timed = open_conversations(stack, range(args.timed), args.timed_rate)
    ids = {c.conversation_id for c in timed}
    final = {"whatsapp": "conversation.read", "sms": "conversation.delivered", "email": "conversation.delivered"}
    _wait_for(lambda: all(c.conversation_id in receiver.of_type(final[c.channel]) for c in timed), timeout=180)
    _progress("the person answers each")
    reply_to_each(stack, timed, args.timed_rate)
    _wait_for(lambda: ids <= set(receiver.of_type("conversation.reply_sent")), timeout=180)
    results.load.append(os.getloadavg()[0])
    logged = _logged_at(stack)
    for event_type in EVENT_TYPES:
        arrived = [a for cid, a in receiver.of_type(event_type).items() if cid in ids]
        happened = [_seconds(a.event["timestamp"]) for a in arrived]
        written = [logged[a.event["id"]] for a in arrived]
        results.event_lags[event_type] = [a.at - h for a, h in zip(arrived, happened, strict=True)]
        results.to_logged[event_type] = [w - h for w, h in zip(written, happened, strict=True)]
        results.logged_to_post[event_type] = [a.at - w for a, w in zip(arrived, written, strict=True)]
    _progress(f"opening {args.conversations - args.timed} more")
    rest = open_conversations(stack, range(args.timed, args.conversations), args.rate)
    every = ids | {c.conversation_id for c in rest}
    _wait_for(lambda: every <= set(receiver.of_type("conversation.sent")), timeout=300)
    receiver.wait_quiet(QUIET_SECONDS)
    results.opened = len(every)
    results.load.append(os.getloadavg()[0])
    answered = next(c for c in timed if c.channel == "sms")
    _progress("timing the reads")
    time_reads(stack, answered.conversation_id, reads=args.reads, walks=args.walks, results=results)
    results.load.append(os.getloadavg()[0])
    arrivals = receiver.received()
    results.deliveries = len(arrivals)
    results.verified = receiver.verified
    results.events_logged = len(_logged_at(stack))
    _progress("counting writes and sizes")
    results.writes = count_writes(stack)
    results.sizes = measure_sizes(stack)
    return results


def _progress(what: str) -> None:
    print(f"{datetime.now().strftime('%H:%M:%S')} {what}", file=sys.stderr, flush=True)


def measure_sizes(stack: LocalStack) -> dict[str, list[int]]:
    """Approximate DynamoDB item sizes at the end of the run (what a read or write unit is paid by)."""
    conversations = _scan(stack.resources.table(tables.CONVERSATIONS.logical_name))
    listing = next(i for i in tables.CONVERSATIONS.global_indexes if i.name == tables.PROJECT_CREATED_AT_INDEX)
    held = {"primary_channel", "conversation_id", "gsi_project_key", "created_at", *listing.non_key_attributes}
    tenant = stack.tenant
    company = stack.resources.table(tables.COMPANY_DATA.logical_name).get_item(
        Key={"company_id": tenant.company_id, "project_id": tenant.project_id}
    )["Item"]
    return {
        "conversation record": [item_bytes(item) for item in conversations],
        f"{tables.PROJECT_CREATED_AT_INDEX} entry": [
            item_bytes({k: v for k, v in item.items() if k in held}) for item in conversations
        ],
        "company/project record": [item_bytes(company)],
        "webhook-events item": [
            item_bytes(item) for item in _scan(stack.resources.table(tables.WEBHOOK_EVENTS.logical_name))
        ],
    }


def item_bytes(value: Any) -> int:
    """DynamoDB's item size rule, roughly: names and strings by their UTF-8 length, numbers about
    one byte per two digits plus one, 3 bytes for each map or list plus 1 per element."""
    if isinstance(value, dict):
        return 3 + sum(len(str(k).encode()) + item_bytes(v) + 1 for k, v in value.items())
    if isinstance(value, list | set | tuple):
        return 3 + sum(item_bytes(v) + 1 for v in value)
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, bytes | bytearray):
        return len(value)
    if isinstance(value, bool) or value is None:
        return 1
    return len(str(value).lstrip("-").replace(".", "")) // 2 + 1


def _scan(table: Any) -> list[dict[str, Any]]:
    page = table.scan()
    items = list(page["Items"])
    while "LastEvaluatedKey" in page:
        page = table.scan(ExclusiveStartKey=page["LastEvaluatedKey"])
        items += page["Items"]
    return items


def _logged_at(stack: LocalStack) -> dict[str, float]:
    """event id -> when the tenant-events function logged it (the item's ``logged_at``)."""
    items = _scan(stack.resources.table(tables.WEBHOOK_EVENTS.logical_name))
    return {item["webhook_id"]: _seconds(item["logged_at"]) for item in items}


def _ms(values: list[float], share: float) -> str:
    if not values:
        return "n/a"
    return f"{1000 * (statistics.median(values) if share == 0.5 else percentile(values, share)):.0f}"


def report(results: Results, args: argparse.Namespace) -> str:
    lines = [
        f"{results.opened} conversations opened ({args.timed} at {args.timed_rate:g}/s timed, the rest at "
        f"{args.rate:g}/s), AI answer time 0 s, reads paced at {READS_PER_SECOND:g}/s; 1-minute load average "
        f"{', '.join(f'{load:.1f}' for load in results.load)} (after: the timed events, the rest, the reads)",
        "",
        "| read | calls | p50 ms | p95 ms | max ms |",
        "|---|---|---|---|---|",
        f"| GET /conversations/{{id}} ({results.thread_length} messages) | {len(results.by_id)} "
        f"| {_ms(results.by_id, 0.5)} | {_ms(results.by_id, 0.95)} | {1000 * max(results.by_id):.0f} |",
    ]
    for limit, pages in results.pages.items():
        lines.append(
            f"| GET /conversations limit={limit} (a walk: {results.listed[limit]} conversations) | {len(pages)} pages "
            f"| {_ms(pages, 0.5)} | {_ms(pages, 0.95)} | {1000 * max(pages):.0f} |"
        )
    lines += [
        "",
        f"| event (the {args.timed} timed conversations) | received | happening → POST received p50 ms | p95 ms "
        "| happening → logged p50 ms | p95 ms | logged → POST received p50 ms | p95 ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for event_type, lags in results.event_lags.items():
        logged, posted = results.to_logged[event_type], results.logged_to_post[event_type]
        lines.append(
            f"| {event_type} | {len(lags)} | {_ms(lags, 0.5)} | {_ms(lags, 0.95)} | {_ms(logged, 0.5)} "
            f"| {_ms(logged, 0.95)} | {_ms(posted, 0.5)} | {_ms(posted, 0.95)} |"
        )
    writes = results.writes
    changes = writes["INSERT"] + writes["MODIFY"] + writes["REMOVE"]
    lines += [
        "",
        f"deliveries received {results.deliveries} (signatures verified {results.verified}), "
        f"events logged {results.events_logged}: {results.events_logged / results.opened:.2f} per conversation",
        f"conversation record writes {changes} (INSERT {writes['INSERT']}, MODIFY {writes['MODIFY']}, REMOVE "
        f"{writes['REMOVE']}): {changes / results.opened:.2f} per conversation",
    ]
    for index in tables.CONVERSATIONS.global_indexes:
        lines.append(
            f"  {index.name} writes {writes[index.name]}: {writes[index.name] / results.opened:.2f} per conversation"
        )
    for what, sizes in results.sizes.items():
        lines.append(f"{what}: {statistics.mean(sizes):.0f} bytes mean, {max(sizes)} max ({len(sizes)} items)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.benchmark_tenant_api", description=__doc__)
    parser.add_argument("--conversations", type=int, default=300, help="conversations in the project (max 800)")
    parser.add_argument("--timed", type=int, default=51, help="of those, opened slowly and timed (default 51)")
    parser.add_argument("--timed-rate", type=float, default=2.0, help="their requests (and replies) per second")
    parser.add_argument("--rate", type=float, default=8.0, help="requests per second for the rest")
    parser.add_argument("--reads", type=int, default=200, help="GET /conversations/{id} calls")
    parser.add_argument("--walks", type=int, default=5, help="walks of the listing at limit 25 (twice as many at 100)")
    args = parser.parse_args(argv)

    receiver = Receiver()
    with tempfile.TemporaryDirectory() as state_dir, receiver.running():
        stack = LocalStack(LocalStackOptions(port_base=0, state_dir=Path(state_dir))).start()
        try:
            stack.sandboxes.openai.set_latency(0)
            results = run(stack, receiver, args)
        finally:
            stack.stop()
    print(report(results, args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
