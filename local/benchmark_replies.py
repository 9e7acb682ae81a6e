"""The reply half of ``make bench``: the person answers each conversation the benchmark opened and
the time from the person's webhook being posted to the engine's answer being sent is measured.

The person is the sandboxes' (``local.sandboxes.person``), called in-process; the answer's time is
the record's own ``last_reply_at`` (the same machine clock), so how often the watcher looks does
not change it. It runs through the gateway, the webhook ingress, the events queue and processor
(match, record, queue the reply job), the channel queue and processor (AI, send, record).
"""

from __future__ import annotations

import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from local.sandboxes.person import ReplyRequest
from local.stack import LocalStack
from shared import tables

REPLY_TEXT = "Yes, I have a full UK licence and I can start in January."
ANSWERED = ("reply_sent", "needs_human", "reply_not_sent", "reply_unconfirmed")


def run_replies(
    stack: LocalStack, opened: list[tuple[str, str, str]], *, rate_per_second: float
) -> dict[str, dict[str, float]]:
    """``opened``: (channel, conversation id, the person's address) of conversations whose first
    message went out. Per channel: replies posted, answered, and p50/p95 of post → reply sent (ms)."""
    table = stack.resources.table(tables.CONVERSATIONS.logical_name)
    posted: dict[str, float] = {}
    lock = threading.Lock()

    def reply(channel: str, conversation_id: str) -> None:
        sandbox = stack.sandboxes.sendgrid if channel == "email" else stack.sandboxes.twilio
        at = time.time()
        answer = sandbox.person.reply(ReplyRequest(conversation_id, REPLY_TEXT))
        if all(post["http_status"] == 200 for post in answer["posts"]):
            with lock:
                posted[conversation_id] = at

    with ThreadPoolExecutor(max_workers=8) as pool:
        for channel, conversation_id, _ in opened:
            pool.submit(reply, channel, conversation_id)
            time.sleep(1 / rate_per_second)
    answered = _watch(table, opened, posted)
    results: dict[str, dict[str, float]] = {}
    for channel in ("whatsapp", "sms", "email"):
        mine = [cid for c, cid, _ in opened if c == channel]
        lags = [answered[cid] - posted[cid] for cid in mine if cid in answered and cid in posted]
        results[channel] = {
            "replies": sum(cid in posted for cid in mine),
            "answered": len(lags),
            "reply_p50_ms": 1000 * statistics.median(lags) if lags else float("nan"),
            "reply_p95_ms": 1000 * percentile(lags, 0.95) if lags else float("nan"),
        }
    return results


def _watch(table: Any, opened: list[tuple[str, str, str]], posted: dict[str, float]) -> dict[str, float]:
    """conversation id -> epoch seconds of its answer (``last_reply_at``), for those answered in time."""
    answered: dict[str, float] = {}
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and len(answered) < len(posted):
        for _, cid, address in opened:
            if cid in answered or cid not in posted:
                continue
            key = {"primary_channel": address, "conversation_id": cid}
            record = table.get_item(Key=key, ConsistentRead=True).get("Item", {})
            if record.get("conversation_status") in ANSWERED and record.get("last_reply_at"):
                answered[cid] = datetime.fromisoformat(record["last_reply_at"].replace("Z", "+00:00")).timestamp()
        time.sleep(0.05)
    return answered


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]
