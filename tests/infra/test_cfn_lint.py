"""cfn-lint over every synthesised template of both environments and over the OIDC role template.

No error (E*) anywhere. The warnings CDK itself writes are listed below with why they stay; any
other warning fails, so a new one is read before it is accepted. The synthesis skips bundling:
a function's asset hash is computed from its sources either way (stacks/bundling.py), so the
templates are the ones `make synth` writes.
"""

from __future__ import annotations

import json
from collections import Counter

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template
from cfnlint.api import ManualArgs, Match, lint

from tests.conftest import ROOT
from tests.infra.conftest import Synthesised

OIDC_ROLE_TEMPLATE = ROOT / "deploy" / "github-oidc-role.yaml"

# rule -> why it is not fixed (docs/decisions.md, "CI/CD and the reviewer's checks").
ACCEPTED_WARNINGS = {
    # aws-cdk-lib's Function adds DependsOn its role although Properties.Role already GetAtts it
    # (the DependsOn also lists the role's default policy, which is what matters); harmless, and
    # removing it would mean an escape hatch on every function.
    "W3005": "CDK's Function depends on its role explicitly",
}


def _lint(template: str, region: str) -> list[Match]:
    return lint(template, config=ManualArgs(regions=[region]))


_FINDINGS: dict[str, dict[str, list[Match]]] = {}


def _findings(synthesised: Synthesised) -> dict[str, list[Match]]:
    """cfn-lint's matches of each stack of an environment, by stack name (linted once a session)."""
    env, region = synthesised.settings.name, synthesised.settings.region
    assert region, "cdk.json names each environment's region"
    if env not in _FINDINGS:
        app = synthesised.engine.data.node.root
        stacks = [child for child in app.node.children if isinstance(child, cdk.Stack)]
        assert len(stacks) >= 4
        _FINDINGS[env] = {
            stack.stack_name: _lint(json.dumps(Template.from_stack(stack).to_json()), region) for stack in stacks
        }
    return _FINDINGS[env]


def _describe(matches: list[Match]) -> str:
    return "\n".join(f"{m.rule.id} {'/'.join(map(str, m.path))}: {m.message}" for m in matches)


def test_no_template_of_either_environment_has_a_cfn_lint_error_or_a_new_warning(synthesised: Synthesised) -> None:
    for stack_name, matches in _findings(synthesised).items():
        errors = [m for m in matches if m.rule.id.startswith("E")]
        assert not errors, f"{stack_name}:\n{_describe(errors)}"
        unexpected = [m for m in matches if m.rule.id not in ACCEPTED_WARNINGS and not m.rule.id.startswith("I")]
        assert not unexpected, f"{stack_name}:\n{_describe(unexpected)}"


def test_the_accepted_warnings_are_still_there_to_be_accepted(dev: Synthesised) -> None:
    """An entry of ACCEPTED_WARNINGS that no template raises any more is deleted, not kept."""
    found = Counter(m.rule.id for matches in _findings(dev).values() for m in matches)
    assert set(ACCEPTED_WARNINGS) <= set(found), found


def test_cfn_lint_reports_an_error_in_a_template() -> None:
    broken = {
        "Resources": {
            "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": "a minute", "Colour": "red"}}
        }
    }
    rules = {m.rule.id for m in _lint(json.dumps(broken), "eu-north-1")}
    assert {"E3002", "E3012"} <= rules, rules


@pytest.mark.parametrize("region", ["eu-north-1", "us-east-1"])
def test_the_oidc_role_template_is_clean(region: str) -> None:
    matches = _lint(OIDC_ROLE_TEMPLATE.read_text(), region)
    assert not matches, _describe(matches)
