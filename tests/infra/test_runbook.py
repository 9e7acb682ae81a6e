"""docs/runbook.md has a section for every alarm of both environments, and only for alarms that
exist; each alarm's description points at its section."""

from __future__ import annotations

import re

import pytest

from stacks.bundling import ROOT
from tests.infra.conftest import ENVIRONMENTS, synthesised_env

RUNBOOK = ROOT / "docs" / "runbook.md"
HEADING = re.compile(r"^### (ai-multi-comms-[a-z0-9-]+-<env>)$", re.MULTILINE)


def sections() -> list[str]:
    return HEADING.findall(RUNBOOK.read_text())


def github_anchor(heading: str) -> str:
    """How GitHub anchors a heading: lower case, punctuation but ``-`` dropped, spaces as ``-``."""
    return re.sub(r"[^a-z0-9 _-]", "", heading.lower()).replace(" ", "-")


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_alarm_has_its_own_runbook_section_and_every_section_an_alarm(env):
    alarms = sorted(name.removesuffix(f"-{env}") + "-<env>" for name in synthesised_env(env).alarms())

    assert sorted(sections()) == alarms
    assert len(sections()) == len(set(sections()))  # one section each


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_each_alarm_description_links_to_its_section(env):
    anchors = {github_anchor(heading) for heading in sections()}
    for name, alarm in synthesised_env(env).alarms().items():
        link = alarm["AlarmDescription"].rsplit(" Runbook: docs/runbook.md#", 1)[1]
        assert link in anchors, name
        assert link == github_anchor(name.removesuffix(f"-{env}") + "-<env>")


def test_each_section_says_what_it_means_what_to_look_at_and_what_to_run():
    text = RUNBOOK.read_text()
    bodies = re.split(r"^### .*$", text, flags=re.MULTILINE)[1:]
    assert len(bodies) == len(sections())
    for heading, body in zip(sections(), bodies, strict=True):
        for part in ("**What it means.**", "**Look at.**", "**Run.**"):
            assert part in body, f"{heading} lacks {part}"
