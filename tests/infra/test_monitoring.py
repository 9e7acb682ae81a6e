"""Issue 14's monitoring, asserted on both environments' templates (cdk.json) and on the opposite
tracing value: every alarm of the engine by name, the age of the oldest message of every work
queue, throttles of every function, and the X-Ray switch on every function and the API stage."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

import app as cdk_app
from stacks.settings import CDK_JSON, EnvironmentSettings, SettingsError, load_settings, settings_from_block
from tests.infra.conftest import ENVIRONMENTS, Synthesised, app_context, synthesised_env
from tests.infra.template_queries import alarms_by_name, resources

WORK_QUEUES = {
    "whatsapp": "ai-multi-comms-whatsapp-queue-{env}",
    "sms": "ai-multi-comms-sms-queue-{env}",
    "email": "ai-multi-comms-email-queue-{env}",
    "events": "ai-multi-comms-events-queue-{env}",
    "webhooks": "ai-multi-comms-webhooks-queue-{env}.fifo",
}
FUNCTIONS = {
    "api": ("channel-router", "conversation-reader", "webhook-ingress"),
    "processors": (
        "whatsapp-processor",
        "sms-processor",
        "email-processor",
        "events-processor",
        "tenant-events",
        "webhook-sender",
    ),
}
# Every alarm of the engine, old and new: a new alarm must be added here and to docs/runbook.md.
ALARMS = {
    "api": [
        "api-5xx",
        "router-errors",
        "reader-errors",
        "webhook-ingress-errors",
        "webhook-signatures-rejected",
        *(f"{function}-throttles" for function in FUNCTIONS["api"]),
    ],
    "processors": [
        *(
            f"{channel}-{what}"
            for channel in ("whatsapp", "sms", "email")
            for what in (
                "dlq-messages",
                "processor-errors",
                "oldest-message",
                "send-unconfirmed",
                "unexpected-failures",
                "content-check-failures",
            )
        ),
        "events-dlq-messages",
        "events-processor-errors",
        "events-oldest-message",
        "tenant-events-stream-failures",
        "tenant-events-errors",
        "tenant-events-iterator-age",
        "webhooks-dlq-messages",
        "webhooks-processor-errors",
        "webhooks-oldest-message",
        *(f"{function}-throttles" for function in FUNCTIONS["processors"]),
    ],
}


def alarms_of(synthesised: Synthesised, stack: str) -> dict[str, dict[str, Any]]:
    return alarms_by_name(synthesised.template(stack))


def _topic_action(synthesised: Synthesised, stack: str) -> list[Any]:
    """The critical-alerts topic as an alarm action of ``stack``: a Ref in its own stack, an import elsewhere."""
    if stack == "processors":
        topic_id = next(iter(resources(synthesised.template("processors"), "AWS::SNS::Topic")))
        return [{"Ref": topic_id}]
    [action] = next(iter(alarms_of(synthesised, stack).values()))["AlarmActions"]
    assert "MonitoringCriticalAlerts" in json.dumps(action)
    return [action]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_engine_has_exactly_these_alarms_in_each_environment(env):
    synthesised = synthesised_env(env)
    for stack in ("data", "queues"):
        assert alarms_of(synthesised, stack) == {}
    for stack, names in ALARMS.items():
        assert sorted(alarms_of(synthesised, stack)) == sorted(f"ai-multi-comms-{name}-{env}" for name in names)


@pytest.mark.parametrize("queue", WORK_QUEUES)
def test_the_oldest_message_of_each_work_queue_alarms_at_its_threshold_from_cdk_json(synthesised, queue):
    env = synthesised.settings.name
    alarm = alarms_of(synthesised, "processors")[f"ai-multi-comms-{queue}-oldest-message-{env}"]
    minutes = getattr(synthesised.settings.monitoring.oldest_message_alarm_minutes, queue)

    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == (
        "AWS/SQS", "ApproximateAgeOfOldestMessage", "Maximum"
    )  # fmt: skip
    [dimension] = alarm["Dimensions"]
    assert dimension["Name"] == "QueueName"
    queue_stack = synthesised.template("queues")
    [queue_id] = [
        logical_id
        for logical_id, q in resources(queue_stack, "AWS::SQS::Queue").items()
        if q["Properties"]["QueueName"] == WORK_QUEUES[queue].format(env=env)
    ]
    assert queue_id in json.dumps(dimension["Value"])  # the main queue, imported from the queue stack
    assert alarm["Threshold"] == minutes * 60 and alarm["Period"] == 300
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold" and alarm["EvaluationPeriods"] == 1
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["AlarmActions"] == _topic_action(synthesised, "processors")


def test_the_thresholds_sit_above_each_queues_own_retries(synthesised):
    thresholds = synthesised.settings.monitoring.oldest_message_alarm_minutes
    # A wake-up may wait 15 minutes in a channel queue (SQS's longest delay); the webhooks queue
    # holds an event through its sender's 24 h of retries plus the last one-hour backoff.
    assert min(thresholds.whatsapp, thresholds.sms, thresholds.email) * 60 > 900
    assert thresholds.events * 60 > 3 * synthesised.settings.events.visibility_timeout_seconds
    assert thresholds.webhooks * 60 > 25 * 3600


@pytest.mark.parametrize("stack", FUNCTIONS)
def test_every_function_alarms_on_its_throttles(synthesised, stack):
    env = synthesised.settings.name
    template = synthesised.template(stack)
    functions = {
        f["Properties"]["FunctionName"]: logical_id
        for logical_id, f in resources(template, "AWS::Lambda::Function").items()
    }
    assert sorted(functions) == sorted(f"ai-multi-comms-{name}-{env}" for name in FUNCTIONS[stack])
    alarms = alarms_of(synthesised, stack)
    for name in FUNCTIONS[stack]:
        alarm = alarms[f"ai-multi-comms-{name}-throttles-{env}"]
        assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == ("AWS/Lambda", "Throttles", "Sum")
        assert alarm["Dimensions"] == [
            {"Name": "FunctionName", "Value": {"Ref": functions[f"ai-multi-comms-{name}-{env}"]}}
        ]
        assert alarm["Threshold"] == synthesised.settings.monitoring.throttles_alarm_threshold == 1
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold" and alarm["Period"] == 300
        assert alarm["AlarmActions"] == _topic_action(synthesised, stack)


def test_every_alarm_description_ends_with_its_runbook_section(synthesised):
    env = synthesised.settings.name
    for name, alarm in synthesised.alarms().items():
        section = name.removesuffix(f"-{env}") + "-env"
        assert alarm["AlarmDescription"].endswith(f" Runbook: docs/runbook.md#{section}"), name


# -- X-Ray ---------------------------------------------------------------------------------------------
def _tracing(synthesised: Synthesised) -> tuple[set[str | None], set[bool | None]]:
    """The tracing mode of every function and whether the API stage traces."""
    modes = {
        (f["Properties"].get("TracingConfig") or {}).get("Mode")
        for stack in FUNCTIONS
        for f in resources(synthesised.template(stack), "AWS::Lambda::Function").values()
    }
    stages = {
        s["Properties"].get("TracingEnabled")
        for s in resources(synthesised.template("api"), "AWS::ApiGateway::Stage").values()
    }
    return modes, stages


def _with_tracing(settings: EnvironmentSettings, tracing: bool) -> EnvironmentSettings:
    monitoring = settings.monitoring.model_copy(update={"tracing": tracing})
    return settings.model_copy(update={"monitoring": monitoring})


def _synthesise(settings: EnvironmentSettings) -> Synthesised:
    app = cdk.App(context=app_context(settings.name))
    return Synthesised(settings=settings, engine=cdk_app.build(app, settings))


@pytest.mark.parametrize(("env", "tracing"), [("dev", True), ("prod", False)])
def test_cdk_json_switches_tracing_per_environment(env, tracing):
    assert load_settings(env).monitoring.tracing is tracing
    modes, stages = _tracing(synthesised_env(env))
    if tracing:
        assert (modes, stages) == ({"Active"}, {True})
    else:
        assert modes == {None} and stages <= {None, False}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_opposite_tracing_value_turns_every_function_and_the_stage_the_other_way(env):
    settings = load_settings(env)
    flipped = _synthesise(_with_tracing(settings, not settings.monitoring.tracing))

    modes, stages = _tracing(flipped)
    if settings.monitoring.tracing:
        assert modes == {None} and stages <= {None, False}
    else:
        assert (modes, stages) == ({"Active"}, {True})


def _xray_grants(synthesised: Synthesised) -> set[tuple[str, str]]:
    """(action, resource) of every X-Ray statement of every role of the engine."""
    return {
        (action, json.dumps(statement["Resource"]))
        for stack in FUNCTIONS
        for policy in resources(synthesised.template(stack), "AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        for action in (statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]])
        if action.startswith("xray:")
    }


def test_a_traced_function_may_only_write_trace_data_and_an_untraced_one_nothing(dev, prod):
    assert _xray_grants(dev) == {("xray:PutTraceSegments", '"*"'), ("xray:PutTelemetryRecords", '"*"')}
    assert _xray_grants(prod) == set()


# -- the monitoring block of cdk.json --------------------------------------------------------------------
def _block(env: str) -> dict[str, Any]:
    return json.loads(CDK_JSON.read_text())["context"]["environments"][env]


def test_an_environment_without_a_monitoring_block_is_refused_by_name():
    block = _block("dev")
    del block["monitoring"]
    with pytest.raises(SettingsError, match="monitoring: missing"):
        settings_from_block("dev", block)


def test_a_webhooks_threshold_inside_the_senders_retry_budget_is_refused():
    block = _block("prod")
    block["monitoring"]["oldest_message_alarm_minutes"]["webhooks"] = 24 * 60  # would fire on every outage
    with pytest.raises(SettingsError, match="webhook retry budget"):
        settings_from_block("prod", block)


def test_the_template_of_a_flipped_environment_is_otherwise_the_same_alarms(prod):
    flipped = _synthesise(_with_tracing(prod.settings, True))
    assert sorted(flipped.alarms()) == sorted(prod.alarms())
    assert Template.from_stack(flipped.engine.data).to_json() == prod.template("data").to_json()
