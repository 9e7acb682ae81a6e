"""ProcessorStack in both environments: the functions and their event sources, each processor's
least-privilege role, the OpenAI key secrets and the critical alerts."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match

from shared.channels import Channel
from shared.processing import metric_names
from tests.infra.template_queries import (
    CONSENT_KEY_READ,
    consent_grants,
    granted,
    resource_name,
    role_statements,
    without_hash,
)

CHANNELS = list(Channel)


def _resources(template, kind: str) -> dict[str, dict[str, Any]]:
    return template.find_resources(kind)


def _function(template, channel: Channel, env: str) -> tuple[str, dict[str, Any]]:
    name = f"ai-multi-comms-{channel.value}-processor-{env}"
    [(logical_id, function)] = [
        (k, v)
        for k, v in _resources(template, "AWS::Lambda::Function").items()
        if v["Properties"]["FunctionName"] == name
    ]
    return logical_id, function


def _statements(template, channel: Channel, env: str) -> list[dict[str, Any]]:
    _, function = _function(template, channel, env)
    return role_statements(template, function)


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else action


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("channel", CHANNELS)
def test_each_channel_has_an_arm64_processor_sized_by_the_environment_settings(synthesised, channel):
    template = synthesised.template("processors")
    settings = synthesised.settings
    _, function = _function(template, channel, settings.name)
    properties = function["Properties"]

    assert properties["Architectures"] == ["arm64"] and properties["Runtime"] == "python3.13"
    assert properties["MemorySize"] == settings.processor.memory_mb
    assert properties["Timeout"] == settings.processor.timeout_seconds
    variables = properties["Environment"]["Variables"]
    assert variables["CHANNEL"] == channel.value
    assert variables["HEARTBEAT_INTERVAL_SECONDS"] == str(settings.processor.heartbeat_interval_seconds)
    assert variables["VISIBILITY_TIMEOUT_SECONDS"] == str(settings.queues.visibility_timeout_seconds)
    assert variables["CONVERSATION_RETENTION_DAYS"] == {"dev": "30", "prod": "400"}[settings.name]
    assert len(variables["PROCESSOR_VERSION"]) == 12
    assert "ConversationsTable" in json.dumps(variables["CONVERSATIONS_TABLE_NAME"])
    assert f"{channel.value.capitalize()}Queue" in json.dumps(variables["QUEUE_URL"])
    # The sandbox overrides are for the local stack only.
    assert not {"OPENAI_BASE_URL", "TWILIO_API_BASE_URL", "SENDGRID_API_HOST"} & set(variables)


@pytest.mark.parametrize("channel", CHANNELS)
def test_each_processor_reads_its_own_queue_in_batches_with_partial_batch_responses(synthesised, channel):
    template = synthesised.template("processors")
    processor = synthesised.settings.processor
    function_id, _ = _function(template, channel, synthesised.settings.name)

    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "FunctionName": {"Ref": function_id},
            "EventSourceArn": {"Fn::ImportValue": Match.string_like_regexp(f"{channel.value.capitalize()}Queue")},
            "BatchSize": processor.batch_size,
            "MaximumBatchingWindowInSeconds": processor.max_batching_window_seconds,
            "ScalingConfig": {"MaximumConcurrency": processor.max_concurrency},
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        },
    )


def test_there_is_one_event_source_per_queue_and_the_conversations_stream_and_no_other(synthesised):
    mappings = _resources(synthesised.template("processors"), "AWS::Lambda::EventSourceMapping").values()
    sources = sorted(without_hash(resource_name(m["Properties"]["EventSourceArn"])) for m in mappings)
    assert sources == [
        "ConversationsTable",  # its StreamArn: the tenant-events function (test_tenant_events.py)
        "EmailQueue",
        "EventsQueue",
        "SmsQueue",
        "WebhooksQueue",
        "WhatsappQueue",
    ]


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_processor_role_has_no_wildcard_action_and_no_unscoped_resource(synthesised, channel):
    for statement in _statements(synthesised.template("processors"), channel, synthesised.settings.name):
        assert statement["Effect"] == "Allow"
        assert not any("*" in action for action in _actions(statement)), statement
        assert "*" not in _listed(statement["Resource"]), statement


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_processor_reads_only_its_own_channels_secrets(synthesised, channel):
    env = synthesised.settings.name
    statements = _statements(synthesised.template("processors"), channel, env)
    secret_statements = [s for s in statements if any(a.startswith("secretsmanager:") for a in _actions(s))]
    # Its channel's secrets in one statement; the consent key in its own (test_a_processor_checks_…).
    [statement] = [s for s in secret_statements if s.get("Sid") != "ConsentKey"]
    assert _actions(statement) == ["secretsmanager:GetSecretValue"]
    resources = [json.dumps(r) for r in _listed(statement["Resource"])]
    assert len(resources) == 2
    assert any(f"secret:ai-multi-comms/openai-api-key/{channel.value}-{env}-??????" in r for r in resources)
    assert any(f"secret:ai-multi-comms/{channel.value}-credentials/*-{env}-??????" in r for r in resources)
    everything = json.dumps(statements)
    for other in set(CHANNELS) - {channel}:
        assert f"{other.value}-credentials" not in everything
        assert f"openai-api-key/{other.value}" not in everything


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_processor_consumes_only_its_own_queue_and_uses_only_its_two_tables(synthesised, channel):
    statements = _statements(synthesised.template("processors"), channel, synthesised.settings.name)

    sqs = [s for s in statements if any(a.startswith("sqs:") for a in _actions(s))]
    consume = [s for s in sqs if "sqs:ReceiveMessage" in _actions(s)]
    assert {a for s in consume for a in _actions(s)} == {
        "sqs:ReceiveMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueUrl",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
    }
    consumed = json.dumps([s["Resource"] for s in consume])
    assert f"{channel.value.capitalize()}Queue" in consumed and "DeadLetterQueue" not in consumed
    # The only other SQS right: putting a message that can never be processed on its own DLQ.
    dead_lettering = [s for s in sqs if s not in consume]
    assert {a for s in dead_lettering for a in _actions(s)} <= {
        "sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"
    }  # fmt: skip
    assert "DeadLetterQueue" in json.dumps([s["Resource"] for s in dead_lettering])
    sqs_resources = json.dumps([s["Resource"] for s in sqs])
    assert all(f"{o.value.capitalize()}Queue" not in sqs_resources for o in set(CHANNELS) - {channel})

    tables = _table_grants(synthesised.template("processors"), channel, synthesised.settings.name)
    assert tables == {
        "ConversationsTable": {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"},
        # Each send's message item: put once, read back once; never changed by the processor.
        "ProviderMessagesTable": {"dynamodb:GetItem", "dynamodb:PutItem"},
        # The check before the AI call and right before each send; the suppression a provider's
        # refusal writes (Twilio 21610 …). An entry by key: no Query, no index.
        "SuppressionsTable": {"dynamodb:GetItem", "dynamodb:UpdateItem"},
    }


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_processor_checks_and_writes_suppressions_by_key_and_reads_only_the_consent_key(synthesised, channel):
    template = synthesised.template("processors")
    _, function = _function(template, channel, synthesised.settings.name)
    assert consent_grants(template, function) == {
        "SuppressionsTable": {"dynamodb:GetItem", "dynamodb:UpdateItem"},
        **CONSENT_KEY_READ,
    }
    [key_statement] = [
        s for s in _statements(template, channel, synthesised.settings.name) if s.get("Sid") == "ConsentKey"
    ]
    assert _actions(key_statement) == ["secretsmanager:GetSecretValue"]
    assert without_hash(resource_name(key_statement["Resource"])) == "ConsentKey"


def _table_grants(template, channel: Channel, env: str) -> dict[str, set[str]]:
    """Table (logical id without its hash) -> the DynamoDB actions a processor's role has on it.
    An index (``/index/…``) would be a separate entry: no processor code queries one."""
    _, function = _function(template, channel, env)
    return _dynamodb_grants(template, function)


def _dynamodb_grants(template, function: dict[str, Any]) -> dict[str, set[str]]:
    tables: dict[str, set[str]] = {}
    for action, names in granted(template, function).items():
        if action.startswith("dynamodb:"):
            for name in names:
                tables.setdefault(without_hash(name), set()).add(action)
    return tables


def test_the_openai_key_secrets_exist_empty_and_follow_the_environments_removal_policy(synthesised):
    template = synthesised.template("processors")
    env = synthesised.settings.name
    secrets = _resources(template, "AWS::SecretsManager::Secret")
    expected_policy = "Retain" if synthesised.settings.protection.removal_policy == "retain" else "Delete"

    assert sorted(s["Properties"]["Name"] for s in secrets.values()) == sorted(
        f"ai-multi-comms/openai-api-key/{c.value}-{env}" for c in CHANNELS
    )
    for secret in secrets.values():
        assert json.loads(secret["Properties"]["SecretString"]) == {"ai_api_key": ""}
        assert secret["DeletionPolicy"] == expected_policy


def test_critical_alerts_go_to_an_encrypted_tls_only_topic_mailed_to_the_operators(synthesised):
    template = synthesised.template("processors")
    [(topic_id, topic)] = _resources(template, "AWS::SNS::Topic").items()

    assert topic["Properties"]["TopicName"] == f"ai-multi-comms-critical-alerts-{synthesised.settings.name}"
    assert "KmsMasterKeyId" in topic["Properties"]
    template.has_resource_properties(
        "AWS::SNS::Subscription",
        {"Protocol": "email", "Endpoint": synthesised.settings.alarm_email, "TopicArn": {"Ref": topic_id}},
    )
    template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                )
            }
        },
    )
    template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    [key] = _resources(template, "AWS::KMS::Key").values()
    [cloudwatch] = [
        statement
        for statement in key["Properties"]["KeyPolicy"]["Statement"]
        if statement["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    ]
    region = synthesised.settings.region
    assert cloudwatch["Condition"] == {
        "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
        # The partition and region are known at synthesis (the environment's region in cdk.json).
        "ArnLike": {
            "aws:SourceArn": {
                "Fn::Join": ["", [f"arn:aws:cloudwatch:{region}:", {"Ref": "AWS::AccountId"}, ":alarm:*"]]
            }
        },
    }


@pytest.mark.parametrize("channel", CHANNELS)
def test_dlq_depth_errors_unconfirmed_sends_and_refused_content_of_each_channel_raise_an_alarm(synthesised, channel):
    template = synthesised.template("processors")
    env = synthesised.settings.name
    alarms = {
        a["Properties"]["AlarmName"]: a["Properties"] for a in _resources(template, "AWS::CloudWatch::Alarm").values()
    }
    topic_id = next(iter(_resources(template, "AWS::SNS::Topic")))

    dlq = alarms[f"ai-multi-comms-{channel.value}-dlq-messages-{env}"]
    assert dlq["MetricName"] == "ApproximateNumberOfMessagesVisible" and dlq["Namespace"] == "AWS/SQS"
    assert "DeadLetterQueue" in json.dumps(dlq["Dimensions"])
    errors = alarms[f"ai-multi-comms-{channel.value}-processor-errors-{env}"]
    assert errors["MetricName"] == "Errors" and errors["Namespace"] == "AWS/Lambda"
    unconfirmed = alarms[f"ai-multi-comms-{channel.value}-send-unconfirmed-{env}"]
    assert (unconfirmed["Namespace"], unconfirmed["MetricName"]) == (metric_names.NAMESPACE, "SendUnconfirmed")
    assert unconfirmed["Dimensions"] == [{"Name": "service", "Value": f"{channel.value}-processor"}]
    content = alarms[f"ai-multi-comms-{channel.value}-content-check-failures-{env}"]
    assert (content["Namespace"], content["MetricName"]) == (metric_names.NAMESPACE, "ContentCheckFailures")
    assert content["Dimensions"] == [{"Name": "service", "Value": f"{channel.value}-processor"}]
    for alarm in (dlq, errors, unconfirmed, content):
        assert alarm["Threshold"] == 1 and alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert alarm["TreatMissingData"] == "notBreaching"
        assert alarm["AlarmActions"] == [{"Ref": topic_id}]
