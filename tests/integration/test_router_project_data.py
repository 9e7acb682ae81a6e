"""The router refuses a project_data DynamoDB could not store, before anything is counted or queued."""

from __future__ import annotations

import json

import pytest

from shared.channels import ALL_CHANNELS

FORTY_DIGITS = "1234567890123456789012345678901234567890"


@pytest.mark.parametrize(
    ("literal", "reason"),
    [
        ("1e999999999999999999", "outside the range of a DynamoDB number"),
        ("1e100000000", "outside the range of a DynamoDB number"),
        ("1e200", "outside the range of a DynamoDB number"),
        (FORTY_DIGITS, "more than the 38 digits"),
    ],
)
def test_an_unstorable_number_is_answered_400_with_its_path_and_nothing_is_counted_or_queued(
    router, initiate_request_example, literal, reason
):
    text = json.dumps({**initiate_request_example, "project_data": {"jobID": "@"}}).replace('"@"', literal)

    reply = router.post(text, encode=False)

    assert (reply.status, reply.body["error_code"]) == (400, "INVALID_PROJECT_DATA"), reply.body
    assert reply.body["message"].startswith("project_data.jobID ")
    assert reason in reply.body["message"]
    assert reply.body["request_id"] == initiate_request_example["request_data"]["request_id"]
    assert router.all_messages() == {channel: [] for channel in ALL_CHANNELS}
    assert router.counters() == {}


def test_a_storable_number_at_the_edge_of_the_range_is_queued_exactly(router, initiate_request_example):
    text = json.dumps({**initiate_request_example, "project_data": {"jobID": "@"}}).replace('"@"', "-9.5e125")

    reply = router.post(text, encode=False)

    assert reply.status == 200, reply.body
    (message,) = router.messages(initiate_request_example["request_data"]["channel_method"])
    assert '"project_data":{"jobID":-9.5E+125}' in message["Body"]
