"""What makes two requests "identical" for the request-id reservation, and its takeover delay."""

from __future__ import annotations

import copy
import json

import pytest
from pydantic import ValidationError

from shared.request_errors import parse_initiate_request
from shared.routing.request_ledger import TAKEOVER_AFTER_SECONDS, request_fingerprint
from stacks.settings import RouterSettings


def _fingerprint(body: dict) -> str:
    return request_fingerprint(parse_initiate_request(copy.deepcopy(body)))


def test_what_validation_normalises_or_drops_does_not_change_the_fingerprint(initiate_request_example):
    same = json.loads(json.dumps(initiate_request_example, sort_keys=True))
    same["company_data"]["api_key"] = "dropped-and-never-hashed"
    same["request_data"]["channel_method"] = "WhatsApp"
    same["request_data"]["request_id"] = same["request_data"]["request_id"].upper()
    same["recipient_data"]["recipient_email"] = "Alex.Morgan@EXAMPLE.com"
    assert _fingerprint(same) == _fingerprint(initiate_request_example)


def test_any_change_the_processor_would_see_changes_the_fingerprint(initiate_request_example):
    original = _fingerprint(initiate_request_example)
    for section, field, value in [
        ("project_data", "jobRole", "Night Nurse"),
        ("project_data", "salary", 1),
        ("recipient_data", "recipient_first_name", "Alexa"),
        ("recipient_data", "recipient_tel", "+447700900124"),
        ("request_data", "initial_request_timestamp", "2026-11-24T09:30:01.000Z"),
        ("request_data", "channel_method", "sms"),
    ]:
        changed = copy.deepcopy(initiate_request_example)
        changed[section][field] = value
        assert _fingerprint(changed) != original, (section, field)


def test_a_reservation_is_taken_over_only_after_any_router_allowed_by_the_settings_has_timed_out():
    field = RouterSettings.model_fields["timeout_seconds"]
    longest = next(rule.le for rule in field.metadata if getattr(rule, "le", None) is not None)
    assert longest < TAKEOVER_AFTER_SECONDS
    with pytest.raises(ValidationError, match="timeout_seconds"):
        RouterSettings.model_validate({"memory_mb": 256, "timeout_seconds": TAKEOVER_AFTER_SECONDS})
