"""cdk-nag (AwsSolutions) on the whole app; acknowledgments go through ``acknowledge`` with a reason."""

from __future__ import annotations

from aws_cdk import Acknowledgment, App, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct


def enable_nag(app: App) -> None:
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge one AwsSolutions rule for ``scope`` and everything under it."""
    if len(reason.strip()) < 20:
        raise ValueError(f"acknowledging {rule_id} needs a real reason")
    Validations.of(scope).acknowledge(Acknowledgment(id=rule_id, reason=reason))
