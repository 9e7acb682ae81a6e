"""The local stream poller reads the conversations table's stream in moto and invokes the
tenant-events function with Lambda's DynamoDB Streams event, as the event source mapping does.

The function is a recording callable here: it is the poller's outermost boundary (the real
function's run through the stack is tests/e2e/test_tenant_webhooks_local.py)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from local.stream_poller import StreamPoller
from shared import tables


class RecordingFunction:
    """Records each event; answers with the failures it is told to report (or raises)."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        # One per invocation (then successes): a response, an exception to raise, or a callable
        # of the event giving the response.
        self.answers: list[Any] = []

    def __call__(self, event: dict[str, Any]) -> Any:
        self.events.append(event)
        answer = self.answers.pop(0) if self.answers else {"batchItemFailures": []}
        if isinstance(answer, Exception):
            raise answer
        return answer(event) if callable(answer) else answer

    def sequence_numbers(self) -> list[list[str]]:
        return [[r["dynamodb"]["SequenceNumber"] for r in e["Records"]] for e in self.events]

    def conversation_ids(self, index: int) -> list[str]:
        return [r["dynamodb"]["Keys"]["conversation_id"]["S"] for r in self.events[index]["Records"]]


def _poller(aws, function: RecordingFunction, **options: Any) -> StreamPoller:
    return StreamPoller(
        name="tenant-events",
        streams=aws.client("dynamodbstreams"),
        stream_arn=aws.conversations_stream_arn,
        invoke=function,
        **options,
    )


def _put(aws, conversation_id: str, **fields: Any) -> None:
    aws.table(tables.CONVERSATIONS.logical_name).put_item(
        Item={"primary_channel": "+447700900123", "conversation_id": conversation_id, **fields}
    )


