"""Read access to the engine's secrets by name pattern (DESIGN §6): one statement, and the cdk-nag
acknowledgment its tenant wildcard needs, for every role that reads tenants' credentials."""

from __future__ import annotations

from collections.abc import Iterable

from aws_cdk import ArnFormat, Stack, Token
from aws_cdk import aws_iam as iam
from constructs import Construct

from stacks.nag import acknowledge
from stacks.names import credentials_secret_resource_pattern


def secret_arn(stack: Stack, resource_pattern: str) -> str:
    return stack.format_arn(
        service="secretsmanager",
        resource="secret",
        resource_name=resource_pattern,
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )


def grant_secret_reads(scope: Construct, role: iam.Role, *, sid: str, resource_patterns: Iterable[str]) -> None:
    """``secretsmanager:GetSecretValue`` on exactly these secret name patterns, nothing else."""
    stack = Stack.of(scope)
    role.add_to_policy(
        iam.PolicyStatement(
            sid=sid,
            actions=["secretsmanager:GetSecretValue"],
            resources=[secret_arn(stack, pattern) for pattern in resource_patterns],
        )
    )


def acknowledge_credentials_wildcard(scope: Construct, role: iam.Role, *, channel: str, env: str, why: str) -> None:
    """The IAM5 finding of ``credentials_secret_resource_pattern``: its wildcard is the tenant part
    of the secret's name, so one role serves every project of the environment."""
    acknowledge_secret_wildcard(
        scope,
        role,
        resource_pattern=credentials_secret_resource_pattern(channel, env),
        reason=f"The wildcard is the company_id/project_id part of ai-multi-comms/{channel}-credentials/"
        f"<company_id>/<project_id>/<provider>-{env} (DESIGN §6): {why}; GetSecretValue only.",
    )


def acknowledge_secret_wildcard(scope: Construct, role: iam.Role, *, resource_pattern: str, reason: str) -> None:
    """The IAM5 finding of a secret name pattern whose wildcard is the tenant part of the name."""
    stack = Stack.of(scope)
    region = "<AWS::Region>" if Token.is_unresolved(stack.region) else stack.region
    # cdk-nag renders the partition as a token or, when the CLI knows the region, as "aws".
    for partition in ("<AWS::Partition>", "aws"):
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::arn:{partition}:secretsmanager:{region}:<AWS::AccountId>:secret:"
            f"{resource_pattern}]",
            reason,
        )
