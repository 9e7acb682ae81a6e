"""`make` alone lists every target with what it does, and does nothing else."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
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
