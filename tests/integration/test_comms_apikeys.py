"""``comms apikey create|list|revoke`` against the emulator: the key in API Gateway, its usage plan
and the projects' ``api_key_ids`` are read back after each command; bad input creates nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from local.seed import create_api
from stacks.settings import load_settings
from tests.conftest import EXAMPLES
from tools.comms.company_table import CompanyTable, ProjectNotFound
from tools.comms.key_lifecycle import Project, create_key
from tools.comms.usage_plans import ApiKeys

EXAMPLE = str(EXAMPLES / "company_record.example.json")
DEMO = {"company_id": "ci-demo-001", "project_id": "pi-demo-001"}
PLAN = "ai-multi-comms-usage-plan-dev"


@pytest.fixture
def api(aws):
    """The REST API and the environment's usage plan, as ApiStack deploys them and `make local` seeds them."""
    return create_api(aws, load_settings("dev"))


@pytest.fixture
def project(comms, aws) -> dict[str, str]:
    assert comms("company", "put", EXAMPLE).code == 0
    return DEMO


def _apigateway(aws) -> Any:
    return aws.client("apigateway")


def _keys(aws) -> dict[str, dict[str, Any]]:
    return {key["id"]: key for key in _apigateway(aws).get_api_keys(includeValues=True)["items"]}


def _plan_members(aws) -> set[str]:
    apigateway = _apigateway(aws)
    (plan,) = [p for p in apigateway.get_usage_plans()["items"] if p["name"] == PLAN]
    return {key["id"] for key in apigateway.get_usage_plan_keys(usagePlanId=plan["id"])["items"]}


def _bound(aws, project_id: str = "pi-demo-001") -> list[str]:
    item = aws.table("company-data").get_item(Key={"company_id": "ci-demo-001", "project_id": project_id})["Item"]
    return list(item["api_key_ids"])


def _put_second_project(comms, tmp_path: Path) -> Path:
    """pi-demo-002: the example as another project of the same company (its own secrets' names)."""
    other = tmp_path / "other.json"
    other.write_text((EXAMPLES / "company_record.example.json").read_text().replace("pi-demo-001", "pi-demo-002"))
    assert comms("company", "put", str(other)).code == 0
    return other


def _create(comms, *arguments: str) -> dict[str, Any]:
    done = comms("apikey", "create", *arguments, "--json")
    assert done.code == 0, done.stderr
    created: dict[str, Any] = done.json()
    return created


# --- create -------------------------------------------------------------------------------------


def test_create_makes_an_enabled_key_in_the_usage_plan_bound_to_the_project_and_prints_its_value_once(
    comms, aws, api, project
):
    done = comms("apikey", "create", "--name", "cucumber-clarify-cv", "--company-id", "ci-demo-001",
                 "--project-id", "pi-demo-001")  # fmt: skip

    assert done.code == 0, done.stderr
    ((key_id, key),) = _keys(aws).items()
    assert (key["name"], key["enabled"]) == ("cucumber-clarify-cv", True)
    assert _plan_members(aws) == {key_id}
    assert _bound(aws) == [key_id]
    lines = dict(line.split(None, 1) for line in done.stdout.splitlines())
    assert (lines["id"], lines["value"], lines["usage_plan"]) == (key_id, key["value"], PLAN)
    assert lines["bound_to"] == "ci-demo-001/pi-demo-001"


def test_create_appends_to_the_keys_already_bound_and_json_carries_the_value(comms, aws, api, project):
    first = _create(comms, "--name", "first", "--company-id", "ci-demo-001", "--project-id", "pi-demo-001")
    second = _create(comms, "--name", "second", "--company-id", "ci-demo-001", "--project-id", "pi-demo-001")

    assert _bound(aws) == [first["id"], second["id"]]
    assert second == {
        "id": second["id"],
        "name": "second",
        "value": _keys(aws)[second["id"]]["value"],
        "usage_plan": PLAN,
        "bound_to": "ci-demo-001/pi-demo-001",
    }


def test_create_without_a_project_only_adds_the_key_to_the_plan(comms, aws, api, project):
    created = _create(comms, "--name", "spare")

    assert _plan_members(aws) == {created["id"]}
    assert created["bound_to"] is None
    assert _bound(aws) == []


