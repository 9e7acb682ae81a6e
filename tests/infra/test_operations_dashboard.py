"""The operations dashboard ``ai-multi-comms-<env>`` (issue 14): one per environment, its rows in
the order a request travels, and every metric of the telemetry contract, channel, queue, dead-letter
queue and function on it — enumerated from the templates, so a new one left off fails here."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_

from shared.channels import ALL_CHANNELS
from shared.processing import metric_names
from shared.tenant_webhooks import metric_names as webhook_metric_names
from stacks.constructs.dashboard_metrics import function_name
from tests.infra.conftest import Synthesised
from tests.infra.template_queries import joined, resources

STACKS = ("data", "queues", "processors", "api")

# Row by row, each left to right: the flow of issue 14's item 3, then the webhook path.
ROWS = [
    [
        "Requests by outcome (channel-router)",
        "Requests refused or failed, by error code",
        "API Gateway 4xx / 5xx (stage)",
        "API Gateway latency (stage, ms)",
    ],
    ["Queue depth (messages visible)", "Age of the oldest message (s)"],
    ["Messages: whatsapp", "Messages: sms", "Messages: email"],
    ["Replies received / sent", "Opt-outs", "Dead-letter queues (messages visible)"],
    ["AI latency (ms)", "AI tokens", "Provider latency (ms)"],
    [
        "Lambda duration (p95, ms)",
        "Lambda errors",
        "Lambda concurrent executions (max)",
        "Lambda throttles",
    ],
    ["Webhooks in (webhook-ingress)", "Provider events (events-processor)", "Tenants' webhooks out (webhook-sender)"],
]

# Issue 14's telemetry contract, and the processors' counts the brief puts on the dashboard.
CONTRACT_METRICS = {
    metric_names.REQUESTS,
    metric_names.MESSAGES_WRITTEN,
    metric_names.MESSAGES_SENT,
    metric_names.PERMANENT_FAILURES,
    metric_names.MESSAGES_DELIVERED,
    metric_names.MESSAGES_READ,
    metric_names.MESSAGES_UNDELIVERED,
    metric_names.REPLIES_RECEIVED,
    metric_names.REPLIES_SENT,
    metric_names.OPT_OUTS,
    metric_names.AI_LATENCY,
    metric_names.AI_INPUT_TOKENS,
    metric_names.AI_OUTPUT_TOKENS,
    metric_names.PROVIDER_LATENCY,
}


@dataclass(frozen=True)
class Line:
    """One line of a graph: a metric (namespace, name, dimensions, statistic) or an expression."""

    namespace: str | None = None
    name: str | None = None
    dimensions: dict[str, str] = field(default_factory=dict)
    stat: str | None = None
    label: str | None = None
    expression: str | None = None


def _line(entry: list[Any]) -> Line:
    options = entry[-1] if isinstance(entry[-1], dict) else {}
    values = [value for value in entry if not isinstance(value, dict)]
    if not values:
        return Line(label=options.get("label"), expression=options["expression"])
    namespace, name, *pairs = values
    dimensions = dict(zip(pairs[::2], pairs[1::2], strict=True))
    return Line(namespace, name, dimensions, options.get("stat"), options.get("label"))


@dataclass
class Dashboard:
    name: str
    stack: str
    widgets: list[dict[str, Any]]
    raw_body: Any

    def graphs(self) -> dict[str, list[Line]]:
        """Title -> its lines, for every graph widget."""
        return {
            w["properties"]["title"]: [_line(entry) for entry in w["properties"]["metrics"]]
            for w in self.widgets
            if w["type"] == "metric"
        }

    def rows(self) -> list[list[str]]:
        """The graphs' titles grouped by their row (y), each row left to right (x)."""
        by_row: dict[int, list[dict[str, Any]]] = {}
        for widget in self.widgets:
            if widget["type"] == "metric":
                by_row.setdefault(widget["y"], []).append(widget)
        return [[w["properties"]["title"] for w in sorted(by_row[y], key=lambda w: w["x"])] for y in sorted(by_row)]


_TEMPLATES: dict[str, dict[str, Mapping[str, Any]]] = {}


def _templates(synthesised: Synthesised) -> dict[str, Mapping[str, Any]]:
    env = synthesised.settings.name
    if env not in _TEMPLATES:
        _TEMPLATES[env] = {stack: synthesised.template(stack).to_json() for stack in STACKS}
    return _TEMPLATES[env]


def _of_type(synthesised: Synthesised, kind: str) -> list[tuple[str, dict[str, Any]]]:
    """(stack, properties) of every resource of ``kind`` in every stack of the environment."""
    return [
        (stack, resource["Properties"])
        for stack, template in _templates(synthesised).items()
        for resource in template["Resources"].values()
        if resource["Type"] == kind
    ]


def _dashboard(synthesised: Synthesised) -> Dashboard:
    [(stack, properties)] = _of_type(synthesised, "AWS::CloudWatch::Dashboard")
    body = json.loads(joined(properties["DashboardBody"]))
    return Dashboard(properties["DashboardName"], stack, body["widgets"], properties["DashboardBody"])


