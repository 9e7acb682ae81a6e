"""The router's ``Requests`` metric: one data point per request, by outcome and error code, as the
real handler prints it (EMF) against the emulator."""

from __future__ import annotations

import copy
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from shared.channels import Channel
from tests.fixtures.emf import data_points
from tests.integration.conftest import API_KEY_ID, OTHER_API_KEY_ID


def _requests(capsys: pytest.CaptureFixture[str]) -> list[tuple[dict[str, str], float, str]]:
    """(dimensions, value, unit) of every ``Requests`` point printed since the last read."""
    points = [p for p in data_points(capsys.readouterr().out) if p.name == "Requests"]
    assert {p.namespace for p in points} <= {"AiMultiComms"}
    return [(p.dimensions, p.value, p.unit) for p in points]


def _dimensions(outcome: str, error_code: str) -> dict[str, str]:
    return {"service": "channel-router", "outcome": outcome, "error_code": error_code}


def test_a_queued_request_counts_accepted_and_its_replay_counts_replayed(router, initiate_request_example, capsys):
    capsys.readouterr()
    assert router.post(initiate_request_example).status == 200
    assert _requests(capsys) == [(_dimensions("accepted", "none"), 1.0, "Count")]

    assert router.post(initiate_request_example).status == 200
    assert _requests(capsys) == [(_dimensions("replayed", "none"), 1.0, "Count")]
    assert len(router.messages(Channel.WHATSAPP)) == 1  # the replay queued nothing


def test_a_400_counts_rejected_with_its_error_code(router, initiate_request_example, capsys):
    initiate_request_example["request_data"]["request_id"] = "not-a-uuid"
    capsys.readouterr()

    reply = router.post(initiate_request_example)

    assert (reply.status, reply.body["error_code"]) == (400, "INVALID_REQUEST_ID")
    assert _requests(capsys) == [(_dimensions("rejected", "INVALID_REQUEST_ID"), 1.0, "Count")]


def test_a_key_bound_to_another_project_counts_rejected_api_key_not_authorized(
    router, initiate_request_example, capsys
):
    capsys.readouterr()
    reply = router.post(initiate_request_example, api_key_id=OTHER_API_KEY_ID)

    assert reply.status == 403
    assert _requests(capsys) == [(_dimensions("rejected", "API_KEY_NOT_AUTHORIZED"), 1.0, "Count")]


def test_a_queue_failure_counts_failed_queue_error(router, initiate_request_example, capsys):
    router.aws.client("sqs").delete_queue(QueueUrl=router.aws.queues[Channel.WHATSAPP].queue_url)
    capsys.readouterr()

    assert router.post(initiate_request_example).status == 500
    assert _requests(capsys) == [(_dimensions("failed", "QUEUE_ERROR"), 1.0, "Count")]


def test_the_outermost_catch_counts_failed_internal_error(router, initiate_request_example, monkeypatch, capsys):
    monkeypatch.delenv("COMPANY_TABLE_NAME")  # the settings cannot be read: nothing named catches it
    capsys.readouterr()

    reply = router.post(initiate_request_example)

    assert (reply.status, reply.body["error_code"]) == (500, "INTERNAL_ERROR")
    assert _requests(capsys) == [(_dimensions("failed", "INTERNAL_ERROR"), 1.0, "Count")]


def test_each_request_carries_only_its_own_outcome_and_no_tenant(router, initiate_request_example, capsys):
    """The dimensions are flushed with each invocation: a rejection never inherits an earlier acceptance's."""
    capsys.readouterr()
    router.post(initiate_request_example)
    router.post(initiate_request_example, api_key_id=OTHER_API_KEY_ID)
    router.post(initiate_request_example)

    points = [p for p in data_points(capsys.readouterr().out) if p.name == "Requests"]
    assert [p.dimensions["outcome"] for p in points] == ["accepted", "rejected", "replayed"]
    assert {name for p in points for name in p.dimensions} == {"service", "outcome", "error_code"}


def test_concurrent_requests_in_one_process_each_count_their_own_outcome(
    router, initiate_request_example, company_record_example, capsys
):
    """The local stack's function host serves requests on threads of one process."""
    limits = {**company_record_example["rate_limits"], "requests_per_minute": 1000, "requests_per_day": 3}
    router.put_company({**company_record_example, "rate_limits": limits, "api_key_ids": [API_KEY_ID]})
    events = []
    for _ in range(8):
        body = copy.deepcopy(initiate_request_example)
        body["request_data"]["request_id"] = str(uuid.uuid4())
        events.append(router.event(body))
    start = threading.Barrier(len(events))

    def call(event: dict) -> int:
        start.wait()
        return router.call(event).status

    capsys.readouterr()
    with ThreadPoolExecutor(max_workers=len(events)) as pool:
        statuses = sorted(pool.map(call, events))

    assert statuses == [200] * 3 + [429] * 5
    counted = sorted((d["outcome"], d["error_code"]) for d, _, _ in _requests(capsys))
    assert counted == [("accepted", "none")] * 3 + [("rejected", "RATE_LIMIT_EXCEEDED")] * 5
