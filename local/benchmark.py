"""Speed of the engine on the local stack: ``python -m local.benchmark`` (``make bench``).

Starts the local stack on free ports, gives the OpenAI sandbox a realistic answer time, sends
requests at the usage plan's rate as a client would, and reports the API's answer time and the
time from the request to ``initial_message_sent`` per channel, then the time from the provider
sandbox's last status callback being answered to its status showing on the record (the events
queue and the events processor); then the person answers each conversation and the time from the
inbound webhook to the engine's answer being sent is reported (``local.benchmark_replies``). Numbers
go to docs/benchmarks.md; they are never asserted in tests.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from local.benchmark_replies import percentile, run_replies
from local.stack import EXAMPLE_REQUEST, LocalStack, LocalStackOptions
from shared import tables

# The last status the sandboxes report by default (local/sandboxes): WhatsApp is read, the others delivered.
FINAL_STATUS = {"whatsapp": "read", "sms": "delivered", "email": "delivered"}


def initiate_request(channel: str, number: int) -> tuple[dict[str, Any], str]:
    """A request to person ``number`` (0-799) and that person's address on ``channel``.

    One person per conversation: a phone reply goes to the newest open conversation of its number,
    so people sharing a number would all answer the same conversation."""
    body = json.loads(EXAMPLE_REQUEST.read_text())
    body["request_data"].update(channel_method=channel, request_id=str(uuid.uuid4()))
    tel, email = f"+447700900{200 + number:03d}", f"candidate{number}@example.com"
    body["recipient_data"].update(recipient_tel=tel, recipient_email=email)
    return body, email if channel == "email" else tel


def run(
    stack: LocalStack, *, per_channel: int, rate_per_second: float
) -> tuple[dict[str, dict[str, float]], list[tuple[str, str, str]]]:
    """Per channel results, and the conversations whose first message went out (channel, id, address)."""
    table = stack.resources.table(tables.CONVERSATIONS.logical_name)
    session = requests.Session()
    # channel, conversation id, posted at (epoch), api seconds, the person's address
    sent: list[tuple[str, str, float, float, str]] = []
    posting = threading.Event()
    posting.set()

    def post(channel: str, number: int) -> None:
        body, address = initiate_request(channel, number)
        posted = time.time()
        started = time.monotonic()
        response = session.post(
            f"{stack.gateway.url}/initiate-conversation",
            json=body,
            headers={"x-api-key": stack.tenant.api_key},
            timeout=30,
        )
        response.raise_for_status()
        sent.append((channel, response.json()["conversation_id"], posted, time.monotonic() - started, address))

    # Watched while the requests go out: a delivery status is timed when this loop first sees it.
    watcher = _RecordWatcher(table, sent, posting)
    watching = threading.Thread(target=watcher.watch, daemon=True)
    watching.start()
    channels = [c for c in ("whatsapp", "sms", "email") for _ in range(per_channel)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        for number, channel in enumerate(channels):
            pool.submit(post, channel, number)
            time.sleep(1 / rate_per_second)
    posting.clear()
    watching.join()

    delivered = _delivery_lags(stack, watcher.final_seen)
    results: dict[str, dict[str, float]] = {}
    for channel in ("whatsapp", "sms", "email"):
        api = [seconds for c, _, _, seconds, _ in sent if c == channel]
        end_to_end = [watcher.sent_after[cid] for c, cid, *_ in sent if c == channel and cid in watcher.sent_after]
        lags = [delivered[cid] for c, cid, *_ in sent if c == channel and cid in delivered]
        results[channel] = {
            "requests": len(api),
            "sent": len(end_to_end),
            "api_p50_ms": 1000 * statistics.median(api),
            "api_p95_ms": 1000 * percentile(api, 0.95),
            "e2e_p50_ms": 1000 * statistics.median(end_to_end) if end_to_end else float("nan"),
            "e2e_p95_ms": 1000 * percentile(end_to_end, 0.95) if end_to_end else float("nan"),
            "delivered": len(lags),
            "delivery_p50_ms": 1000 * statistics.median(lags) if lags else float("nan"),
            "delivery_p95_ms": 1000 * percentile(lags, 0.95) if lags else float("nan"),
        }
    opened = [(c, cid, address) for c, cid, _, _, address in sent if cid in watcher.sent_after]
    return results, opened


class _RecordWatcher:
    """Reads each conversation's record until it is sent and shows its final delivery status.

    Request -> sent comes from the record's own ``updated_at`` (the same machine clock; delivery
    writes leave it alone), so how often this loop looks does not change it. The delivery status
    carries no time of its own, so it is timed when the loop first sees it (every 50 ms, reading
    only the records still waiting).
    """

    def __init__(self, table: Any, sent: list[tuple[str, str, float, float, str]], posting: threading.Event):
        self._table = table
        self._sent = sent
        self._posting = posting
        self.sent_after: dict[str, float] = {}  # conversation id -> seconds from request to sent
        self.final_seen: dict[str, tuple[str, str, float]] = {}  # -> channel, provider message id, seen at

    def watch(self) -> None:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and (self._posting.is_set() or self._waiting()):
            for channel, cid, posted, _, address in self._waiting():
                key = {"primary_channel": address, "conversation_id": cid}
                record = self._table.get_item(Key=key, ConsistentRead=True).get("Item", {})
                if cid not in self.sent_after and record.get("conversation_status") == "initial_message_sent":
                    sent_at = datetime.fromisoformat(record["updated_at"].replace("Z", "+00:00")).timestamp()
                    self.sent_after[cid] = sent_at - posted
                if record.get("delivery_status") == FINAL_STATUS[channel]:
                    self.final_seen[cid] = (channel, record["provider_message_id"], time.time())
            # Every read is served by the emulator that serves the engine: look often, not constantly.
            time.sleep(0.05)

    def _waiting(self) -> list[tuple[str, str, float, float, str]]:
        return [entry for entry in list(self._sent) if entry[1] not in self.final_seen]


def _delivery_lags(stack: LocalStack, final_seen: dict[str, tuple[str, str, float]]) -> dict[str, float]:
    """Seconds from the sandbox's last status callback being answered (the webhook ingress queued
    it) to that status seen on the record (the events queue and the events processor)."""
    lags: dict[str, float] = {}
    for cid, (channel, message_id, seen_at) in final_seen.items():
        sandbox = stack.sandboxes.sendgrid if channel == "email" else stack.sandboxes.twilio
        answered = [
            datetime.fromisoformat(entry.posted_at).timestamp()
            for entry in sandbox.callback_log(message_id)
            if FINAL_STATUS[channel] in entry.label.split(",") and not entry.replay
        ]
        if answered:
            lags[cid] = seen_at - max(answered)
    return lags


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.benchmark", description=__doc__)
    parser.add_argument("--per-channel", type=int, default=20, help="requests per channel (default 20)")
    parser.add_argument("--rate", type=float, default=8.0, help="requests per second (plan allows 10)")
    parser.add_argument("--ai-latency", type=float, default=1.0, help="seconds the OpenAI sandbox takes")
    parser.add_argument(
        "--no-replies", dest="replies", action="store_false", help="skip the person's replies (post → answer sent)"
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as state_dir:
        stack = LocalStack(LocalStackOptions(port_base=0, state_dir=Path(state_dir), processor_instances=None)).start()
        try:
            stack.sandboxes.openai.set_latency(args.ai_latency)
            results, opened = run(stack, per_channel=args.per_channel, rate_per_second=args.rate)
            replies = run_replies(stack, opened, rate_per_second=args.rate) if args.replies else {}
        finally:
            stack.stop()
    print(f"AI latency {args.ai_latency:.1f} s, {args.per_channel} requests per channel at {args.rate:g}/s")
    print(
        "| channel | requests | sent | API p50 ms | API p95 ms | request→sent p50 ms | request→sent p95 ms "
        "| delivered | callback→record p50 ms | callback→record p95 ms |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for channel, r in results.items():
        print(
            f"| {channel} | {r['requests']} | {r['sent']} | {r['api_p50_ms']:.0f} | {r['api_p95_ms']:.0f} "
            f"| {r['e2e_p50_ms']:.0f} | {r['e2e_p95_ms']:.0f} | {r['delivered']} "
            f"| {r['delivery_p50_ms']:.0f} | {r['delivery_p95_ms']:.0f} |"
        )
    if replies:
        print()
        print("| channel | replies | answered | reply posted→answer sent p50 ms | p95 ms |")
        print("|---|---|---|---|---|")
        for channel, r in replies.items():
            print(
                f"| {channel} | {r['replies']:.0f} | {r['answered']:.0f} | {r['reply_p50_ms']:.0f} "
                f"| {r['reply_p95_ms']:.0f} |"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