def test_create_for_a_project_that_does_not_exist_creates_no_key(comms, aws, api, project):
    done = comms("apikey", "create", "--name", "x", "--company-id", "ci-demo-001", "--project-id", "pi-nobody")

    assert done.code == 1
    assert "no project ci-demo-001/pi-nobody" in done.stderr
    assert _keys(aws) == {}


@pytest.mark.parametrize(
    ("arguments", "why"),
    [
        (["--company-id", "ci-demo-001"], "--company-id needs --project-id"),
        (["--project-id", "pi-demo-001"], "--project-id needs --company-id"),
        ([], "required: --name"),
    ],
    ids=["company-only", "project-only", "no-name"],
)
def test_create_with_half_a_project_or_no_name_is_refused_and_creates_nothing(comms, aws, api, project, arguments, why):
    name = [] if why.startswith("required") else ["--name", "x"]

    done = comms("apikey", "create", *name, *arguments)

    assert done.code == 2
    assert why in done.stderr
    assert _keys(aws) == {}
    assert _bound(aws) == []


def test_create_for_a_malformed_project_id_is_refused_before_anything(comms, aws, api, project):
    done = comms("apikey", "create", "--name", "x", "--company-id", "ci-demo-001", "--project-id", "pi/../001")

    assert done.code == 2
    assert "'pi/../001' is not an id" in done.stderr
    assert _keys(aws) == {}


def test_create_in_an_environment_without_its_usage_plan_creates_no_key(comms, aws, project):
    done = comms("apikey", "create", "--name", "x", "--company-id", "ci-demo-001", "--project-id", "pi-demo-001")

    assert done.code == 1
    assert f"no usage plan named {PLAN}" in done.stderr
    assert _keys(aws) == {}
    assert _bound(aws) == []


def test_a_key_whose_project_disappears_before_it_is_bound_is_deleted_again(comms, aws, api, project):
    # Another operator deletes the project between the check and the bind: a real race, replayed
    # at the moment the bind's UpdateItem leaves.
    table = aws.table("company-data")
    other_operator = aws.table("company-data")

    def delete_the_project(**_: Any) -> None:
        other_operator.delete_item(Key=DEMO)

    table.meta.client.meta.events.register("before-call.dynamodb.UpdateItem", delete_the_project)

    with pytest.raises(ProjectNotFound):
        create_key(
            "raced",
            project=Project("ci-demo-001", "pi-demo-001"),
            keys=ApiKeys(_apigateway(aws), PLAN),
            company=CompanyTable(table),
            now=datetime.now(UTC),
        )

    assert _keys(aws) == {}
    assert table.get_item(Key=DEMO).get("Item") is None  # the bind created no half record either


# --- list ---------------------------------------------------------------------------------------


def test_list_shows_the_plans_keys_and_their_projects_never_a_value(comms, aws, api, project, company_record_example):
    bound = _create(comms, "--name", "bound", "--company-id", "ci-demo-001", "--project-id", "pi-demo-001")
    spare = _create(comms, "--name", "spare")
    outside = _apigateway(aws).create_api_key(name="outside-the-plan", enabled=True)

    table = comms("apikey", "list")
    as_json = comms("apikey", "list", "--json")

    assert table.code == 0, table.stderr
    header, *rows = table.stdout.splitlines()
    assert header.split() == ["ID", "NAME", "ENABLED", "CREATED", "PROJECTS"]
    assert [(row.split()[0], row.split()[1], row.split()[2], row.split()[-1]) for row in rows] == [
        (bound["id"], "bound", "yes", "ci-demo-001/pi-demo-001"),
        (spare["id"], "spare", "yes", "-"),
    ]
    assert [(key["id"], key["projects"]) for key in as_json.json()] == [
        (bound["id"], ["ci-demo-001/pi-demo-001"]),
        (spare["id"], []),
    ]
    assert as_json.json()[0]["created"].endswith("Z")
    for value in (bound["value"], spare["value"], outside["value"]):
        assert value not in table.stdout + as_json.stdout
    assert outside["id"] not in table.stdout