def _drawn(lines: list[Line], dimension: str) -> list[str]:
    return [line.dimensions[dimension] for line in lines]


def test_each_environment_has_one_operations_dashboard_in_the_stack_deployed_last(synthesised):
    dashboard = _dashboard(synthesised)  # exactly one across the four stacks
    assert dashboard.name == f"ai-multi-comms-{synthesised.settings.name}"
    assert dashboard.stack == "api"
    assert synthesised.engine.processors in synthesised.engine.api.dependencies


def test_the_rows_follow_a_request_left_to_right_under_a_pointer_to_the_runbook(synthesised):
    dashboard = _dashboard(synthesised)
    assert dashboard.rows() == ROWS
    [guide] = [w for w in dashboard.widgets if w["type"] == "text"]
    assert guide["y"] == 0 and guide["width"] == 24
    assert "docs/runbook.md" in guide["properties"]["markdown"]
    assert f"--env {synthesised.settings.name}" in guide["properties"]["markdown"]


def test_every_metric_of_the_telemetry_contract_is_drawn(synthesised):
    lines = [line for graph in _dashboard(synthesised).graphs().values() for line in graph]
    drawn = {line.name for line in lines if line.namespace == metric_names.NAMESPACE}
    expressions = " ".join(line.expression for line in lines if line.expression)
    searched = set(re.findall(r'MetricName="(\w+)"', expressions))
    assert CONTRACT_METRICS - drawn - searched == set()
    assert metric_names.REQUESTS in searched


def test_requests_are_counted_per_outcome_over_every_error_code(synthesised):
    graphs = _dashboard(synthesised).graphs()
    schema = "{AiMultiComms,error_code,outcome,service}"
    router = 'MetricName="Requests" service="channel-router"'
    outcomes = graphs["Requests by outcome (channel-router)"]
    assert [line.label for line in outcomes] == list(metric_names.REQUEST_OUTCOMES)
    for line in outcomes:
        # Summed over the error codes: one line per outcome, whatever codes the router adds.
        assert line.expression == f"SUM(SEARCH('{schema} {router} outcome=\"{line.label}\"', 'Sum', 300))"
    [by_code] = graphs["Requests refused or failed, by error code"]
    assert by_code.expression == f"SEARCH('{schema} {router} NOT error_code=\"none\"', 'Sum', 300)"


def test_the_api_graphs_show_the_stage_of_this_environment(synthesised):
    graphs = _dashboard(synthesised).graphs()
    env = synthesised.settings.name
    [(stage_id, _)] = resources(synthesised.template("api"), "AWS::ApiGateway::Stage").items()
    errors = graphs["API Gateway 4xx / 5xx (stage)"]
    latency = graphs["API Gateway latency (stage, ms)"]
    assert [(line.name, line.stat) for line in errors] == [("4XXError", "Sum"), ("5XXError", "Sum")]
    assert [(line.name, line.stat) for line in latency] == [("Latency", p) for p in ("p50", "p95", "p99")]
    for line in errors + latency:
        assert line.namespace == "AWS/ApiGateway"
        assert line.dimensions == {"ApiName": f"ai-multi-comms-api-{env}", "Stage": stage_id}


def test_every_channel_has_its_messages_replies_opt_outs_ai_and_provider_lines(synthesised):
    graphs = _dashboard(synthesised).graphs()

    def has(title: str, name: str, dimensions: dict[str, str], stat: str = "Sum") -> bool:
        return any(
            (line.namespace, line.name, line.dimensions, line.stat) == (metric_names.NAMESPACE, name, dimensions, stat)
            for line in graphs[title]
        )

    for channel in ALL_CHANNELS:
        processor = {"service": f"{channel.value}-processor"}
        events = {"service": "events-processor", "channel": channel.value}
        messages = f"Messages: {channel.value}"
        for name in (metric_names.MESSAGES_WRITTEN, metric_names.MESSAGES_SENT, metric_names.PERMANENT_FAILURES):
            assert has(messages, name, processor), (messages, name)
        for name in (metric_names.MESSAGES_DELIVERED, metric_names.MESSAGES_READ, metric_names.MESSAGES_UNDELIVERED):
            assert has(messages, name, events), (messages, name)
        assert has("Replies received / sent", metric_names.REPLIES_RECEIVED, events)
        assert has("Replies received / sent", metric_names.REPLIES_SENT, processor)
        assert has("Opt-outs", metric_names.OPT_OUTS, events)
        for percentile in ("p50", "p95", "p99"):
            assert has("AI latency (ms)", metric_names.AI_LATENCY, processor, percentile)
            assert has("Provider latency (ms)", metric_names.PROVIDER_LATENCY, processor, percentile)
        assert has("AI tokens", metric_names.AI_INPUT_TOKENS, processor)
        assert has("AI tokens", metric_names.AI_OUTPUT_TOKENS, processor)


