"""The read API (issue 13): ``GET /conversations`` and ``GET /conversations/{conversation_id}`` on
the same API and usage plan as initiate, proxied to the conversation reader, whose role reads a
project's record, conversations by key and through their two reading indexes, and the consent key."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared.reading.reader import ConversationReader
from shared.reading.settings import ReaderSettings
from shared.routing import cors
from tests.infra.template_queries import function, grants_by_resource, methods_by_path, one, resources

READ_PATHS = ("/conversations", "/conversations/{conversation_id}")


def _reader(synthesised) -> tuple[str, dict[str, Any]]:
    return function(synthesised.template("api"), f"ai-multi-comms-conversation-reader-{synthesised.settings.name}")


def _without_logs(grants: dict[str, set[str]]) -> dict[str, set[str]]:
    return {name: actions for name, actions in grants.items() if not all(a.startswith("logs:") for a in actions)}


@pytest.mark.parametrize("path", READ_PATHS)
def test_each_read_route_is_a_get_that_requires_an_api_key_and_proxies_to_the_reader(synthesised, path):
    template = synthesised.template("api")
    reader_id, _ = _reader(synthesised)
    get = methods_by_path(template)[(path, "GET")]
    assert get["ApiKeyRequired"] is True
    assert get["AuthorizationType"] == "NONE"
    assert get["Integration"]["Type"] == "AWS_PROXY"
    assert get["Integration"]["IntegrationHttpMethod"] == "POST"
    assert {"Fn::GetAtt": [reader_id, "Arn"]} in get["Integration"]["Uri"]["Fn::Join"][1]


@pytest.mark.parametrize("path", READ_PATHS)
def test_other_methods_on_a_read_route_get_405_naming_get_without_a_key(synthesised, path):
    methods = methods_by_path(synthesised.template("api"))
    assert {method for (p, method) in methods if p == path} == {"GET", "OPTIONS", "ANY"}
    any_method = methods[(path, "ANY")]
    assert any_method["ApiKeyRequired"] is False
    assert any_method["Integration"]["Type"] == "MOCK"
    (response,) = any_method["Integration"]["IntegrationResponses"]
    assert response["StatusCode"] == "405"
    # Word for word what the reader answers when a non-GET reaches it (the local gateway's path).
    reader = ConversationReader(directory=None, store=None, secrets=None, consent_key_secret_id="unused")
    answered = reader.answer({"resource": path, "httpMethod": "DELETE", "headers": {}})
    assert answered["statusCode"] == 405
    assert json.loads(response["ResponseTemplates"]["application/json"]) == json.loads(answered["body"])
    assert response["ResponseParameters"]["method.response.header.Allow"] == f"'{answered['headers']['Allow']}'"
    assert answered["headers"]["Allow"] == "GET, OPTIONS"
    assert response["ResponseParameters"]["method.response.header.Access-Control-Allow-Origin"] == "'*'"


@pytest.mark.parametrize("path", READ_PATHS)
def test_the_read_routes_preflight_allows_get(synthesised, path):
    options = methods_by_path(synthesised.template("api"))[(path, "OPTIONS")]
    assert options["ApiKeyRequired"] is False
    (response,) = options["Integration"]["IntegrationResponses"]
    assert response["ResponseParameters"]["method.response.header.Access-Control-Allow-Methods"] == "'GET,OPTIONS'"
    assert response["ResponseParameters"]["method.response.header.Access-Control-Allow-Headers"] == (
        f"'{','.join(cors.ALLOW_HEADERS)}'"
    )


def test_the_reads_are_on_the_one_stage_of_the_one_usage_plan(synthesised):
    template = synthesised.template("api")
    _, plan = one(template, "AWS::ApiGateway::UsagePlan")
    (stage,) = plan["Properties"]["ApiStages"]
    stage_id, _ = one(template, "AWS::ApiGateway::Stage")
    assert stage["Stage"] == {"Ref": stage_id}
    one(template, "AWS::ApiGateway::RestApi")  # the reads are not a second API outside the plan


def test_only_api_gateway_may_invoke_the_reader_and_only_for_the_two_gets(synthesised):
    template = synthesised.template("api")
    reader_id, _ = _reader(synthesised)
    sources = set()
    for permission in resources(template, "AWS::Lambda::Permission").values():
        properties = permission["Properties"]
        if properties["FunctionName"] != {"Fn::GetAtt": [reader_id, "Arn"]}:
            continue
        assert properties["Principal"] == "apigateway.amazonaws.com"
        parts = properties["SourceArn"]["Fn::Join"][1]
        sources.add("".join(part if isinstance(part, str) else "<ref>" for part in parts).rsplit("/<ref>/", 1)[1])
    assert sources == {"GET/conversations", "GET/conversations/*"}


def test_the_reader_is_an_arm64_function_sized_by_the_environment_with_its_settings_rendered(synthesised):
    settings = synthesised.settings
    _, reader = _reader(synthesised)
    properties = reader["Properties"]
    assert properties["Architectures"] == ["arm64"] and properties["Runtime"] == "python3.13"
    assert properties["MemorySize"] == settings.reader.memory_mb
    assert properties["Timeout"] == settings.reader.timeout_seconds
    variables = properties["Environment"]["Variables"]
    own = {name for name in variables if not name.startswith("POWERTOOLS_")}
    assert own == {"ENVIRONMENT", "COMPANY_TABLE_NAME", "CONVERSATIONS_TABLE_NAME", "CONSENT_KEY_SECRET_ID"}
    assert own <= ReaderSettings.variable_names()
    assert variables["ENVIRONMENT"] == settings.name
    assert variables["CONSENT_KEY_SECRET_ID"] == f"ai-multi-comms/consent-key-{settings.name}"
    assert "CompanyDataTable" in json.dumps(variables["COMPANY_TABLE_NAME"])
    assert "ConversationsTable" in json.dumps(variables["CONVERSATIONS_TABLE_NAME"])
    assert variables["POWERTOOLS_SERVICE_NAME"] == "conversation-reader"


def test_the_reader_role_reads_by_key_queries_only_the_two_reading_indexes_and_reads_only_the_consent_key(
    synthesised,
):
    template = synthesised.template("api")
    _, reader = _reader(synthesised)
    assert _without_logs(grants_by_resource(template, reader)) == {
        "CompanyDataTable": {"dynamodb:GetItem"},
        "ConversationsTable": {"dynamodb:GetItem"},
        "<token>/index/conversation-id-index": {"dynamodb:Query"},
        "<token>/index/project-created-at-index": {"dynamodb:Query"},
        "ConsentKey": {"secretsmanager:GetSecretValue"},
    }


def test_reader_failures_alert_the_critical_topic(synthesised):
    env = synthesised.settings.name
    reader_id, _ = _reader(synthesised)
    alarms = synthesised.template("api").find_resources("AWS::CloudWatch::Alarm")
    [alarm] = [
        a["Properties"]
        for a in alarms.values()
        if a["Properties"]["AlarmName"] == f"ai-multi-comms-reader-errors-{env}"
    ]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/Lambda", "Errors")
    assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": reader_id}}]
    assert alarm["Threshold"] == 1 and alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert "MonitoringCriticalAlerts" in json.dumps(alarm["AlarmActions"])
