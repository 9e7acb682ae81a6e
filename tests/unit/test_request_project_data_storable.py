"""project_data must hold only what a DynamoDB attribute can store (issue 9, defect 1).

The literals are parsed as the router parses a body (fractions and exponents as ``Decimal``), and
every refusal names the value's path. None of these inputs may expand an exponent into digits:
``1e999999999999999999`` simply gets its answer.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer

from shared import json_codec
from shared.api_errors import RequestInvalid
from shared.dynamodb_values import MAX_DOCUMENT_BYTES, Unstorable, check_storable
from shared.models.context import ContextMessage
from shared.request_errors import parse_initiate_request

FORTY_DIGITS = "1234567890123456789012345678901234567890"
THIRTY_EIGHT_DIGITS = "12345678901234567890123456789012345678"


def _body(example: dict[str, Any], project_data_json: str) -> dict[str, Any]:
    text = json.dumps({**example, "project_data": "@"}).replace('"@"', project_data_json)
    return json_codec.loads(text)


def _nested(levels: int) -> str:
    """A project_data whose containers reach ``levels`` levels (project_data itself is level 1)."""
    return '{"a":' * levels + "1" + "}" * levels


REFUSED = [
    ('{"jobID": 1e999999999999999999}', "project_data.jobID", "outside the range"),
    ('{"jobID": 1e100000000}', "project_data.jobID", "outside the range"),
    ('{"jobID": -1e999999999999999999}', "project_data.jobID", "outside the range"),
    ('{"jobID": 1e-999999999999999999}', "project_data.jobID", "outside the range"),
    ('{"jobID": 0e999999999999999999}', "project_data.jobID", "outside the range"),
    ('{"jobID": 1e200}', "project_data.jobID", "outside the range"),
    ('{"jobID": 1e126}', "project_data.jobID", "outside the range"),
    ('{"jobID": -1e-131}', "project_data.jobID", "outside the range"),
    (f'{{"jobID": {FORTY_DIGITS}}}', "project_data.jobID", "more than the 38 digits"),
    (f'{{"jobID": -{FORTY_DIGITS}.5}}', "project_data.jobID", "more than the 38 digits"),
    (f'{{"jobs": [1, 2, {{"id": {FORTY_DIGITS}}}]}}', "project_data.jobs[2].id", "more than the 38 digits"),
    (f'{{"job.id": {FORTY_DIGITS}}}', 'project_data["job.id"]', "more than the 38 digits"),
    ('{"note": "\\ud800"}', "project_data.note", "not valid Unicode"),
    (_nested(33), "project_data" + ".a" * 32, "nested deeper than the 32 levels"),
    # 30 000 zeros: 60 KB of JSON, 90 KB as DynamoDB numbers in a list.
    ('{"zeros": [' + ",".join(["0"] * 30_000) + "]}", "project_data", f"at most {MAX_DOCUMENT_BYTES}"),
]


@pytest.mark.parametrize(("project_data", "path", "reason"), REFUSED, ids=[case[0][:40] for case in REFUSED])
def test_a_value_dynamodb_cannot_store_is_refused_with_its_path(initiate_request_example, project_data, path, reason):
    with pytest.raises(RequestInvalid) as refused:
        parse_initiate_request(_body(initiate_request_example, project_data))
    assert refused.value.error_code == "INVALID_PROJECT_DATA"
    assert refused.value.status_code == 400
    assert refused.value.message.startswith(path + " ")
    assert reason in refused.value.message


ACCEPTED_NUMBERS = [
    THIRTY_EIGHT_DIGITS,
    "-" + THIRTY_EIGHT_DIGITS,
    "1e125",
    "9.9999999999999999999999999999999999999e125",
    "-9.9999999999999999999999999999999999999e125",
    "1e-130",
    "-1e-130",
    "0",
    "0.0",
    "-0.5",
    "1.5e3",
    "1" + "0" * 37 + "e87",
]


@pytest.mark.parametrize("number", ACCEPTED_NUMBERS)
def test_every_number_dynamodb_stores_is_accepted_and_boto3_can_write_it(initiate_request_example, number):
    request = parse_initiate_request(_body(initiate_request_example, f'{{"n": {number}, "list": [{number}]}}'))
    value = request.project_data["n"]
    # What the processor does with it: boto3 serialises it without rounding, overflow or clamping.
    assert TypeSerializer().serialize(Decimal(value))["N"]
    assert json_codec.loads(json_codec.dumps(request.project_data)) == request.project_data


def test_thirty_two_levels_of_nesting_are_accepted(initiate_request_example):
    request = parse_initiate_request(_body(initiate_request_example, _nested(32)))
    assert json_codec.dumps(request.project_data) == _nested(32).replace(" ", "")


@pytest.mark.parametrize("number", ["1e999999999999999999", FORTY_DIGITS, "1e200", "0e999999999999999999"])
def test_what_is_refused_is_what_boto3_would_fail_to_write(number):
    value = json_codec.loads(number)
    with pytest.raises(Exception):  # noqa: B017 - boto3 raises decimal signals or TypeError alike
        TypeSerializer().serialize(value if isinstance(value, Decimal) else Decimal(value))
    with pytest.raises(Unstorable):
        check_storable({"n": value}, root="project_data")


def test_a_queued_message_with_an_unstorable_number_is_not_a_context_message(initiate_request_example):
    # What an older router may have queued: the processor must see it as malformed.
    message = {"project_data": {"jobID": Decimal("1E+200")}}
    with pytest.raises(ValueError, match=r"project_data\.jobID is outside the range"):
        ContextMessage.model_validate(message)
