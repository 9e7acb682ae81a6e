"""The metrics the operations dashboard draws, built from physical names rather than from the
resources' tokens: a token of another stack (a function's or a queue's name) would become a
CloudFormation export, and an export in use blocks every later change of the resource behind it."""

from __future__ import annotations

from typing import cast

from aws_cdk import Duration, Token
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs

from shared.processing import metric_names
from stacks.names import PREFIX

PERIOD = Duration.minutes(5)
PERCENTILES = ("p50", "p95", "p99")


def function_name(function: lambda_.Function) -> str:
    """The name the function was given (``ai-multi-comms-<name>-<env>``), not its ``Ref``."""
    return _literal(cast(lambda_.CfnFunction, function.node.default_child).function_name, function.node.path)


def queue_name(queue: sqs.Queue) -> str:
    """The name the queue was given (``….fifo`` for a FIFO queue), not its ``GetAtt QueueName``."""
    return _literal(cast(sqs.CfnQueue, queue.node.default_child).queue_name, queue.node.path)


def _literal(name: str | None, path: str) -> str:
    if name is None or Token.is_unresolved(name):
        raise ValueError(f"{path} has no physical name of its own: the dashboard draws named resources only")
    return name


def short_label(physical_name: str, env: str) -> str:
    """``ai-multi-comms-sms-queue-dev`` -> ``sms-queue``: the legend's label."""
    return physical_name.removeprefix(f"{PREFIX}-").replace(f"-{env}", "")


def engine_metric(name: str, dimensions: dict[str, str], *, label: str, statistic: str = "Sum") -> cloudwatch.Metric:
    """One of the engine's own metrics (namespace ``AiMultiComms``, Powertools EMF)."""
    return cloudwatch.Metric(
        namespace=metric_names.NAMESPACE,
        metric_name=name,
        dimensions_map=dimensions,
        label=label,
        period=PERIOD,
        statistic=statistic,
    )


def service_counts(service: str, *names: str) -> list[cloudwatch.IMetric]:
    """Counts a function emits with its service dimension only, labelled by metric name."""
    return [engine_metric(name, {metric_names.SERVICE_DIMENSION: service}, label=name) for name in names]


def request_outcome(outcome: str) -> cloudwatch.MathExpression:
    """The router's requests of one outcome, summed over every error code. A search, because the
    metric's third dimension (error_code) takes values the dashboard should not have to list."""
    condition = f'{metric_names.OUTCOME_DIMENSION}="{outcome}"'
    return cloudwatch.MathExpression(
        expression=f"SUM({_requests_search(condition)})",
        label=outcome,
        period=PERIOD,
    )


def requests_by_error_code() -> cloudwatch.MathExpression:
    """One line per error code of refused or failed requests (CloudWatch labels them by dimension)."""
    return cloudwatch.MathExpression(
        expression=_requests_search(f'NOT {metric_names.ERROR_CODE_DIMENSION}="{metric_names.NO_ERROR_CODE}"'),
        period=PERIOD,
    )


def _requests_search(condition: str) -> str:
    schema = ",".join(
        (
            metric_names.NAMESPACE,
            metric_names.ERROR_CODE_DIMENSION,
            metric_names.OUTCOME_DIMENSION,
            metric_names.SERVICE_DIMENSION,
        )
    )
    return (
        f'SEARCH(\'{{{schema}}} MetricName="{metric_names.REQUESTS}" '
        f'{metric_names.SERVICE_DIMENSION}="{metric_names.ROUTER_SERVICE}" {condition}\', '
        f"'Sum', {int(PERIOD.to_seconds())})"
    )


def queue_metric(queue: sqs.Queue, name: str, *, env: str) -> cloudwatch.Metric:
    """An SQS metric of ``queue`` at its worst in the period (depth and age are levels, not counts)."""
    return _aws_metric("AWS/SQS", name, "QueueName", queue_name(queue), statistic="Maximum", env=env)


def lambda_metric(function: lambda_.Function, name: str, *, statistic: str, env: str) -> cloudwatch.Metric:
    return _aws_metric("AWS/Lambda", name, "FunctionName", function_name(function), statistic=statistic, env=env)


def _aws_metric(
    namespace: str, name: str, dimension: str, physical_name: str, *, statistic: str, env: str
) -> cloudwatch.Metric:
    """A service's metric of one named resource, labelled by the name without prefix and environment."""
    return cloudwatch.Metric(
        namespace=namespace,
        metric_name=name,
        dimensions_map={dimension: physical_name},
        label=short_label(physical_name, env),
        period=PERIOD,
        statistic=statistic,
    )
