"""A small emulation of Lambda's DynamoDB Streams event source mapping, for the local stack.

The conversations table's stream (moto keeps it; ``dynamodbstreams`` at the emulator's endpoint)
feeds the tenant-events function as Lambda would: each shard read in order, one invocation at a
time per shard, each batch handed over as the ``aws:dynamodb`` event Lambda builds.

- Start at LATEST: a restored state re-puts every record, and those INSERTs are not news; only
  changes made after the stack came up become tenant events.
- ``batchItemFailures`` (ReportBatchItemFailures): the batch is retried from the lowest failed
  SequenceNumber; a function error retries the whole batch. After ``max_retries`` retries the
  records are skipped with an ERROR log (Lambda's MaximumRetryAttempts without an on-failure
  destination), so one poisoned change cannot stall its shard for ever.
- Shards: the stream is described again every ``describe_every`` seconds; a new shard is read from
  its first record (TRIM_HORIZON: everything in it came after the start) once its parent shard is
  drained, and a closed shard is dropped when its last record has been handed over.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.log_masking import describe_error

log = logging.getLogger("local.stream_poller")

Invoke = Callable[[dict[str, Any]], Any]
DEFAULT_BATCH_SIZE = 100
DEFAULT_MAX_RETRIES = 3


@dataclass
class _Shard:
    shard_id: str
    parent_id: str | None
    iterator: str | None = None  # None: not started (waits for its parent) or drained
    retries: int = 0  # of the batch at the iterator
    closed: bool = False  # its last record was handed over


@dataclass
class StreamPollResult:
    """One cycle over every shard: what was handed to the function and what happened."""

    invoked: list[list[str]] = field(default_factory=list)  # the sequence numbers of each batch
    retried_from: list[str] = field(default_factory=list)  # first failed sequence numbers
    skipped: list[str] = field(default_factory=list)  # given up after max_retries


class StreamPoller:
    """Reads one table's stream and invokes ``invoke(event)`` with each batch until stopped."""

    def __init__(
        self,
        *,
        name: str,
        streams: Any,
        stream_arn: str,
        invoke: Invoke,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_retries: int = DEFAULT_MAX_RETRIES,
        idle_seconds: float = 0.2,
        retry_delay_seconds: float = 0.5,
        describe_every: float = 5.0,
    ):
        self.name = name
        self._streams = streams
        self._arn = stream_arn
        self._invoke = invoke
        self._batch_size = batch_size
        self._max_retries = max_retries
        self._idle = idle_seconds
        self._retry_delay = retry_delay_seconds
        self._describe_every = describe_every
        self._described_at = 0.0
        self._shards: dict[str, _Shard] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"stream-{name}", daemon=True)
        # At construction, not in the thread: a write made right after start() is already seen.
        self._discover(initial=True)

    def start(self) -> StreamPoller:
        self._thread.start()
        return self

    def signal_stop(self) -> None:
        self._stop.set()

    def join(self) -> None:
        self._thread.join(timeout=30)

    def stop(self) -> None:
        self.signal_stop()
        self.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                result = self.poll_once()
            except Exception:  # the poller outlives one bad poll, as the event source does
                log.exception("stream poller %s: a poll failed", self.name)
                self._stop.wait(1)
                continue
            if result.retried_from:
                self._stop.wait(self._retry_delay)
            elif not result.invoked:
                self._stop.wait(self._idle)

    # -- one cycle -------------------------------------------------------------------------------

    def poll_once(self) -> StreamPollResult:
        """One GetRecords per readable shard, each non-empty batch handed to the function."""
        if time.monotonic() - self._described_at >= self._describe_every:
            self._discover(initial=False)
        result = StreamPollResult()
        for shard in list(self._shards.values()):
            if shard.iterator is None and not shard.closed:
                self._open_after_parent(shard)
            if shard.iterator is not None:
                self._poll_shard(shard, result)
        return result

    def _poll_shard(self, shard: _Shard, result: StreamPollResult) -> None:
        answer = self._streams.get_records(ShardIterator=shard.iterator, Limit=self._batch_size)
        records = answer.get("Records", [])
        following = answer.get("NextShardIterator")
        if not records:
            self._advance(shard, following)
            return
        sequence_numbers = [r["dynamodb"]["SequenceNumber"] for r in records]
        result.invoked.append(sequence_numbers)
        first_failed = self._first_failure(self._event(records), sequence_numbers)
        if first_failed is None:
            shard.retries = 0
            self._advance(shard, following)
            return
        failed_tail = sequence_numbers[sequence_numbers.index(first_failed) :]
        if shard.retries >= self._max_retries:
            log.error(
                "stream poller %s: %d change(s) of shard %s skipped after %d retries (sequence numbers %s..%s);"
                " their tenant events are not derived",
                self.name, len(failed_tail), shard.shard_id, shard.retries, failed_tail[0], failed_tail[-1],
            )  # fmt: skip
            result.skipped += failed_tail
            shard.retries = 0
            self._advance(shard, following)
            return
        shard.retries += 1
        result.retried_from.append(first_failed)
        shard.iterator = self._streams.get_shard_iterator(
            StreamArn=self._arn,
            ShardId=shard.shard_id,
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            SequenceNumber=first_failed,
        )["ShardIterator"]

    def _first_failure(self, event: dict[str, Any], sequence_numbers: list[str]) -> str | None:
        """The lowest SequenceNumber to retry from, read like Lambda reads a partial batch response."""
        try:
            response = self._invoke(event)
        except Exception as error:  # a function error: the whole batch again
            log.error(
                "stream poller %s: invocation failed (%s); the batch is retried", self.name, describe_error(error)
            )
            return sequence_numbers[0]
        if response is None:
            return None
        if not isinstance(response, dict) or "errorType" in response:
            return sequence_numbers[0]
        failures = response.get("batchItemFailures")
        if not failures:
            return None
        if not isinstance(failures, list):
            return sequence_numbers[0]
        ids = [item.get("itemIdentifier") if isinstance(item, dict) else None for item in failures]
        if any(i not in sequence_numbers for i in ids):
            return sequence_numbers[0]  # an invalid partial response fails the whole batch
        return min(ids, key=sequence_numbers.index)

    def _advance(self, shard: _Shard, following: str | None) -> None:
        shard.iterator = following
        if following is None:  # a closed shard, read to its end
            shard.closed = True

    # -- shards ----------------------------------------------------------------------------------

    def _discover(self, *, initial: bool) -> None:
        self._described_at = time.monotonic()
        description = self._streams.describe_stream(StreamArn=self._arn)["StreamDescription"]
        for found in description.get("Shards", []):
            shard_id = found["ShardId"]
            if shard_id in self._shards:
                continue
            shard = _Shard(shard_id=shard_id, parent_id=found.get("ParentShardId"))
            self._shards[shard_id] = shard
            if initial:
                shard.iterator = self._iterator(shard_id, "LATEST")

    def _open_after_parent(self, shard: _Shard) -> None:
        parent = self._shards.get(shard.parent_id) if shard.parent_id else None
        if parent is None or parent.closed:
            shard.iterator = self._iterator(shard.shard_id, "TRIM_HORIZON")

    def _iterator(self, shard_id: str, kind: str) -> str:
        return self._streams.get_shard_iterator(StreamArn=self._arn, ShardId=shard_id, ShardIteratorType=kind)[
            "ShardIterator"
        ]

    # -- the event -------------------------------------------------------------------------------

    def _event(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        return dynamodb_stream_event(records, stream_arn=self._arn, region=self._streams.meta.region_name)


def dynamodb_stream_event(records: list[dict[str, Any]], *, stream_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda hands a DynamoDB Streams-triggered function, from GetRecords' records
    (boto3's: binary values as bytes, the creation time as a datetime)."""
    return {"Records": [_record(r, stream_arn=stream_arn, region=region) for r in records]}


def _record(record: dict[str, Any], *, stream_arn: str, region: str) -> dict[str, Any]:
    change = record["dynamodb"]
    created = change.get("ApproximateCreationDateTime")
    body: dict[str, Any] = {
        "ApproximateCreationDateTime": int(created.timestamp()) if isinstance(created, datetime) else created,
        "Keys": _json_image(change["Keys"]),
        "SequenceNumber": change["SequenceNumber"],
        "SizeBytes": change.get("SizeBytes", 0),
        "StreamViewType": change.get("StreamViewType"),
    }
    for image in ("NewImage", "OldImage"):
        if image in change:
            body[image] = _json_image(change[image])
    return {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": region,  # moto's records name its default region; Lambda names the table's
        "dynamodb": body,
        "eventSourceARN": stream_arn,
    }


def _json_image(image: dict[str, Any]) -> dict[str, Any]:
    return {name: _json_value(value) for name, value in image.items()}


def _json_value(value: dict[str, Any]) -> dict[str, Any]:
    """DynamoDB's typed JSON as Lambda's event carries it: binary values base64-encoded."""
    (kind, inner), *_ = value.items()
    if kind == "B":
        return {"B": base64.b64encode(inner).decode("ascii")}
    if kind == "BS":
        return {"BS": [base64.b64encode(v).decode("ascii") for v in inner]}
    if kind == "M":
        return {"M": _json_image(inner)}
    if kind == "L":
        return {"L": [_json_value(v) for v in inner]}
    return {kind: inner}
