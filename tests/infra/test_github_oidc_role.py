"""deploy/github-oidc-role.yaml, rendered for each environment: who may assume which role, to do what.

The template is rendered here with its parameters (conditions, Fn::If, Fn::Sub, Ref, NoValue):
moto's CloudFormation cannot create it, and these are the properties that keep prod safe.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from cfnlint.decode import decode_str

from tests.conftest import ROOT

TEMPLATE = ROOT / "deploy" / "github-oidc-role.yaml"
ACCOUNT = "123456789012"
PROVIDER = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
_NO_VALUE = object()


def render(**parameters: str) -> dict[str, dict[str, Any]]:
    """The resources CloudFormation would create with these parameters, intrinsics resolved."""
    template, errors = decode_str(TEMPLATE.read_text())
    assert not errors, errors
    values = {name: spec.get("Default") for name, spec in template["Parameters"].items()}
    values.update(parameters, **{"AWS::AccountId": ACCOUNT, "AWS::Partition": "aws", "AWS::Region": "eu-north-1"})
    missing = [name for name, value in values.items() if value is None]
    assert not missing, f"parameters without a value: {missing}"
    conditions: dict[str, bool] = {}

    def condition(name: str) -> bool:
        if name not in conditions:
            conditions[name] = bool(resolve(template["Conditions"][name]))
        return conditions[name]

    def resolve(node: Any) -> Any:
        if isinstance(node, list):
            return [item for item in map(resolve, node) if item is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, argument),) = node.items()
            if key == "Ref":
                if argument == "AWS::NoValue":
                    return _NO_VALUE
                return values.get(argument, f"arn-of-{argument}")
            if key == "Fn::Sub":
                return re.sub(r"\$\{([\w:]+)\}", lambda match: str(values[match.group(1)]), argument)
            if key == "Fn::If":
                name, if_true, if_false = argument
                return resolve(if_true if condition(name) else if_false)
            if key == "Fn::Equals":
                left, right = map(resolve, argument)
                return left == right
            if key == "Fn::Not":
                return not resolve(argument[0])
            if key == "Fn::And":
                return all(map(resolve, argument))
            if key == "Condition":
                return condition(argument)
            if key == "Fn::GetAtt":
                return f"arn-of-{argument[0]}"
        return {key: value for key, value in ((k, resolve(v)) for k, v in node.items()) if value is not _NO_VALUE}

    return {
        name: resolve(resource)
        for name, resource in template["Resources"].items()
        if "Condition" not in resource or condition(resource["Condition"])
    }


def _trusted_subject(role: dict[str, Any]) -> str:
    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    claims = statement["Condition"]["StringEquals"]
    assert claims["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
    assert set(statement["Condition"]) == {"StringEquals"}, "no wildcard (StringLike) subjects"
    return claims["token.actions.githubusercontent.com:sub"]


def _allowed(role: dict[str, Any]) -> list[tuple[str, str]]:
    """(action, resource) of every statement of the role's inline policies."""
    pairs = []
    for policy in role["Properties"]["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow"
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            pairs += [(statement["Action"], resource) for resource in resources]
    return pairs


def test_dev_is_deployed_only_by_runs_on_main() -> None:
    resources = render(Repository="acme/engine", Environment="dev")
    assert set(resources) == {"GitHubOidcProvider", "DeployRole"}
    role = resources["DeployRole"]
    assert role["Properties"]["RoleName"] == "ai-multi-comms-github-deploy-dev"
    assert _trusted_subject(role) == "repo:acme/engine:ref:refs/heads/main"


def test_prod_is_deployed_only_by_a_job_of_the_protected_production_environment() -> None:
    resources = render(Repository="acme/engine", Environment="prod", OidcProviderArn=PROVIDER)
    assert set(resources) == {"DeployRole", "DiffRole"}, "the account's provider is reused, not created twice"
    deploy = resources["DeployRole"]
    assert deploy["Properties"]["RoleName"] == "ai-multi-comms-github-deploy-prod"
    assert deploy["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Federated": PROVIDER}
    assert _trusted_subject(deploy) == "repo:acme/engine:environment:production"


def test_the_prod_diff_role_can_only_assume_the_read_only_lookup_role() -> None:
    diff = render(Repository="acme/engine", Environment="prod")["DiffRole"]
    assert _trusted_subject(diff) == "repo:acme/engine:ref:refs/heads/main"
    assert _allowed(diff) == [("sts:AssumeRole", f"arn:aws:iam::{ACCOUNT}:role/cdk-hnb659fds-lookup-role-*")]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_a_deploy_role_can_only_assume_the_cdk_bootstrap_roles_and_read_what_the_smoke_test_needs(env: str) -> None:
    role = render(Repository="acme/engine", Environment=env, CdkQualifier="q1", SmokeApiKeyId="k1")["DeployRole"]
    bootstrap = {
        ("sts:AssumeRole", f"arn:aws:iam::{ACCOUNT}:role/cdk-q1-{kind}-*")
        for kind in ("deploy-role", "file-publishing-role", "image-publishing-role", "lookup-role")
    }
    smoke = {
        ("cloudformation:DescribeStacks", f"arn:aws:cloudformation:*:{ACCOUNT}:stack/AiMultiComms-Api-dev/*"),
        ("apigateway:GET", "arn:aws:apigateway:*::/apikeys/k1"),
    }
    assert set(_allowed(role)) == (bootstrap | smoke if env == "dev" else bootstrap)


def test_the_dev_role_reads_no_api_key_until_the_smoke_tenant_s_id_is_given() -> None:
    role = render(Repository="acme/engine", Environment="dev")["DeployRole"]
    assert not [pair for pair in _allowed(role) if pair[0].startswith("apigateway:")]
    assert ("cloudformation:DescribeStacks", f"arn:aws:cloudformation:*:{ACCOUNT}:stack/AiMultiComms-Api-dev/*") in (
        _allowed(role)
    )


def test_only_owner_slash_name_is_accepted_as_the_repository() -> None:
    pattern = decode_str(TEMPLATE.read_text())[0]["Parameters"]["Repository"]["AllowedPattern"]
    assert re.fullmatch(pattern, "acme/engine")
    for wrong in ("acme/*", "acme", "acme/engine:ref:refs/heads/*", "*"):
        assert not re.fullmatch(pattern, wrong), wrong
