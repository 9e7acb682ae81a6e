"""How the ingress cuts a batch of events into SendMessageBatch calls."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.events.envelope import EventKind, Provider, ProviderEvent
from shared.webhooks.event_queue import BATCH_ENTRIES, MAX_BATCH_BYTES, EventQueue, batches
from shared.webhooks.refusals import BodyTooLarge, DependencyUnavailable


def test_at_most_ten_entries_go_in_one_call_in_their_order():
    bodies = [str(n) for n in range(23)]

    cut = batches(bodies)

    assert [len(batch) for batch in cut] == [10, 10, 3]
    assert [body for batch in cut for body in batch] == bodies


def test_a_call_never_carries_more_than_the_sqs_batch_size():
    bodies = ["x" * (100 * 1024)] * 5

    cut = batches(bodies)

    assert [len(batch) for batch in cut] == [2, 2, 1]
    assert all(sum(len(body) for body in batch) <= MAX_BATCH_BYTES for batch in cut)


def test_sizes_count_bytes_not_characters():
    bodies = ["é" * (70 * 1024)] * 2  # 140 KiB each in UTF-8

    assert [len(batch) for batch in batches(bodies)] == [1, 1]


def test_nothing_to_send_makes_no_call():
    assert batches([]) == []
    assert BATCH_ENTRIES == 10


def _event(payload):
    return ProviderEvent(
        provider=Provider.SENDGRID,
        kind=EventKind.SENDGRID_EVENT,
        company_id="ci-1",
        project_id="pi-1",
        received_at=datetime(2026, 11, 26, tzinfo=UTC),
        callback_base_url="https://hooks.example.test/dev",
        payload=payload,
    )


def test_an_event_no_queue_message_can_hold_is_refused_before_anything_is_sent():
    queue = EventQueue(sqs=None, queue_url="unused")

    with pytest.raises(BodyTooLarge):
        queue.bodies([_event({"event": "open"}), _event({"event": "x" * MAX_BATCH_BYTES})])


def test_each_event_becomes_its_own_queue_body():
    queue = EventQueue(sqs=None, queue_url="unused")

    bodies = queue.bodies([_event({"event": "open"}), _event({"event": "click"})])

    assert [ProviderEvent.from_body(body).payload for body in bodies] == [{"event": "open"}, {"event": "click"}]


class FlakySqs:
    """SQS at the boundary: refuses the entries whose body is in ``refuse`` for ``times`` calls each."""

    def __init__(self, refuse: set[str], times: int):
        self.refuse = refuse
        self.times = times
        self.calls: list[list[str]] = []
        self.taken: list[str] = []

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> dict:
        self.calls.append([entry["MessageBody"] for entry in Entries])
        failed = []
        for entry in Entries:
            if entry["MessageBody"] in self.refuse and self.calls_with(entry["MessageBody"]) <= self.times:
                failed.append({"Id": entry["Id"], "SenderFault": False, "Code": "InternalError"})
            else:
                self.taken.append(entry["MessageBody"])
        return {"Successful": [], "Failed": failed}

    def calls_with(self, body: str) -> int:
        return sum(body in call for call in self.calls)


def test_entries_sqs_did_not_take_are_sent_once_more():
    sqs = FlakySqs(refuse={"b"}, times=1)

    EventQueue(sqs, "url").send(["a", "b", "c"])

    assert sqs.calls == [["a", "b", "c"], ["b"]]
    assert sorted(sqs.taken) == ["a", "b", "c"]


def test_entries_refused_twice_make_the_request_unavailable():
    sqs = FlakySqs(refuse={"b"}, times=2)

    with pytest.raises(DependencyUnavailable, match="1 of 3"):
        EventQueue(sqs, "url").send(["a", "b", "c"])
    assert sqs.calls == [["a", "b", "c"], ["b"]]