def test_every_queue_and_every_dead_letter_queue_is_drawn(synthesised):
    graphs = _dashboard(synthesised).graphs()
    env = synthesised.settings.name
    names = [properties["QueueName"] for _, properties in _of_type(synthesised, "AWS::SQS::Queue")]
    dead_letter_queues = {name for name in names if "-dlq-" in name}
    work_queues = set(names) - dead_letter_queues
    assert {f"ai-multi-comms-webhooks-dlq-{env}.fifo", f"ai-multi-comms-tenant-events-dlq-{env}"} <= dead_letter_queues
    assert {f"ai-multi-comms-events-queue-{env}", f"ai-multi-comms-webhooks-queue-{env}.fifo"} <= work_queues
    assert len(work_queues) == len(ALL_CHANNELS) + 2

    for title, expected, metric in (
        ("Queue depth (messages visible)", work_queues, "ApproximateNumberOfMessagesVisible"),
        ("Age of the oldest message (s)", work_queues, "ApproximateAgeOfOldestMessage"),
        ("Dead-letter queues (messages visible)", dead_letter_queues, "ApproximateNumberOfMessagesVisible"),
    ):
        lines = graphs[title]
        assert sorted(_drawn(lines, "QueueName")) == sorted(expected), title
        assert {(line.namespace, line.name, line.stat) for line in lines} == {("AWS/SQS", metric, "Maximum")}


def test_every_function_of_the_engine_is_in_every_lambda_graph(synthesised):
    graphs = _dashboard(synthesised).graphs()
    functions = sorted(properties["FunctionName"] for _, properties in _of_type(synthesised, "AWS::Lambda::Function"))
    assert len(functions) == 9
    for title, metric, stat in (
        ("Lambda duration (p95, ms)", "Duration", "p95"),
        ("Lambda errors", "Errors", "Sum"),
        ("Lambda concurrent executions (max)", "ConcurrentExecutions", "Maximum"),
        ("Lambda throttles", "Throttles", "Sum"),
    ):
        lines = graphs[title]
        assert sorted(_drawn(lines, "FunctionName")) == functions, title
        assert {(line.namespace, line.name, line.stat) for line in lines} == {("AWS/Lambda", metric, stat)}


def test_the_webhook_path_shows_refusals_provider_events_and_tenants_webhooks(synthesised):
    graphs = _dashboard(synthesised).graphs()
    for title, service, names in (
        (
            "Webhooks in (webhook-ingress)",
            "webhook-ingress",
            [metric_names.WEBHOOK_ACCEPTED, metric_names.WEBHOOK_REJECTED, metric_names.WEBHOOK_SIGNATURE_REJECTED],
        ),
        (
            "Provider events (events-processor)",
            "events-processor",
            [
                metric_names.PROVIDER_EVENTS_APPLIED,
                metric_names.PROVIDER_EVENTS_IGNORED,
                metric_names.PROVIDER_EVENTS_UNMATCHED,
            ],
        ),
        (
            "Tenants' webhooks out (webhook-sender)",
            "webhook-sender",
            [
                webhook_metric_names.WEBHOOKS_DELIVERED,
                webhook_metric_names.WEBHOOK_DELIVERY_RETRIED,
                webhook_metric_names.WEBHOOKS_DEAD_LETTERED,
                webhook_metric_names.WEBHOOK_TARGET_REFUSED,
            ],
        ),
    ):
        assert [(line.name, line.dimensions, line.stat) for line in graphs[title]] == [
            (name, {"service": service}, "Sum") for name in names
        ]


def test_the_dashboard_imports_nothing_so_it_adds_no_export(synthesised):
    """Drawn from physical names: an export would block every later change to what it names."""
    body = json.dumps(_dashboard(synthesised).raw_body)
    assert "Fn::ImportValue" not in body
    tokens = set(re.findall(r'\{"Ref": "([^"]+)"\}', body))
    api_stage = set(resources(synthesised.template("api"), "AWS::ApiGateway::Stage"))
    assert tokens == {"AWS::Region"} | api_stage


def test_the_events_queue_name_stays_exported_for_the_processor_stacks_already_deployed(synthesised):
    """The old delivery dashboard imported it; removing the export first would fail QueueStack's deploy."""
    template = _templates(synthesised)["queues"]
    name = f"ai-multi-comms-events-queue-{synthesised.settings.name}"
    [queue_id] = [k for k, r in template["Resources"].items() if r["Properties"].get("QueueName") == name]
    exported = [output["Value"] for output in template["Outputs"].values() if "Export" in output]
    assert {"Fn::GetAtt": [queue_id, "QueueName"]} in exported


def test_a_function_without_a_name_of_its_own_cannot_be_drawn():
    stack = cdk.Stack(cdk.App(), "Unnamed")
    function = lambda_.Function(
        stack,
        "Anonymous",
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context): pass"),
    )
    with pytest.raises(ValueError, match="no physical name"):
        function_name(function)
