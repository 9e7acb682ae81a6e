"""``comms company put|show|list|set-status`` against the emulator, through the ``--env local`` path:
each command's effect is read back from the company-data table, and bad input changes nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shared import json_codec
from tests.conftest import EXAMPLES

EXAMPLE = str(EXAMPLES / "company_record.example.json")
DEMO = {"company_id": "ci-demo-001", "project_id": "pi-demo-001"}


def _stored(aws, key: dict[str, str] = DEMO) -> dict[str, Any] | None:
    return aws.table("company-data").get_item(Key=key).get("Item")


def _record_file(tmp_path: Path, company_record_example: dict[str, Any], **changes: Any) -> str:
    path = tmp_path / "record.json"
    path.write_text(json.dumps(company_record_example | changes))
    return str(path)


def _another_project(company_record_example: dict[str, Any], project_id: str) -> dict[str, Any]:
    """The example as another project of the same company, naming its own secrets."""
    record = json.loads(json.dumps(company_record_example).replace("pi-demo-001", project_id))
    return record | {"project_id": project_id, "project_name": project_id}


# --- put ----------------------------------------------------------------------------------------


def test_putting_a_record_twice_binds_both_keys_and_keeps_its_creation_time(comms, aws):
    first_put = comms("company", "put", EXAMPLE, "--api-key-id", "k1")
    first = _stored(aws)
    second_put = comms("company", "put", EXAMPLE, "--api-key-id", "k2", "--json")
    second = _stored(aws)

    assert first_put.code == 0, first_put.stderr
    assert second_put.code == 0, second_put.stderr
    assert first["api_key_ids"] == ["k1"]
    assert second["api_key_ids"] == ["k1", "k2"]
    assert second["created_at"] == first["created_at"] == "2026-11-24T09:00:00Z"
    assert second["updated_at"] >= first["updated_at"] > "2026-11-25"
    assert "created" in first_put.stdout and "ai-multi-comms-company-data-dev" in first_put.stdout
    assert second_put.json() == {
        "company_id": "ci-demo-001",
        "project_id": "pi-demo-001",
        "table": "ai-multi-comms-company-data-dev",
        "action": "replaced",
        "api_key_ids": ["k1", "k2"],
        "created_at": "2026-11-24T09:00:00Z",
        "updated_at": second["updated_at"],
    }


def test_an_existing_record_keeps_the_keys_bound_in_the_table_not_those_of_the_file(
    comms, aws, tmp_path, company_record_example
):
    assert comms("company", "put", EXAMPLE, "--api-key-id", "bound-since").code == 0

    path = _record_file(tmp_path, company_record_example, api_key_ids=["from-the-file"], project_name="Renamed")
    done = comms("company", "put", path)

    assert done.code == 0, done.stderr
    assert (_stored(aws)["api_key_ids"], _stored(aws)["project_name"]) == (["bound-since"], "Renamed")


def test_a_record_naming_another_tenants_credentials_is_not_put(comms, aws, tmp_path, company_record_example):
    company_record_example["channel_config"]["email"]["email_credentials_id"] = (
        "ai-multi-comms/email-credentials/ci-other-002/pi-other-002/sendgrid-dev"
    )

    done = comms("company", "put", _record_file(tmp_path, company_record_example))

    assert done.code == 2
    assert "channel_config.email.email_credentials_id" in done.stderr
    assert _stored(aws) is None


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ("{not json", "is not JSON"),
        ("[1, 2]", "holds a JSON list"),
        (None, "cannot read"),
    ],
    ids=["not-json", "not-an-object", "missing-file"],
)
def test_a_file_that_holds_no_record_is_refused_and_nothing_is_written(comms, aws, tmp_path, content, why):
    path = tmp_path / "record.json"
    if content is not None:
        path.write_text(content)

    done = comms("company", "put", str(path))

    assert (done.code, done.stdout) == (2, "")
    assert why in done.stderr
    assert aws.table("company-data").scan()["Items"] == []


def test_a_record_the_router_could_not_read_is_refused_with_the_field_named(
    comms, aws, tmp_path, company_record_example
):
    done = comms("company", "put", _record_file(tmp_path, company_record_example, project_status="paused"))

    assert done.code == 2
    assert "the record is invalid" in done.stderr and "project_status" in done.stderr
    assert _stored(aws) is None


def _webhook_record(tmp_path: Path, company_record_example: dict[str, Any], url: str) -> str:
    webhook = {"url": url, "secret_reference": "ai-multi-comms/webhook-secrets/ci-demo-001/pi-demo-001-dev"}
    return _record_file(tmp_path, company_record_example, webhook=webhook)


def test_a_local_receiver_is_put_with_the_flag_against_the_local_stack_and_refused_without(
    comms, aws, tmp_path, company_record_example
):
    path = _webhook_record(tmp_path, company_record_example, "http://127.0.0.1:9911/hooks")

    refused = comms("company", "put", path)
    assert refused.code == 2
    assert "webhook.url: the webhook url must start with https://" in refused.stderr
    assert _stored(aws) is None

    admitted = comms("company", "put", path, "--allow-local-webhook")
    assert admitted.code == 0, admitted.stderr
    assert _stored(aws)["webhook"]["url"] == "http://127.0.0.1:9911/hooks"


def test_the_local_flag_is_refused_against_a_deployed_environment_before_anything_is_read(
    comms, aws, tmp_path, company_record_example
):
    path = _webhook_record(tmp_path, company_record_example, "http://127.0.0.1:9911/hooks")

    # --env dev is AWS itself: the test's fake credentials would never reach it, and need not.
    done = comms("company", "put", path, "--allow-local-webhook", "--env", "dev")

    assert done.code == 2
    assert "only for --env local" in done.stderr
    assert _stored(aws) is None


# --- show and list ------------------------------------------------------------------------------


def test_show_prints_what_an_operator_checks_and_json_the_whole_record(comms, aws):
    assert comms("company", "put", EXAMPLE, "--api-key-id", "k1").code == 0

    table = comms("company", "show", "ci-demo-001", "pi-demo-001")
    whole = comms("company", "show", "ci-demo-001", "pi-demo-001", "--json")

    assert table.code == 0, table.stderr
    lines = dict(line.split(None, 1) for line in table.stdout.splitlines())
    assert lines["project_name"] == "Clarify CV"
    assert lines["project_status"] == "active"
    assert lines["allowed_channels"] == "whatsapp,sms,email"
    assert lines["configured_channels"] == "email,sms,whatsapp"
    assert lines["api_key_ids"] == "k1"
    assert lines["webhook_url"] == "-"
    assert "ai_config" not in table.stdout
    assert whole.json() == json.loads(json_codec.dumps(_stored(aws)))
    assert whole.json()["ai_config"]["openai_config"]["sms"]["model"] == "gpt-5-mini"


def test_show_of_a_project_that_does_not_exist_exits_1(comms, aws):
    done = comms("company", "show", "ci-demo-001", "pi-nobody")

    assert (done.code, done.stdout) == (1, "")
    assert "no project ci-demo-001/pi-nobody" in done.stderr


def test_list_has_one_row_per_project_and_filters_by_company(comms, aws, tmp_path, company_record_example):
    other_company = json.loads(json.dumps(company_record_example).replace("ci-demo-001", "ci-other-002"))
    second_project = _another_project(company_record_example, "pi-demo-002")
    for name, record in {"a": other_company, "b": second_project}.items():
        (tmp_path / name).write_text(json.dumps(record))
        assert comms("company", "put", str(tmp_path / name)).code == 0
    assert comms("company", "put", EXAMPLE, "--api-key-id", "k1", "--api-key-id", "k2").code == 0

    everything = comms("company", "list", "--json")
    one_company = comms("company", "list", "--company-id", "ci-demo-001")

    assert everything.code == 0, everything.stderr
    assert [(row["company_id"], row["project_id"], row["keys"]) for row in everything.json()] == [
        ("ci-demo-001", "pi-demo-001", 2),
        ("ci-demo-001", "pi-demo-002", 0),
        ("ci-other-002", "pi-demo-001", 0),
    ]
    assert everything.json()[0]["channels"] == ["whatsapp", "sms", "email"]
    header, *rows = one_company.stdout.splitlines()
    assert header.split() == ["COMPANY_ID", "PROJECT_ID", "PROJECT_STATUS", "CHANNELS", "KEYS", "UPDATED_AT"]
    assert [row.split()[:5] for row in rows] == [
        ["ci-demo-001", "pi-demo-001", "active", "whatsapp,sms,email", "2"],
        ["ci-demo-001", "pi-demo-002", "active", "whatsapp,sms,email", "0"],
    ]


def test_list_reads_every_page_of_the_table(comms, aws, company_record_example):
    # Records large enough that a Scan answers in several pages (1 MB each).
    filler = "x" * 300_000
    with aws.table("company-data").batch_writer() as batch:
        for number in range(8):
            record = _another_project(company_record_example, f"pi-bulk-{number:03d}")
            batch.put_item(Item=record | {"notes": filler})

    done = comms("company", "list", "--json")

    assert "LastEvaluatedKey" in aws.table("company-data").scan()  # more than one page
    assert done.code == 0, done.stderr
    assert [row["project_id"] for row in done.json()] == [f"pi-bulk-{number:03d}" for number in range(8)]


def test_an_empty_table_lists_none(comms, aws):
    done = comms("company", "list")

    assert done.code == 0
    assert done.stdout.splitlines()[-1] == "(none)"


# --- set-status ---------------------------------------------------------------------------------


def test_set_status_changes_only_the_status_and_the_update_time_and_says_old_to_new(comms, aws):
    assert comms("company", "put", EXAMPLE, "--api-key-id", "k1").code == 0
    before = _stored(aws)

    done = comms("company", "set-status", "ci-demo-001", "pi-demo-001", "inactive")
    back = comms("company", "set-status", "ci-demo-001", "pi-demo-001", "active", "--json")

    assert done.code == 0, done.stderr
    assert done.stdout.strip() == "ci-demo-001/pi-demo-001: active -> inactive"
    assert back.json() == {**DEMO, "old_status": "inactive", "new_status": "active"}
    after = _stored(aws)
    assert after["updated_at"] > before["updated_at"]
    assert {k: v for k, v in after.items() if k != "updated_at"} == {
        k: v for k, v in before.items() if k != "updated_at"
    }


def test_inactive_is_stored_for_the_router_to_refuse(comms, aws):
    assert comms("company", "put", EXAMPLE).code == 0

    assert comms("company", "set-status", "ci-demo-001", "pi-demo-001", "inactive").code == 0

    assert _stored(aws)["project_status"] == "inactive"


def test_set_status_of_a_missing_project_exits_1_and_creates_no_item(comms, aws):
    done = comms("company", "set-status", "ci-demo-001", "pi-nobody", "inactive")

    assert done.code == 1
    assert "no project ci-demo-001/pi-nobody" in done.stderr
    assert aws.table("company-data").scan()["Items"] == []


def test_set_status_of_a_malformed_id_is_refused_by_the_parser(comms, aws):
    done = comms("company", "set-status", "ci demo", "pi-demo-001", "inactive")

    assert done.code == 2
    assert "'ci demo' is not an id" in done.stderr
    assert aws.table("company-data").scan()["Items"] == []


def test_an_unknown_status_is_refused_by_the_parser(comms, aws):
    assert comms("company", "put", EXAMPLE).code == 0

    done = comms("company", "set-status", "ci-demo-001", "pi-demo-001", "paused")

    assert done.code == 2
    assert "invalid choice" in done.stderr
    assert _stored(aws)["project_status"] == "active"
