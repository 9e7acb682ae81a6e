"""Property tests: whatever JSON a client sends, validation answers with a known code or a model.

No body, however malformed, may escape as another exception (which the router would turn into a
500) or be accepted while breaking a rule the model promises.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.api_errors import RequestInvalid
from shared.identifiers import is_e164
from shared.models.request import InitiateRequest
from shared.request_errors import SECTIONS, parse_initiate_request
from tests.conftest import EXAMPLES
from tools import openapi

EXAMPLE = json.loads((EXAMPLES / "initiate_request.example.json").read_text())

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3),
    max_leaves=8,
)
FIELDS = [(section, name) for section in SECTIONS if isinstance(EXAMPLE[section], dict) for name in EXAMPLE[section]]


@st.composite
def mutated_examples(draw) -> dict:
    body = copy.deepcopy(EXAMPLE)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        kind = draw(st.sampled_from(["drop_section", "replace_section", "drop_field", "replace_field"]))
        if kind in ("drop_section", "replace_section"):
            section = draw(st.sampled_from(SECTIONS))
            if kind == "drop_section":
                body.pop(section, None)
            else:
                body[section] = draw(json_values)
        else:
            section, name = draw(st.sampled_from(FIELDS))
            if not isinstance(body.get(section), dict):
                continue
            if kind == "drop_field":
                body[section].pop(name, None)
            else:
                body[section][name] = draw(json_values)
    return body


def _check(body) -> None:
    try:
        request = parse_initiate_request(body)
    except RequestInvalid as error:
        assert error.status_code == 400
        assert (400, error.error_code) in openapi.ERROR_CODES, "an error code the API document does not list"
        return
    assert isinstance(request, InitiateRequest)
    assert request.recipient_data.comms_consent is True
    if request.channel.uses_phone_number:
        assert is_e164(request.recipient_address)
    assert "#" not in request.company_data.company_id + request.company_data.project_id


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(mutated_examples())
def test_a_mutated_example_is_either_valid_or_refused_with_a_code(body):
    _check(body)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_any_json_value_is_either_valid_or_refused_with_a_code(body):
    _check(body)


ARRIVED = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
send_at_texts = st.builds(
    lambda moment, offset, naive: moment.isoformat() if naive else moment.replace(tzinfo=offset).isoformat(),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
    st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=45)), timezone(timedelta(hours=-3, minutes=-30))]),
    st.booleans(),
)
zone_texts = st.sampled_from(["Europe/London", "Asia/Kathmandu", "UTC", "localtime", "europe/london", "GMT+1"])


@settings(max_examples=300, deadline=None)
@given(send_at=json_values | send_at_texts, zone=json_values | zone_texts)
def test_send_at_and_recipient_timezone_are_either_valid_or_refused_with_their_codes(send_at, zone):
    body = copy.deepcopy(EXAMPLE)
    body["request_data"]["send_at"] = send_at
    body["recipient_data"]["recipient_timezone"] = zone
    try:
        request = parse_initiate_request(body, now=ARRIVED)
    except RequestInvalid as error:
        assert error.error_code in {"INVALID_SEND_AT", "INVALID_RECIPIENT_TIMEZONE_FORMAT"}, error.message
        return
    if request.request_data.send_at is not None:
        assert request.request_data.send_at.utcoffset() == timedelta(0)
        assert request.request_data.send_at <= ARRIVED + timedelta(days=30)
    if request.recipient_data.recipient_timezone is not None:
        ZoneInfo(request.recipient_data.recipient_timezone)
