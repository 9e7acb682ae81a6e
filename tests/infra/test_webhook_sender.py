"""The webhook sender (issue 13): fed by the FIFO webhooks queue with partial batch responses, its
role reads the project's record and any webhook signing secret of its environment, updates event
log items and moves messages to the FIFO DLQ; local targets are never allowed in AWS."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared.tenant_webhooks.settings import WebhookSenderSettings
from stacks.constructs.webhook_sender import check_request_budget
from tests.infra.template_queries import function, granted, grants_by_resource, resource_name, without_hash


def _sender(synthesised) -> tuple[str, dict[str, Any]]:
    return function(synthesised.template("processors"), f"ai-multi-comms-webhook-sender-{synthesised.settings.name}")


def test_the_sender_is_sized_by_the_environment_with_its_settings_rendered_and_no_local_targets(synthesised):
    settings = synthesised.settings
    _, sender = _sender(synthesised)
    properties = sender["Properties"]
    assert properties["Architectures"] == ["arm64"] and properties["Runtime"] == "python3.13"
    assert properties["MemorySize"] == settings.webhook_sender.memory_mb
    assert properties["Timeout"] == settings.webhook_sender.timeout_seconds
    variables = properties["Environment"]["Variables"]
    own = {name for name in variables if not name.startswith("POWERTOOLS_")}
    assert own == {
        "ENVIRONMENT",
        "COMPANY_TABLE_NAME",
        "WEBHOOK_EVENTS_TABLE_NAME",
        "WEBHOOK_QUEUE_URL",
        "WEBHOOK_DLQ_URL",
    }
    assert own <= WebhookSenderSettings.variable_names()
    # http:// and loopback targets are the local stack's alone: in AWS the variable does not exist.
    assert "WEBHOOK_ALLOW_LOCAL_TARGETS" not in variables
    assert variables["ENVIRONMENT"] == settings.name
    queue, dlq = json.dumps(variables["WEBHOOK_QUEUE_URL"]), json.dumps(variables["WEBHOOK_DLQ_URL"])
    assert "WebhooksQueue" in queue and "DeadLetterQueue" not in queue
    assert "WebhooksDeadLetterQueue" in dlq


def test_the_sender_reads_the_fifo_queue_in_batches_of_ten_with_partial_batch_responses(synthesised):
    template = synthesised.template("processors")
    function_id, _ = _sender(synthesised)
    [mapping] = [
        m["Properties"]
        for m in template.find_resources("AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": function_id}
    ]
    assert without_hash(resource_name(mapping["EventSourceArn"])) == "WebhooksQueue"
    assert mapping["BatchSize"] == 10
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": synthesised.settings.webhook_sender.max_concurrency}
    assert "MaximumBatchingWindowInSeconds" not in mapping  # FIFO queues have none


def test_the_sender_role_has_exactly_what_a_delivery_needs(synthesised):
    template = synthesised.template("processors")
    env = synthesised.settings.name
    _, sender = _sender(synthesised)
    grants = grants_by_resource(template, sender)
    region = synthesised.settings.region
    assert {name: actions for name, actions in grants.items() if not name.endswith("Logs")} == {
        "CompanyDataTable": {"dynamodb:GetItem"},
        "WebhookEventsTable": {"dynamodb:UpdateItem"},
        # Receive and delete (the event source), delay for the retry backoff.
        "WebhooksQueue": {
            "sqs:ReceiveMessage",
            "sqs:ChangeMessageVisibility",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
            "sqs:GetQueueUrl",
        },
        # Given up (retry window over, 4xx, refused address, no webhook): to the DLQ at once.
        "WebhooksDeadLetterQueue": {"sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"},
        f"arn:aws:secretsmanager:{region}:<token>:secret:ai-multi-comms/webhook-secrets/*-{env}-??????": {
            "secretsmanager:GetSecretValue"
        },
    }
    secrets = granted(template, sender)["secretsmanager:GetSecretValue"]
    assert not any("credentials" in s or "consent-key" in s or "openai" in s for s in secrets)


def test_the_processors_and_the_events_processor_cannot_read_webhook_signing_secrets(synthesised):
    template = synthesised.template("processors")
    everything_else = [
        f
        for f in template.find_resources("AWS::Lambda::Function").values()
        if "webhook-sender" not in f["Properties"]["FunctionName"]
    ]
    for other in everything_else:
        assert "webhook-secrets" not in str(granted(template, other)), other["Properties"]["FunctionName"]


def test_a_function_timeout_shorter_than_a_batch_of_post_timeouts_is_refused():
    check_request_budget(60, 10, 5.0)
    with pytest.raises(ValueError, match=r"webhook_sender\.timeout_seconds"):
        check_request_budget(50, 10, 5.0)


def test_a_dead_lettered_webhook_or_a_failing_sender_alerts_the_critical_topic(synthesised):
    env = synthesised.settings.name
    function_id, _ = _sender(synthesised)
    alarms = synthesised.template("processors").find_resources("AWS::CloudWatch::Alarm")
    by_name = {a["Properties"]["AlarmName"]: a["Properties"] for a in alarms.values()}
    dlq = by_name[f"ai-multi-comms-webhooks-dlq-messages-{env}"]
    assert (dlq["Namespace"], dlq["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert "WebhooksDeadLetterQueue" in json.dumps(dlq["Dimensions"])
    errors = by_name[f"ai-multi-comms-webhooks-processor-errors-{env}"]
    assert errors["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": function_id}}]
    for alarm in (dlq, errors):
        assert alarm["Threshold"] == 1 and "MonitoringCriticalAlerts" in json.dumps(alarm["AlarmActions"])