def test_list_by_company_or_project_shows_only_the_keys_bound_there(comms, aws, api, project, tmp_path):
    _put_second_project(comms, tmp_path)
    first = _create(comms, "--name", "a", "--company-id", "ci-demo-001", "--project-id", "pi-demo-001")
    second = _create(comms, "--name", "b", "--company-id", "ci-demo-001", "--project-id", "pi-demo-002")
    _create(comms, "--name", "spare")

    company = comms("apikey", "list", "--company-id", "ci-demo-001", "--json").json()
    one_project = comms("apikey", "list", "--company-id", "ci-demo-001", "--project-id", "pi-demo-002", "--json")
    nobody = comms("apikey", "list", "--company-id", "ci-nobody", "--json").json()

    assert [key["id"] for key in company] == [first["id"], second["id"]]
    assert [(key["id"], key["projects"]) for key in one_project.json()] == [(second["id"], ["ci-demo-001/pi-demo-002"])]
    assert nobody == []


def test_list_by_project_alone_is_refused(comms, aws, api):
    done = comms("apikey", "list", "--project-id", "pi-demo-001")

    assert (done.code, done.stdout) == (2, "")
    assert "--project-id needs --company-id" in done.stderr


# --- revoke -------------------------------------------------------------------------------------


@pytest.fixture
def bound_twice(comms, aws, api, project, tmp_path) -> dict[str, Any]:
    """A key bound to two projects, beside a key of another project that revoking must not touch."""
    other = _put_second_project(comms, tmp_path)
    key = _create(comms, "--name", "shared", "--company-id", "ci-demo-001", "--project-id", "pi-demo-001")
    assert comms("company", "put", str(other), "--api-key-id", key["id"]).code == 0
    neighbour = _create(comms, "--name", "neighbour", "--company-id", "ci-demo-001", "--project-id", "pi-demo-002")
    assert _bound(aws, "pi-demo-002") == [key["id"], neighbour["id"]]
    return {"key": key, "neighbour": neighbour}


def test_revoke_without_yes_lists_what_would_change_and_changes_nothing(comms, aws, bound_twice):
    key, neighbour = bound_twice["key"], bound_twice["neighbour"]

    done = comms("apikey", "revoke", key["id"])

    assert done.code == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"would revoke API key {key['id']} (shared):",
        "  would unbind from project ci-demo-001/pi-demo-001",
        "  would unbind from project ci-demo-001/pi-demo-002",
        f"  would remove from usage plan {PLAN}",
        "  would delete the key",
        "nothing changed: run again with --yes to revoke",
    ]
    assert key["value"] not in done.stdout
    assert set(_keys(aws)) == {key["id"], neighbour["id"]}
    assert _plan_members(aws) == {key["id"], neighbour["id"]}
    assert _bound(aws) == [key["id"]]
    assert _bound(aws, "pi-demo-002") == [key["id"], neighbour["id"]]


def test_revoke_with_yes_unbinds_every_project_leaves_the_plan_and_deletes_the_key(comms, aws, bound_twice):
    key, neighbour = bound_twice["key"], bound_twice["neighbour"]

    done = comms("apikey", "revoke", key["id"], "--yes", "--json")

    assert done.code == 0, done.stderr
    assert done.json() == {
        "key_id": key["id"],
        "name": "shared",
        "key_exists": True,
        "projects": ["ci-demo-001/pi-demo-001", "ci-demo-001/pi-demo-002"],
        "usage_plans": [PLAN],
        "revoked": True,
    }
    assert set(_keys(aws)) == {neighbour["id"]}
    assert _plan_members(aws) == {neighbour["id"]}
    assert _bound(aws) == []
    assert _bound(aws, "pi-demo-002") == [neighbour["id"]]


def test_revoke_of_a_key_already_deleted_in_api_gateway_still_unbinds_it(comms, aws, api, project):
    key = _create(comms, "--name", "gone", "--company-id", "ci-demo-001", "--project-id", "pi-demo-001")
    _apigateway(aws).delete_api_key(apiKey=key["id"])

    done = comms("apikey", "revoke", key["id"], "--yes")

    assert done.code == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"revoked API key {key['id']} (no longer in API Gateway):",
        "  unbound from project ci-demo-001/pi-demo-001",
    ]
    assert _bound(aws) == []


def test_revoke_of_a_key_nobody_knows_exits_1(comms, aws, api, project):
    done = comms("apikey", "revoke", "nosuchkey", "--yes")

    assert done.code == 1
    assert "no API key nosuchkey" in done.stderr
