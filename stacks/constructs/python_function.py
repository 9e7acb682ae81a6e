"""A Python Lambda of the engine: arm64, bundled without Docker, its own role and log group."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from stacks.bundling import ARCHITECTURE, ROOT, RUNTIME, lambda_code
from stacks.nag import acknowledge
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
    name: str  # ``<name>`` of ``ai-multi-comms-<name>-<env>``: its Powertools service, its alarms' prefix

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
        reserved_concurrency: int | None = None,
    ):
        super().__init__(scope, construct_id)
        self.name = name
        function_name = physical_name(name, settings.name)
        removal = RemovalPolicy.RETAIN if settings.protection.removal_policy == "retain" else RemovalPolicy.DESTROY
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/aws/lambda/{function_name}",
            retention=log_retention(settings.log_retention_days),
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
            reserved_concurrent_executions=reserved_concurrency,
            # monitoring.tracing of cdk.json: X-Ray segments of every invocation (init, duration,
            # errors), joined to the API stage's trace; no SDK inside the code (decisions, issue 14).
            tracing=lambda_.Tracing.ACTIVE if settings.monitoring.tracing else lambda_.Tracing.DISABLED,
            # ``environment`` is the function's settings model rendered (shared.function_environment).
            environment={
                "POWERTOOLS_SERVICE_NAME": name,
                "POWERTOOLS_METRICS_NAMESPACE": "AiMultiComms",
                "POWERTOOLS_LOG_LEVEL": settings.log_level,
                **environment,
            },
        )
        if settings.monitoring.tracing:
            acknowledge(
                self.role,
                "AwsSolutions-IAM5[Resource::*]",
                "Active tracing: CDK grants xray:PutTraceSegments and xray:PutTelemetryRecords, which "
                "X-Ray authorises on no narrower resource than '*' (they name no trace, group or "
                "sampling rule); the role may write trace data and nothing else on it.",
            )
        acknowledge(
            self.function,
            "AwsSolutions-L1",
            "DESIGN §3 pins one Python runtime for every function (3.13, with code kept valid on the "
            "3.11 of the local machines); moving to a newer runtime is a deliberate, tested change.",
        )


# The Python enum's values are member names ("TWO_WEEKS"), not days, so the days are listed here.
_RETENTION_DAYS = {
    1: "ONE_DAY", 3: "THREE_DAYS", 5: "FIVE_DAYS", 7: "ONE_WEEK", 14: "TWO_WEEKS", 30: "ONE_MONTH",
    60: "TWO_MONTHS", 90: "THREE_MONTHS", 120: "FOUR_MONTHS", 150: "FIVE_MONTHS", 180: "SIX_MONTHS",
    365: "ONE_YEAR", 400: "THIRTEEN_MONTHS", 545: "EIGHTEEN_MONTHS", 731: "TWO_YEARS", 1096: "THREE_YEARS",
    1827: "FIVE_YEARS", 2192: "SIX_YEARS", 2557: "SEVEN_YEARS", 2922: "EIGHT_YEARS", 3288: "NINE_YEARS",
    3653: "TEN_YEARS",
}  # fmt: skip


def log_retention(days: int) -> logs.RetentionDays:
    """``log_retention_days`` of the settings as CloudWatch's retention (one of its fixed values)."""
    if days not in _RETENTION_DAYS:
        raise ValueError(f"log_retention_days must be one of CloudWatch's values: {sorted(_RETENTION_DAYS)}")
    return logs.RetentionDays[_RETENTION_DAYS[days]]
