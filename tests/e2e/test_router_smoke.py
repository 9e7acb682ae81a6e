"""``make smoke`` against the local stack: every operator check passes, and a broken setup fails it."""

from __future__ import annotations

import dataclasses

import pytest

from tools import smoke

pytestmark = pytest.mark.e2e


def _settings(local_stack) -> smoke.Settings:
    return smoke.settings_from(["--env-file", str(local_stack.state_dir / "env")], environ={})


def test_every_smoke_check_passes_against_the_local_stack(local_stack):
    lines: list[str] = []
    assert smoke.run(_settings(local_stack), out=lines.append), "\n".join(lines)
    assert sum(line.startswith("PASS") for line in lines) == len(smoke.CHECKS)
    assert not any(local_stack.api_key in line for line in lines)


def test_the_smoke_test_fails_when_the_key_is_not_bound_to_the_project(local_stack):
    settings = dataclasses.replace(_settings(local_stack), project_id="pi-not-this-one")
    lines: list[str] = []
    assert not smoke.run(settings, out=lines.append)
    (failed,) = [line for line in lines if line.startswith("FAIL")]
    assert "valid request" in failed and "COMPANY_NOT_FOUND" in failed
