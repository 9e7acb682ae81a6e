"""The operations dashboard ``ai-multi-comms-<env>``: the engine's flow left to right, one row per
step and top to bottom in the order a request travels — requests, queues, messages per channel,
replies and opt-outs with the dead letters, the AI, the Lambda functions, then the webhook path
(providers' events in, tenants' webhooks out). What to do about an alarm is in docs/runbook.md."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct, IConstruct

from shared.channels import ALL_CHANNELS, Channel
from shared.processing import metric_names
from shared.tenant_webhooks import metric_names as webhook_metric_names
from stacks.constructs.dashboard_metrics import (
    PERCENTILES,
    PERIOD,
    engine_metric,
    lambda_metric,
    queue_metric,
    request_outcome,
    requests_by_error_code,
    service_counts,
)
from stacks.constructs.python_function import PythonFunction
from stacks.constructs.work_queue import WorkQueue
from stacks.names import EVENTS_PROCESSOR, WEBHOOK_INGRESS, WEBHOOK_SENDER, dashboard_name, processor_name

HEIGHT = 6


def engine_functions(*scopes: IConstruct) -> list[lambda_.Function]:
    """Every function of the engine under ``scopes``, in construction order: a function added
    later is on the dashboard without anyone remembering to put it there."""
    return [
        construct.function
        for scope in scopes
        for construct in scope.node.find_all()
        if isinstance(construct, PythonFunction)
    ]


class OperationsDashboard(Construct):
    dashboard: cloudwatch.Dashboard

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        env: str,
        api: apigw.RestApi,
        functions: Sequence[lambda_.Function],
        queues: Sequence[WorkQueue],
        stream_failures: sqs.Queue,
    ):
        """``queues``: every work queue (their DLQs are drawn too); ``stream_failures``: the
        tenant-events function's on-failure queue, the one DLQ that belongs to no work queue."""
        super().__init__(scope, construct_id)
        self._env = env
        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=dashboard_name(env))
        self.dashboard.add_widgets(self._guide())
        self.dashboard.add_widgets(*self._requests(api))
        self.dashboard.add_widgets(*self._queues([q.queue for q in queues]))
        self.dashboard.add_widgets(*(self._messages(channel) for channel in ALL_CHANNELS))
        dead_letter_queues = [q.dead_letter_queue for q in queues] + [stream_failures]
        self.dashboard.add_widgets(*self._replies_and_opt_outs(), self._dead_letters(dead_letter_queues))
        self.dashboard.add_widgets(*self._ai())
        self.dashboard.add_widgets(*self._lambdas(functions))
        self.dashboard.add_widgets(*self._webhook_path())

    def _guide(self) -> cloudwatch.TextWidget:
        return cloudwatch.TextWidget(
            markdown=(
                f"## AI Multi-Comms — {self._env}\n"
                "A request's way, row by row: the API and the router → the channel queues → what each "
                "channel wrote, sent and had delivered → replies, opt-outs and dead letters → the AI → "
                "the functions → the webhook path. **Alarms: what each means, what to look at and what "
                "to run is in `docs/runbook.md`** (the repository); the operator CLI is "
                f"`comms … --env {self._env}`."
            ),
            width=24,
            height=2,
        )

    def _requests(self, api: apigw.RestApi) -> list[cloudwatch.IWidget]:
        stage = api.deployment_stage
        return [
            _graph(
                "Requests by outcome (channel-router)",
                [request_outcome(outcome) for outcome in metric_names.REQUEST_OUTCOMES],
                width=8,
            ),
            _graph("Requests refused or failed, by error code", [requests_by_error_code()], width=8),
            _graph(
                "API Gateway 4xx / 5xx (stage)",
                [
                    stage.metric_client_error(period=PERIOD, statistic="Sum", label="4xx"),
                    stage.metric_server_error(period=PERIOD, statistic="Sum", label="5xx"),
                ],
                width=4,
            ),
            _graph(
                "API Gateway latency (stage, ms)",
                [stage.metric_latency(period=PERIOD, statistic=p, label=p) for p in PERCENTILES],
                width=4,
            ),
        ]

    def _queues(self, queues: Sequence[sqs.Queue]) -> list[cloudwatch.IWidget]:
        return [
            _graph(
                "Queue depth (messages visible)",
                [queue_metric(q, "ApproximateNumberOfMessagesVisible", env=self._env) for q in queues],
                width=12,
            ),
            _graph(
                "Age of the oldest message (s)",
                [queue_metric(q, "ApproximateAgeOfOldestMessage", env=self._env) for q in queues],
                width=12,
            ),
        ]

    def _messages(self, channel: Channel) -> cloudwatch.IWidget:
        """What the channel's processor wrote and sent, then what the provider reported of it."""
        processor = service_counts(
            processor_name(channel.value),
            metric_names.MESSAGES_WRITTEN,
            metric_names.MESSAGES_SENT,
            metric_names.PERMANENT_FAILURES,
        )
        reported: list[cloudwatch.IMetric] = [
            engine_metric(name, _events_of(channel), label=name)
            for name in (
                metric_names.MESSAGES_DELIVERED,
                metric_names.MESSAGES_READ,
                metric_names.MESSAGES_UNDELIVERED,
            )
        ]
        return _graph(f"Messages: {channel.value}", processor + reported, width=8)

    def _replies_and_opt_outs(self) -> list[cloudwatch.IWidget]:
        received = [
            engine_metric(metric_names.REPLIES_RECEIVED, _events_of(c), label=f"{c.value} received")
            for c in ALL_CHANNELS
        ]
        sent = [
            engine_metric(
                metric_names.REPLIES_SENT,
                {metric_names.SERVICE_DIMENSION: processor_name(c.value)},
                label=f"{c.value} sent",
            )
            for c in ALL_CHANNELS
        ]
        opt_outs = [engine_metric(metric_names.OPT_OUTS, _events_of(c), label=c.value) for c in ALL_CHANNELS]
        return [_graph("Replies received / sent", received + sent, width=8), _graph("Opt-outs", opt_outs, width=8)]

    def _dead_letters(self, queues: Sequence[sqs.Queue]) -> cloudwatch.IWidget:
        return _graph(
            "Dead-letter queues (messages visible)",
            [queue_metric(q, "ApproximateNumberOfMessagesVisible", env=self._env) for q in queues],
            width=8,
        )

    def _ai(self) -> list[cloudwatch.IWidget]:
        def per_channel(name: str, statistics: Sequence[str], what: str | None = None) -> list[cloudwatch.IMetric]:
            return [
                engine_metric(
                    name,
                    {metric_names.SERVICE_DIMENSION: processor_name(c.value)},
                    label=f"{c.value} {what or statistic}",
                    statistic=statistic,
                )
                for c in ALL_CHANNELS
                for statistic in statistics
            ]

        return [
            _graph("AI latency (ms)", per_channel(metric_names.AI_LATENCY, PERCENTILES), width=8),
            _graph(
                "AI tokens",
                per_channel(metric_names.AI_INPUT_TOKENS, ["Sum"], "input")
                + per_channel(metric_names.AI_OUTPUT_TOKENS, ["Sum"], "output"),
                width=8,
            ),
            _graph("Provider latency (ms)", per_channel(metric_names.PROVIDER_LATENCY, PERCENTILES), width=8),
        ]

    def _lambdas(self, functions: Sequence[lambda_.Function]) -> list[cloudwatch.IWidget]:
        def every(name: str, statistic: str) -> list[cloudwatch.IMetric]:
            return [lambda_metric(f, name, statistic=statistic, env=self._env) for f in functions]

        return [
            _graph("Lambda duration (p95, ms)", every("Duration", "p95"), width=6),
            _graph("Lambda errors", every("Errors", "Sum"), width=6),
            _graph("Lambda concurrent executions (max)", every("ConcurrentExecutions", "Maximum"), width=6),
            _graph("Lambda throttles", every("Throttles", "Sum"), width=6),
        ]

    def _webhook_path(self) -> list[cloudwatch.IWidget]:
        return [
            _graph(
                "Webhooks in (webhook-ingress)",
                service_counts(
                    WEBHOOK_INGRESS,
                    metric_names.WEBHOOK_ACCEPTED,
                    metric_names.WEBHOOK_REJECTED,
                    metric_names.WEBHOOK_SIGNATURE_REJECTED,
                ),
                width=8,
            ),
            _graph(
                "Provider events (events-processor)",
                service_counts(
                    EVENTS_PROCESSOR,
                    metric_names.PROVIDER_EVENTS_APPLIED,
                    metric_names.PROVIDER_EVENTS_IGNORED,
                    metric_names.PROVIDER_EVENTS_UNMATCHED,
                ),
                width=8,
            ),
            _graph(
                "Tenants' webhooks out (webhook-sender)",
                service_counts(
                    WEBHOOK_SENDER,
                    webhook_metric_names.WEBHOOKS_DELIVERED,
                    webhook_metric_names.WEBHOOK_DELIVERY_RETRIED,
                    webhook_metric_names.WEBHOOKS_DEAD_LETTERED,
                    webhook_metric_names.WEBHOOK_TARGET_REFUSED,
                ),
                width=8,
            ),
        ]


def _events_of(channel: Channel) -> dict[str, str]:
    """The events processor's per-channel dimensions."""
    return {metric_names.SERVICE_DIMENSION: EVENTS_PROCESSOR, metric_names.CHANNEL_DIMENSION: channel.value}


def _graph(title: str, metrics: Sequence[cloudwatch.IMetric], *, width: int) -> cloudwatch.GraphWidget:
    return cloudwatch.GraphWidget(title=title, left=list(metrics), width=width, height=HEIGHT)
