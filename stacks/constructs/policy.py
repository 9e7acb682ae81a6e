"""One explicit IAM statement on a function's role: the least-privilege grants name their actions and
resources themselves (a table's ``grant_*`` would add every index, a queue's every action)."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_iam as iam


def allow(role: iam.IRole, *, sid: str, actions: Sequence[str], resources: Sequence[str]) -> None:
    role.add_to_principal_policy(iam.PolicyStatement(sid=sid, actions=list(actions), resources=list(resources)))
