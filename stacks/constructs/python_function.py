"""A Python Lambda of the engine: arm64, bundled without Docker, its own role and log group."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from stacks.bundling import ARCHITECTURE, ROOT, RUNTIME, lambda_code
from stacks.names import physical_name
from stacks.settings import EnvironmentSettings

LAMBDAS = ROOT / "lambdas"


class PythonFunction(Construct):
    """``lambdas/<folder>/handler.py`` deployed as ``ai-multi-comms-<name>-<env>``.

    The role starts empty except for writing to its own log group; callers add grants, so every
    permission a function has is visible where the function is wired.
    """

    function: lambda_.Function
    role: iam.Role

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        folder: str,
        name: str,
        settings: EnvironmentSettings,
        memory_mb: int,
        timeout_seconds: int,
        environment: dict[str, str],
        description: str,
    ):
        super().__init__(scope, construct_id)
        function_name = physical_name(name, settings.name)
        removal = RemovalPolicy.RETAIN if settings.protection.removal_policy == "retain" else RemovalPolicy.DESTROY
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/aws/lambda/{function_name}",
            retention=logs.RetentionDays(_retention(settings.log_retention_days)),
            removal_policy=removal,
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Runs {function_name}",
        )
        self.log_group.grant_write(self.role)
        self.function = lambda_.Function(
            self,
            "Function",
            function_name=function_name,
            description=description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler="handler.handler",
            code=lambda_code(self, LAMBDAS / folder),
            memory_size=memory_mb,
            timeout=Duration.seconds(timeout_seconds),
            role=self.role,
            log_group=self.log_group,
            environment={
                "ENVIRONMENT": settings.name,
                "POWERTOOLS_SERVICE_NAME": name,
                "POWERTOOLS_METRICS_NAMESPACE": "AiMultiComms",
                "POWERTOOLS_LOG_LEVEL": settings.log_level,
                **environment,
            },
        )


def _retention(days: int) -> int:
    allowed = sorted(r.value for r in logs.RetentionDays if isinstance(r.value, int) and r.value > 0)
    if days not in allowed:
        raise ValueError(f"log_retention_days must be one of CloudWatch's values: {allowed}")
    return days
