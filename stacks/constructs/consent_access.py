"""What a role needs of the consent data (issue 12): the suppression table's items by key and the
environment's consent key (the HMAC key of the address hashes and unsubscribe tokens)."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager

CONSENT_READ = ("dynamodb:GetItem",)
CONSENT_READ_WRITE = ("dynamodb:GetItem", "dynamodb:UpdateItem")


def grant_consent_access(
    role: iam.IRole,
    *,
    suppressions: dynamodb.ITable,
    consent_key: secretsmanager.ISecret,
    actions: Sequence[str],
) -> None:
    """``actions`` on the suppression table's items (never its index-less Query unless asked) and a
    read of the consent key. Explicit statements: ``table.grant()`` would add every index."""
    role.add_to_principal_policy(
        iam.PolicyStatement(sid="SuppressionList", actions=list(actions), resources=[suppressions.table_arn])
    )
    grant_consent_key_read(role, consent_key)


def grant_consent_key_read(role: iam.IRole, consent_key: secretsmanager.ISecret) -> None:
    """A read of the environment's consent key, nothing else of it."""
    # GetSecretValue only (``grant_read`` adds DescribeSecret, which nothing calls).
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="ConsentKey", actions=["secretsmanager:GetSecretValue"], resources=[consent_key.secret_arn]
        )
    )
