"""The events queue (QueueStack) and the events processor (ProcessorStack) in both environments:
a queue timed for its consumer, a function fed in batches, a role that writes only what applying
an event needs, and the alarms that watch them."""

from __future__ import annotations

import json
from typing import Any

from shared.channels import Channel
from shared.events.settings import EventsSettings
from shared.processing import metric_names
from stacks.constructs.events_processor import REPLY_INDEXES
from tests.infra.template_queries import (
    function,
    granted,
    grants_by_resource,
    listed,
    resource_name,
    resources,
    role_statements,
    without_hash,
)


def _queue(template, name: str) -> tuple[str, dict[str, Any]]:
    found = template.find_resources("AWS::SQS::Queue", {"Properties": {"QueueName": name}})
    assert len(found) == 1, f"expected one queue named {name}"
    return next(iter(found.items()))


def _events_processor(synthesised) -> tuple[str, dict[str, Any]]:
    return function(synthesised.template("processors"), f"ai-multi-comms-events-processor-{synthesised.settings.name}")


def test_the_events_queue_redrives_to_its_dlq_and_outlives_six_processor_timeouts(synthesised):
    env = synthesised.settings.name
    settings = synthesised.settings
    template = synthesised.template("queues")
    dlq_id, dlq = _queue(template, f"ai-multi-comms-events-dlq-{env}")
    _, queue = _queue(template, f"ai-multi-comms-events-queue-{env}")

    assert queue["Properties"]["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
        "maxReceiveCount": settings.queues.max_receive_count,
    }
    # Its own consumer's timing, not the channel processors' 720 s.
    assert queue["Properties"]["VisibilityTimeout"] == settings.events.visibility_timeout_seconds
    assert settings.events.visibility_timeout_seconds >= 6 * settings.events.timeout_seconds
    assert settings.events.visibility_timeout_seconds < settings.queues.visibility_timeout_seconds
    assert queue["Properties"]["MessageRetentionPeriod"] == settings.queues.retention_days * 24 * 3600
    assert dlq["Properties"]["MessageRetentionPeriod"] == settings.queues.dlq_retention_days * 24 * 3600
    for properties in (queue["Properties"], dlq["Properties"]):
        assert properties["SqsManagedSseEnabled"] is True


def test_the_events_processor_is_an_arm64_function_with_its_settings_model_rendered(synthesised):
    _, processor = _events_processor(synthesised)
    properties = processor["Properties"]
    settings = synthesised.settings
    variables = properties["Environment"]["Variables"]

    assert properties["Architectures"] == ["arm64"] and properties["Runtime"] == "python3.13"
    assert (properties["MemorySize"], properties["Timeout"]) == (
        settings.events.memory_mb,
        settings.events.timeout_seconds,
    )
    assert {name for name in variables if not name.startswith("POWERTOOLS_")} <= EventsSettings.variable_names()
    assert variables["POWERTOOLS_SERVICE_NAME"] == "events-processor"
    assert variables["ENVIRONMENT"] == settings.name
    assert variables["VISIBILITY_TIMEOUT_SECONDS"] == str(settings.events.visibility_timeout_seconds)
    assert variables["MAX_RECEIVE_COUNT"] == str(settings.queues.max_receive_count)
    assert variables["CONVERSATION_RETENTION_DAYS"] == {"dev": "30", "prod": "400"}[settings.name]
    assert len(variables["PROCESSOR_VERSION"]) == 12
    assert without_hash(resource_name(variables["QUEUE_URL"])) == "EventsQueue"
    assert without_hash(resource_name(variables["DEAD_LETTER_QUEUE_URL"])) == "EventsDeadLetterQueue"
    assert without_hash(resource_name(variables["CONVERSATIONS_TABLE_NAME"])) == "ConversationsTable"
    assert without_hash(resource_name(variables["PROVIDER_MESSAGES_TABLE_NAME"])) == "ProviderMessagesTable"


