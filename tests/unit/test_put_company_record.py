from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from tests.conftest import EXAMPLES
from tools.put_company_record import prepared_record

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_the_example_record_is_bound_to_the_given_key_and_loses_the_placeholder():
    record = prepared_record(EXAMPLES / "company_record.example.json", api_key_ids=["k1"], now=NOW)
    assert record["api_key_ids"] == ["k1"]
    assert record["updated_at"] == "2026-11-25T12:00:00Z"
    assert record["created_at"] == "2026-11-24T09:00:00Z"


def test_a_record_the_router_could_not_read_is_refused(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text((EXAMPLES / "company_record.example.json").read_text().replace('"active"', '"paused"'))
    with pytest.raises(ValidationError):
        prepared_record(broken, api_key_ids=[], now=NOW)


def test_an_existing_record_keeps_the_keys_bound_in_the_table_not_those_of_the_file():
    existing = {"api_key_ids": ["bound-since"], "created_at": "2026-01-01T00:00:00Z"}
    record = prepared_record(EXAMPLES / "company_record.example.json", api_key_ids=["new"], now=NOW, existing=existing)
    assert record["api_key_ids"] == ["bound-since", "new"]
    assert record["created_at"] == "2026-01-01T00:00:00Z"
