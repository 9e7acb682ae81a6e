"""`make` alone lists every target with what it does, and does nothing else; the knobs the workflows
turn (REQUIRE_APPROVAL, DIFF_METHOD) reach the CDK CLI."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

MAKEFILE = ROOT / "Makefile"

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def _make(*arguments: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    # Run as a person would, not as a sub-make of `make test` (which would add its flags and
    # "Entering directory" lines).
    environ = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MAKELEVEL", "MFLAGS"}}
    return subprocess.run(["make", *arguments], cwd=cwd, env=environ, capture_output=True, text=True, timeout=60)


def _phony_targets() -> list[str]:
    lines = [line for line in MAKEFILE.read_text().splitlines() if line.startswith(".PHONY:")]
    assert lines, "the Makefile declares its targets .PHONY"
    return [target for line in lines for target in line.removeprefix(".PHONY:").split()]


def _listed(help_text: str) -> dict[str, str]:
    """target -> its description (first line), from the help's `  target  description` lines."""
    return dict(re.findall(r"^  ([a-z][a-z0-9-]*) +(\S.*)$", help_text, flags=re.MULTILINE))


def test_help_lists_every_target_with_a_description() -> None:
    result = _make("help")
    assert result.returncode == 0, result.stderr
    listed = _listed(result.stdout)
    assert set(_phony_targets()) == set(listed), "every .PHONY target, and only those, are in `make help`"
    assert all(len(description) > 10 for description in listed.values()), listed


def test_every_listed_target_exists_and_is_phony() -> None:
    rules = set(re.findall(r"^([a-z][a-z0-9-]*):", MAKEFILE.read_text(), flags=re.MULTILINE))
    listed = set(_listed(_make("help").stdout))
    assert listed <= rules, f"documented but not defined: {listed - rules}"
    assert rules <= set(_phony_targets()), f"targets that are not .PHONY: {rules - set(_phony_targets())}"


def test_plain_make_prints_the_help_and_runs_nothing_else(tmp_path: Path) -> None:
    shutil.copy(MAKEFILE, tmp_path / "Makefile")
    result = _make(cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == _make("help").stdout
    assert result.stdout.startswith("usage: make TARGET")
    # No setup ran: no virtualenv, no node_modules, nothing but the Makefile itself.
    assert [path.name for path in tmp_path.iterdir()] == ["Makefile"]


def test_a_continued_description_stays_with_its_target() -> None:
    listed = _make("help").stdout.splitlines()
    local = next(i for i, line in enumerate(listed) if line.startswith("  local "))
    assert listed[local + 1].startswith(" " * 16) and "restored on start" in listed[local + 1]


def _dry_run(*arguments: str) -> str:
    result = _make("--dry-run", "--no-print-directory", *arguments)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_ci_deploy_never_waits_for_a_terminal_and_a_person_s_does() -> None:
    ci = _dry_run("deploy", "ENV=prod", "REQUIRE_APPROVAL=never")
    assert "cdk deploy --no-notices --require-approval never -c env=prod --all" in ci
    assert "--require-approval broadening -c env=dev --all" in _dry_run("deploy", "ENV=dev")


def test_the_ci_diff_compares_templates_and_a_person_s_makes_a_change_set() -> None:
    assert "cdk diff --no-notices --method template -c env=prod" in _dry_run("diff", "ENV=prod", "DIFF_METHOD=template")
    assert "cdk diff --no-notices --method auto -c env=dev" in _dry_run("diff")


def test_bootstrap_bootstraps_the_environment_s_region_from_the_app() -> None:
    assert "cdk bootstrap --no-notices -c env=prod" in _dry_run("bootstrap", "ENV=prod")