def test_the_events_processor_reads_the_events_queue_in_batches_with_partial_batch_responses(synthesised):
    template = synthesised.template("processors")
    events = synthesised.settings.events
    function_id, _ = _events_processor(synthesised)
    [mapping] = [
        m["Properties"]
        for m in resources(template, "AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": function_id}
    ]
    assert without_hash(resource_name(mapping["EventSourceArn"])) == "EventsQueue"
    assert mapping["BatchSize"] == events.batch_size
    assert mapping["MaximumBatchingWindowInSeconds"] == events.max_batching_window_seconds
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": events.max_concurrency}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_the_events_processor_role_writes_only_what_applying_an_event_needs(synthesised):
    template = synthesised.template("processors")
    _, processor = _events_processor(synthesised)
    by_action = granted(template, processor)
    log_group = next(iter(by_action["logs:PutLogEvents"]))

    assert grants_by_resource(template, processor) == {
        without_hash(log_group): {"logs:CreateLogStream", "logs:PutLogEvents"},
        "EventsQueue": {
            "sqs:ReceiveMessage",
            "sqs:ChangeMessageVisibility",
            "sqs:GetQueueUrl",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
        },
        "EventsDeadLetterQueue": {"sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"},
        # Find the message, move its status forward, keep an event no message of that tenant has.
        "ProviderMessagesTable": {"dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:PutItem"},
        # The conversation's latest status and the person's messages, by key: no new record, no scan.
        "ConversationsTable": {"dynamodb:GetItem", "dynamodb:UpdateItem"},
        # The reply indexes only, to match the person's message to its conversation.
        **{f"<token>/index/{index}": {"dynamodb:Query"} for index in REPLY_INDEXES},
        # The project's record, to build the reply job.
        "CompanyDataTable": {"dynamodb:GetItem"},
        # The reply job, on the conversation's channel queue.
        **{f"{channel.value.capitalize()}Queue": {"sqs:SendMessage"} for channel in Channel},
        # Consent (issue 12): STOP/START and the providers' opt-out, bounce and spam events write
        # the person's entry by key; the key of its address hash is the only secret it reads.
        "SuppressionsTable": {"dynamodb:GetItem", "dynamodb:UpdateItem"},
        "ConsentKey": {"secretsmanager:GetSecretValue"},
    }
    assert "EventsProcessorLogs" in log_group
    assert not any(action.startswith("kms:") for action in by_action)
    assert "dynamodb:Scan" not in by_action


def test_the_events_processor_queries_the_reply_indexes_of_the_conversations_table_only(synthesised):
    template = synthesised.template("processors")
    _, processor = _events_processor(synthesised)
    [statement] = [s for s in role_statements(template, processor) if s["Action"] == "dynamodb:Query"]
    for resource in listed(statement["Resource"]):
        table, suffix = resource["Fn::Join"][1]
        assert without_hash(resource_name(table)) == "ConversationsTable"
        assert suffix.removeprefix("/index/") in REPLY_INDEXES
    assert len(listed(statement["Resource"])) == len(REPLY_INDEXES) == 4


def test_the_events_dlq_and_the_events_processors_failures_alert_the_critical_topic(synthesised):
    template = synthesised.template("processors")
    env = synthesised.settings.name
    alarms = {
        a["Properties"]["AlarmName"]: a["Properties"] for a in resources(template, "AWS::CloudWatch::Alarm").values()
    }
    topic_id = next(iter(resources(template, "AWS::SNS::Topic")))
    function_id, _ = _events_processor(synthesised)

    dlq = alarms[f"ai-multi-comms-events-dlq-messages-{env}"]
    assert (dlq["Namespace"], dlq["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    [dimension] = dlq["Dimensions"]
    assert without_hash(resource_name(dimension["Value"])) == "EventsDeadLetterQueue"
    errors = alarms[f"ai-multi-comms-events-processor-errors-{env}"]
    assert (errors["Namespace"], errors["MetricName"]) == ("AWS/Lambda", "Errors")
    assert errors["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": function_id}}]
    for alarm in (dlq, errors):
        assert alarm["Threshold"] == 1 and alarm["AlarmActions"] == [{"Ref": topic_id}]
    # Unknown messages' events are kept and counted, not alarmed (docs/decisions.md).
    assert metric_names.PROVIDER_EVENTS_UNMATCHED not in json.dumps(alarms)
