"""ApiStack: the API contract API Gateway enforces, its logging, and the router's permissions (the
webhook routes: test_webhook_routes.py)."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Match

from shared.routing import cors
from shared.routing.gateway_contract import GATEWAY_ERRORS, METHOD_NOT_ALLOWED, RESOURCE_PATH, request_body_schema
from tests.infra.template_queries import CONSENT_KEY_READ, consent_grants, granted, methods_by_path, one, resources


def _method(template, http_method: str, path: str = f"/{RESOURCE_PATH.strip('/')}") -> dict[str, Any]:
    return methods_by_path(template)[(path, http_method)]


def _router_function(template) -> tuple[str, dict[str, Any]]:
    [(logical_id, function)] = [
        (k, v)
        for k, v in resources(template, "AWS::Lambda::Function").items()
        if v["Properties"]["FunctionName"].startswith("ai-multi-comms-channel-router-")
    ]
    return logical_id, function


def test_rest_api_and_stage_are_named_after_the_environment(synthesised):
    template = synthesised.template("api")
    env = synthesised.settings.name
    template.has_resource_properties("AWS::ApiGateway::RestApi", {"Name": f"ai-multi-comms-api-{env}"})
    template.has_resource_properties("AWS::ApiGateway::Stage", {"StageName": env})


def test_post_initiate_conversation_requires_an_api_key_and_proxies_to_the_router(synthesised):
    template = synthesised.template("api")
    router_id, _ = _router_function(template)
    template.has_resource_properties("AWS::ApiGateway::Resource", {"PathPart": "initiate-conversation"})
    post = _method(template, "POST")
    assert post["ApiKeyRequired"] is True
    assert post["Integration"]["Type"] == "AWS_PROXY"
    assert {"Fn::GetAtt": [router_id, "Arn"]} in post["Integration"]["Uri"]["Fn::Join"][1]


def test_only_post_reaches_the_router_other_methods_get_405_without_a_key(synthesised):
    template = synthesised.template("api")
    methods = {method for (path, method) in methods_by_path(template) if path == "/initiate-conversation"}
    assert methods == {"POST", "OPTIONS", "ANY"}
    any_method = _method(template, "ANY")
    assert any_method["ApiKeyRequired"] is False
    assert any_method["Integration"]["Type"] == "MOCK"
    (response,) = any_method["Integration"]["IntegrationResponses"]
    assert response["StatusCode"] == "405"
    assert json.loads(response["ResponseTemplates"]["application/json"]) == METHOD_NOT_ALLOWED.body()
    assert response["ResponseParameters"]["method.response.header.Allow"] == "'OPTIONS, POST'"
    assert response["ResponseParameters"]["method.response.header.Access-Control-Allow-Origin"] == "'*'"


def test_cors_preflight_answers_options_without_a_key_with_the_shared_headers(synthesised):
    options = _method(synthesised.template("api"), "OPTIONS")
    assert options["ApiKeyRequired"] is False
    assert options["Integration"]["Type"] == "MOCK"
    (response,) = options["Integration"]["IntegrationResponses"]
    assert response["ResponseParameters"] == {
        f"method.response.header.{name}": f"'{value}'" for name, value in cors.preflight_headers().items()
    }


def test_gateway_errors_answer_in_the_engine_envelope_with_cors_headers(synthesised):
    template = synthesised.template("api")
    responses = {
        r["Properties"]["ResponseType"]: r["Properties"]
        for r in resources(template, "AWS::ApiGateway::GatewayResponse").values()
    }
    assert set(responses) == {error.response_type for error in GATEWAY_ERRORS}
    for error in GATEWAY_ERRORS:
        rendered = responses[error.response_type]
        assert json.loads(rendered["ResponseTemplates"]["application/json"]) == error.body()
        assert rendered.get("StatusCode") == (None if error.status is None else str(error.status))
        prefix = "gatewayresponse.header."
        headers = {name.removeprefix(prefix): value for name, value in rendered["ResponseParameters"].items()}
        assert headers["Access-Control-Allow-Origin"] == "'*'"
        assert headers == {name: f"'{value}'" for name, value in error.all_headers().items()}
    assert responses["BAD_REQUEST_BODY"]["StatusCode"] == "400"
    assert "INVALID_REQUEST" in responses["BAD_REQUEST_BODY"]["ResponseTemplates"]["application/json"]
    assert responses["THROTTLED"]["ResponseParameters"]["gatewayresponse.header.Retry-After"] == "'1'"


def test_post_bodies_of_every_content_type_are_validated_against_the_model_from_the_request_model(synthesised):
    template = synthesised.template("api")
    # "$default": API Gateway checks bodies of every Content-Type (text/plain too), as the local
    # gateway does; a model mapped to application/json alone would let text/plain through unchecked.
    model_id, model = one(template, "AWS::ApiGateway::Model", {"ContentType": "$default"})
    assert model["Properties"]["Schema"] == request_body_schema()
    validator_id, _ = one(
        template, "AWS::ApiGateway::RequestValidator", {"ValidateRequestBody": True, "ValidateRequestParameters": True}
    )
    post = _method(template, "POST")
    assert post["RequestModels"] == {"$default": {"Ref": model_id}}
    assert post["RequestValidatorId"] == {"Ref": validator_id}


def test_usage_plan_throttles_each_key_with_the_environment_settings_and_no_key_is_infrastructure(synthesised):
    template = synthesised.template("api")
    api = synthesised.settings.api
    _, plan = one(template, "AWS::ApiGateway::UsagePlan")
    throttle = {"RateLimit": api.throttle_rate_limit, "BurstLimit": api.throttle_burst_limit}
    assert plan["Properties"]["Throttle"] == throttle
    assert plan["Properties"]["UsagePlanName"] == f"ai-multi-comms-usage-plan-{synthesised.settings.name}"
    (stage,) = plan["Properties"]["ApiStages"]
    stage_id, _ = one(template, "AWS::ApiGateway::Stage")
    assert stage["Stage"] == {"Ref": stage_id}
    template.resource_count_is("AWS::ApiGateway::ApiKey", 0)
    template.resource_count_is("AWS::ApiGateway::UsagePlanKey", 0)


def test_dev_throttles_keys_at_10_rps_with_bursts_of_20(dev):
    _, plan = one(dev.template("api"), "AWS::ApiGateway::UsagePlan")
    assert plan["Properties"]["Throttle"] == {"RateLimit": 10, "BurstLimit": 20}


def test_stage_writes_json_access_logs_with_the_request_id_and_execution_logs_and_metrics(synthesised):
    template = synthesised.template("api")
    _, stage = one(template, "AWS::ApiGateway::Stage")
    access = stage["Properties"]["AccessLogSetting"]
    line = json.loads(access["Format"])
    assert line["requestId"] == "$context.requestId"
    assert not any("apiKey" in value for value in line.values())
    log_group_id, _ = one(template, "AWS::Logs::LogGroup", {"LogGroupName": Match.string_like_regexp("apigateway")})
    assert {"Ref": log_group_id} in access["DestinationArn"]["Fn::Join"][1]
    # The stage's own settings, and each webhook route's (its throttle), which repeat them.
    method_settings = stage["Properties"]["MethodSettings"]
    assert method_settings[0]["ResourcePath"] == "/*"
    for settings in method_settings:
        assert settings["LoggingLevel"] == "INFO"
        assert settings["MetricsEnabled"] is True
        # Never data tracing (whole bodies, personal data, in the execution log), in dev as in prod.
        assert settings["DataTraceEnabled"] is False
    # Execution logs need API Gateway's account-level CloudWatch role.
    template.resource_count_is("AWS::ApiGateway::Account", 1)


def test_prod_never_traces_request_and_response_bodies(prod):
    _, stage = one(prod.template("api"), "AWS::ApiGateway::Stage")
    assert all(settings["DataTraceEnabled"] is False for settings in stage["Properties"]["MethodSettings"])


def test_stack_outputs_the_invoke_url_of_the_stage(synthesised):
    outputs = synthesised.template("api").find_outputs("ApiUrl")
    joined = outputs["ApiUrl"]["Value"]["Fn::Join"][1]
    assert joined[0] == "https://"
    assert ".execute-api." in joined[2]
    assert joined[-1] == "/"


def test_router_is_an_arm64_function_named_after_the_environment_with_its_settings(synthesised):
    _, function = _router_function(synthesised.template("api"))
    properties = function["Properties"]
    assert properties["FunctionName"] == f"ai-multi-comms-channel-router-{synthesised.settings.name}"
    assert properties["Architectures"] == ["arm64"]
    assert properties["Runtime"] == "python3.13"
    assert properties["Timeout"] == synthesised.settings.router.timeout_seconds
    variables = properties["Environment"]["Variables"]
    assert {
        "COMPANY_TABLE_NAME",
        "RATE_LIMIT_TABLE_NAME",
        "WHATSAPP_QUEUE_URL",
        "SMS_QUEUE_URL",
        "EMAIL_QUEUE_URL",
        "ROUTER_VERSION",
    } <= set(variables)


def test_router_role_can_only_read_one_company_item_count_requests_send_to_queues_and_log(synthesised):
    template = synthesised.template("api")
    _, function = _router_function(template)
    by_action = granted(template, function)
    router_logs = {"LogGroupName": Match.string_like_regexp("channel-router")}
    log_group_id, _ = one(template, "AWS::Logs::LogGroup", router_logs)
    assert set(by_action) == {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "sqs:SendMessage",
        "secretsmanager:GetSecretValue",
    }
    assert by_action["logs:CreateLogStream"] == by_action["logs:PutLogEvents"] == {log_group_id}
    company_table, suppressions_table = sorted(by_action["dynamodb:GetItem"])
    assert company_table.startswith("CompanyDataTable")
    # The 409 RECIPIENT_OPTED_OUT check: one entry by key, never a write, never the company's list.
    assert suppressions_table.startswith("SuppressionsTable")
    assert consent_grants(template, function) == {"SuppressionsTable": {"dynamodb:GetItem"}, **CONSENT_KEY_READ}
    (rate_limit_table,) = by_action["dynamodb:UpdateItem"]
    assert rate_limit_table.startswith("RateLimitsTable")
    assert sorted(queue.split("Queue")[0] for queue in by_action["sqs:SendMessage"]) == ["Email", "Sms", "Whatsapp"]
    assert not any("DeadLetter" in queue for queue in by_action["sqs:SendMessage"])


def test_only_api_gateway_may_invoke_the_router_and_only_for_post(synthesised):
    template = synthesised.template("api")
    router_id, _ = _router_function(template)
    permissions = [
        p["Properties"]
        for p in resources(template, "AWS::Lambda::Permission").values()
        if p["Properties"]["FunctionName"] == {"Fn::GetAtt": [router_id, "Arn"]}
    ]
    (permission,) = permissions
    assert permission["Principal"] == "apigateway.amazonaws.com"
    parts = permission["SourceArn"]["Fn::Join"][1]
    source = "".join(part if isinstance(part, str) else "<ref>" for part in parts)
    assert source.startswith("arn:aws:execute-api:")
    assert source.endswith("/<ref>/POST/initiate-conversation")  # this stage only, this method only
    stage_id, _ = one(template, "AWS::ApiGateway::Stage")
    assert {"Ref": stage_id} in parts


def test_api_5xx_and_router_failures_alert_the_critical_topic(synthesised):
    env = synthesised.settings.name
    alarms = synthesised.template("api").find_resources("AWS::CloudWatch::Alarm")
    by_name = {a["Properties"]["AlarmName"]: a["Properties"] for a in alarms.values()}
    assert {f"ai-multi-comms-api-5xx-{env}", f"ai-multi-comms-router-errors-{env}"} <= set(by_name)
    assert by_name[f"ai-multi-comms-api-5xx-{env}"]["MetricName"] == "5XXError"
    assert by_name[f"ai-multi-comms-router-errors-{env}"]["MetricName"] == "Errors"
    for name in (f"ai-multi-comms-api-5xx-{env}", f"ai-multi-comms-router-errors-{env}"):
        assert by_name[name]["Threshold"] == 1
        assert "MonitoringCriticalAlerts" in json.dumps(by_name[name]["AlarmActions"])


def test_the_logging_roles_managed_policy_is_acknowledged_with_everything_it_grants(dev):
    api = dev.engine.api.api
    [acknowledged] = [entry.data for entry in api.node.metadata if entry.type == "aws:cdk:acknowledged-rules"]
    [reason] = [reason for rule, reason in acknowledged.items() if "AmazonAPIGatewayPushToCloudWatchLogs" in rule]

    # What the AWS managed policy allows, on every log group of the account and region.
    for action in (
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:DescribeLogGroups",
        "logs:DescribeLogStreams",
        "logs:PutLogEvents",
        "logs:GetLogEvents",
        "logs:FilterLogEvents",
    ):
        assert action in reason
    assert 'on "*"' in reason and "apigateway.amazonaws.com" in reason and "account" in reason
    template = dev.template("api")
    [role] = [
        role
        for role in resources(template, "AWS::IAM::Role").values()
        if "AmazonAPIGatewayPushToCloudWatchLogs" in json.dumps(role["Properties"].get("ManagedPolicyArns"))
    ]
    [principal] = [s["Principal"] for s in role["Properties"]["AssumeRolePolicyDocument"]["Statement"]]
    assert principal == {"Service": "apigateway.amazonaws.com"}
