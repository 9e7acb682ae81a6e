"""The tenant-events function (issue 13): fed by the conversations table's stream with bounded
retries and a failure destination, its role reads the stream, the project's record, puts event log
items and sends to the FIFO webhooks queue; its lag and failures raise alarms."""

from __future__ import annotations

import json
from typing import Any

from shared.tenant_events.settings import TenantEventsSettings
from tests.infra.template_queries import function, granted, grants_by_resource, one, resource_name, without_hash


def _tenant_events(synthesised) -> tuple[str, dict[str, Any]]:
    return function(synthesised.template("processors"), f"ai-multi-comms-tenant-events-{synthesised.settings.name}")


def _alarms(synthesised) -> dict[str, dict[str, Any]]:
    alarms = synthesised.template("processors").find_resources("AWS::CloudWatch::Alarm")
    return {a["Properties"]["AlarmName"]: a["Properties"] for a in alarms.values()}


def test_the_function_is_sized_by_the_environment_with_its_settings_rendered(synthesised):
    settings = synthesised.settings
    _, tenant_events = _tenant_events(synthesised)
    properties = tenant_events["Properties"]
    assert properties["Architectures"] == ["arm64"] and properties["Runtime"] == "python3.13"
    assert properties["MemorySize"] == settings.tenant_events.memory_mb
    assert properties["Timeout"] == settings.tenant_events.timeout_seconds
    variables = properties["Environment"]["Variables"]
    own = {name for name in variables if not name.startswith("POWERTOOLS_")}
    assert own == {
        "ENVIRONMENT",
        "COMPANY_TABLE_NAME",
        "WEBHOOK_EVENTS_TABLE_NAME",
        "WEBHOOK_QUEUE_URL",
        "CONVERSATION_RETENTION_DAYS",
    }
    assert own <= TenantEventsSettings.variable_names()
    assert variables["ENVIRONMENT"] == settings.name
    assert variables["CONVERSATION_RETENTION_DAYS"] == {"dev": "30", "prod": "400"}[settings.name]
    assert "WebhookEventsTable" in json.dumps(variables["WEBHOOK_EVENTS_TABLE_NAME"])
    assert "WebhooksQueue" in json.dumps(variables["WEBHOOK_QUEUE_URL"])
    assert "DeadLetterQueue" not in json.dumps(variables["WEBHOOK_QUEUE_URL"])


def test_the_conversations_stream_feeds_it_from_the_oldest_record_with_bisection_and_bounded_retries(synthesised):
    template = synthesised.template("processors")
    own = synthesised.settings.tenant_events
    function_id, _ = _tenant_events(synthesised)
    failures_id, _ = one(
        template, "AWS::SQS::Queue", {"QueueName": f"ai-multi-comms-tenant-events-dlq-{synthesised.settings.name}"}
    )
    [mapping] = [
        m["Properties"]
        for m in template.find_resources("AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": function_id}
    ]
    source = resource_name(mapping.pop("EventSourceArn"))
    assert without_hash(source.split("StreamArn")[0]) == "ConversationsTable" and "StreamArn" in source
    mapping.pop("Tags")
    assert mapping == {
        "FunctionName": {"Ref": function_id},
        "StartingPosition": "TRIM_HORIZON",
        "BatchSize": own.batch_size,
        "MaximumBatchingWindowInSeconds": own.max_batching_window_seconds,
        "BisectBatchOnFunctionError": True,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "MaximumRetryAttempts": own.retry_attempts,
        "MaximumRecordAgeInSeconds": own.max_record_age_seconds,
        "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": [failures_id, "Arn"]}}},
    }
    assert 0 < own.retry_attempts <= 100  # bounded: a poisoned record never holds its shard for a day
    assert own.batch_size == 100


def test_the_stream_failure_destination_is_an_encrypted_tls_only_standard_queue(synthesised):
    template = synthesised.template("processors")
    settings = synthesised.settings
    failures_id, failures = one(
        template, "AWS::SQS::Queue", {"QueueName": f"ai-multi-comms-tenant-events-dlq-{settings.name}"}
    )
    properties = failures["Properties"]
    assert properties["SqsManagedSseEnabled"] is True
    assert "FifoQueue" not in properties
    assert properties["MessageRetentionPeriod"] == settings.queues.dlq_retention_days * 24 * 3600
    [policy] = [
        p["Properties"]
        for p in template.find_resources("AWS::SQS::QueuePolicy").values()
        if p["Properties"]["Queues"] == [{"Ref": failures_id}]
    ]
    assert {
        "Action": "sqs:*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Resource": {"Fn::GetAtt": [failures_id, "Arn"]},
    } in policy["PolicyDocument"]["Statement"]


def test_the_role_reads_the_stream_and_the_project_puts_log_items_and_sends_to_the_webhooks_queue_only(synthesised):
    template = synthesised.template("processors")
    _, tenant_events = _tenant_events(synthesised)
    grants = grants_by_resource(template, tenant_events)
    assert {name: actions for name, actions in grants.items() if not name.endswith("Logs")} == {
        # The stream of the conversations table (its StreamArn), never the table's items.
        "ConversationsTable": {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"},
        "*": {"dynamodb:ListStreams"},  # no resource-level permission exists for it (acknowledged)
        "CompanyDataTable": {"dynamodb:GetItem"},
        "WebhookEventsTable": {"dynamodb:PutItem"},
        "WebhooksQueue": {"sqs:SendMessage"},
        # The event source's failure records (shard and sequence range).
        "TenantEventsStreamFailures": {"sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"},
    }
    stream_reads = granted(template, tenant_events)["dynamodb:GetRecords"]
    assert all("StreamArn" in name for name in stream_reads)


def test_the_consumer_falling_behind_giving_up_or_failing_alerts_the_critical_topic(synthesised):
    env = synthesised.settings.name
    function_id, _ = _tenant_events(synthesised)
    alarms = _alarms(synthesised)
    age = alarms[f"ai-multi-comms-tenant-events-iterator-age-{env}"]
    assert (age["Namespace"], age["MetricName"], age["Statistic"]) == ("AWS/Lambda", "IteratorAge", "Maximum")
    assert age["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": function_id}}]
    assert age["Threshold"] == 10 * 60 * 1000 and age["Unit"] == "Milliseconds"
    failures = alarms[f"ai-multi-comms-tenant-events-stream-failures-{env}"]
    assert (failures["Namespace"], failures["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert "TenantEventsStreamFailures" in json.dumps(failures["Dimensions"])
    errors = alarms[f"ai-multi-comms-tenant-events-errors-{env}"]
    assert (errors["Namespace"], errors["MetricName"]) == ("AWS/Lambda", "Errors")
    assert errors["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": function_id}}]
    for alarm in (age, failures, errors):
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert alarm["TreatMissingData"] == "notBreaching"
        assert "MonitoringCriticalAlerts" in json.dumps(alarm["AlarmActions"])
    assert failures["Threshold"] == errors["Threshold"] == 1