def test_changes_before_the_start_are_not_events_and_later_ones_arrive_as_lambda_records(aws):
    function = RecordingFunction()
    _put(aws, "restored", conversation_status="initial_message_sent")  # as a restore re-puts it
    poller = _poller(aws, function)
    _put(aws, "c1", conversation_status="processing")
    _put(aws, "c1", conversation_status="initial_message_sent", blob=b"\x00\x01", count=3)

    result = poller.poll_once()

    assert len(result.invoked) == 1 and function.conversation_ids(0) == ["c1", "c1"]
    inserted, modified = function.events[0]["Records"]
    assert (inserted["eventName"], modified["eventName"]) == ("INSERT", "MODIFY")
    assert inserted["eventSource"] == "aws:dynamodb" and inserted["awsRegion"] == aws.region
    assert inserted["eventSourceARN"] == aws.conversations_stream_arn
    assert "OldImage" not in inserted["dynamodb"]
    change = modified["dynamodb"]
    assert change["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert change["Keys"] == {"primary_channel": {"S": "+447700900123"}, "conversation_id": {"S": "c1"}}
    assert change["OldImage"]["conversation_status"] == {"S": "processing"}
    assert change["NewImage"]["conversation_status"] == {"S": "initial_message_sent"}
    assert change["NewImage"]["count"] == {"N": "3"}
    assert change["NewImage"]["blob"] == {"B": base64.b64encode(b"\x00\x01").decode()}  # base64, as Lambda's
    assert isinstance(change["ApproximateCreationDateTime"], int) and change["SizeBytes"] > 0
    assert int(change["SequenceNumber"]) > int(inserted["dynamodb"]["SequenceNumber"])
    assert poller.poll_once().invoked == []  # read once: the iterator moved on


def _fail_second_and_third(event: dict[str, Any]) -> dict[str, Any]:
    numbers = [r["dynamodb"]["SequenceNumber"] for r in event["Records"]]
    return {"batchItemFailures": [{"itemIdentifier": numbers[2]}, {"itemIdentifier": numbers[1]}]}


def test_a_partial_failure_is_retried_from_the_first_failed_record_then_the_stream_moves_on(aws):
    function = RecordingFunction()
    function.answers = [_fail_second_and_third]
    poller = _poller(aws, function)
    for name in ("d1", "d2", "d3"):
        _put(aws, name)

    failed = poller.poll_once()
    retried = poller.poll_once()
    _put(aws, "d4")
    after = poller.poll_once()

    assert function.conversation_ids(0) == ["d1", "d2", "d3"]
    assert failed.retried_from == [function.sequence_numbers()[0][1]]  # the lowest failed, not the first listed
    assert function.conversation_ids(1) == ["d2", "d3"]
    assert retried.retried_from == [] and function.conversation_ids(2) == ["d4"]
    assert after.invoked == [function.sequence_numbers()[2]]


def test_a_function_error_retries_the_whole_batch_and_gives_up_after_the_retries_with_an_error_log(aws, caplog):
    function = RecordingFunction()
    function.answers = [RuntimeError("boom"), {"errorType": "Unhandled"}, RuntimeError("boom")]
    poller = _poller(aws, function, max_retries=2)
    _put(aws, "c1")
    _put(aws, "c2")

    results = [poller.poll_once() for _ in range(3)]
    _put(aws, "c3")
    last = poller.poll_once()

    assert [function.conversation_ids(i) for i in range(3)] == [["c1", "c2"]] * 3
    assert [len(r.retried_from) for r in results] == [1, 1, 0]
    assert len(results[2].skipped) == 2
    assert function.conversation_ids(3) == ["c3"] and last.skipped == []
    assert any(r.levelname == "ERROR" and "skipped after 2 retries" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    "answer",
    [{"batchItemFailures": [{"itemIdentifier": "not-a-sequence-number"}]}, {"batchItemFailures": "all"}, "nonsense"],
    ids=["unknown id", "not a list", "not a batch response"],
)
def test_an_invalid_partial_response_retries_the_whole_batch(aws, answer):
    function = RecordingFunction()
    function.answers = [answer]
    poller = _poller(aws, function)
    _put(aws, "c1")
    _put(aws, "c2")

    result = poller.poll_once()
    poller.poll_once()

    assert result.retried_from == [function.sequence_numbers()[0][0]]
    assert function.conversation_ids(1) == ["c1", "c2"]


def test_the_batch_size_bounds_each_invocation(aws):
    function = RecordingFunction()
    poller = _poller(aws, function, batch_size=2)
    for index in range(5):
        _put(aws, f"c{index}")

    while poller.poll_once().invoked:
        pass

    assert [len(numbers) for numbers in function.sequence_numbers()] == [2, 2, 1]
    assert [cid for i in range(3) for cid in function.conversation_ids(i)] == [f"c{i}" for i in range(5)]


def test_the_running_poller_delivers_a_write_and_stops(aws):
    function = RecordingFunction()
    poller = _poller(aws, function, idle_seconds=0.05).start()
    try:
        _put(aws, "c1")
        for _ in range(200):
            if function.events:
                break
            poller._stop.wait(0.05)
    finally:
        poller.stop()
    assert function.conversation_ids(0) == ["c1"]
    assert not poller._thread.is_alive()


class SplittingStream:
    """A stream whose shard closes and hands over to a child, as DynamoDB's shards roll over
    (moto keeps one shard for ever, so this is the API's answers, scripted). Iterators are
    ``<shard>:<position>``; a closed shard's last page has no NextShardIterator."""

    class meta:
        region_name = "eu-north-1"

    def __init__(self) -> None:
        self.records = {"parent": ["1", "2"], "child": ["3", "4"]}
        self.closed = {"parent"}
        self.described = 0

    def describe_stream(self, StreamArn: str):
        self.described += 1
        shards = [{"ShardId": "parent"}]
        if self.described > 1:  # the child appears after the start
            shards.append({"ShardId": "child", "ParentShardId": "parent"})
        return {"StreamDescription": {"Shards": shards}}

    def get_shard_iterator(self, StreamArn: str, ShardId: str, ShardIteratorType: str, SequenceNumber: str = ""):
        start = {"TRIM_HORIZON": 0, "LATEST": 0}.get(ShardIteratorType)
        if start is None:
            start = self.records[ShardId].index(SequenceNumber)
        return {"ShardIterator": f"{ShardId}:{start}"}

    def get_records(self, ShardIterator: str, Limit: int):
        shard, position = ShardIterator.split(":")
        page = self.records[shard][int(position) : int(position) + Limit]
        records = [
            {
                "eventID": n,
                "eventName": "MODIFY",
                "dynamodb": {"Keys": {"conversation_id": {"S": n}}, "SequenceNumber": n},
            }
            for n in page
        ]
        following = int(position) + len(page)
        done = shard in self.closed and following >= len(self.records[shard])
        return {"Records": records, "NextShardIterator": None if done else f"{shard}:{following}"}


def test_a_child_shard_is_read_after_its_parent_is_drained():
    stream = SplittingStream()
    function = RecordingFunction()
    poller = StreamPoller(
        name="tenant-events", streams=stream, stream_arn="arn:stream", invoke=function, batch_size=1, describe_every=0
    )

    while poller.poll_once().invoked:
        pass

    assert function.sequence_numbers() == [["1"], ["2"], ["3"], ["4"]]
