"""The providers' webhook routes on the REST API and the webhook ingress behind them: no key, but
no way to any other integration; a role that reads only webhook-verification secrets; its alarms."""

from __future__ import annotations

import copy
import json
from typing import Any

import aws_cdk as cdk

import app as cdk_app
from shared.channels import ALL_CHANNELS
from shared.processing import metric_names
from shared.webhooks.routes import (
    ROUTES,
    SENDGRID_EVENTS,
    SENDGRID_INBOUND,
    TWILIO_INBOUND,
    TWILIO_STATUS,
    UNSUBSCRIBE_METHODS,
    UNSUBSCRIBE_PATH,
)
from shared.webhooks.settings import WebhookSettings
from stacks.settings import load_settings, settings_from_block
from tests.infra.conftest import app_context
from tests.infra.template_queries import (
    CONSENT_KEY_READ,
    consent_grants,
    function,
    granted,
    methods_by_path,
    resource_name,
    resources,
    role_statements,
    without_hash,
)

WEBHOOK_PATHS = {route.path for route in ROUTES}
UNSUBSCRIBE_METHOD_KEYS = {(UNSUBSCRIBE_PATH, method) for method in UNSUBSCRIBE_METHODS}


def _ingress(synthesised) -> tuple[str, dict[str, Any]]:
    return function(synthesised.template("api"), f"ai-multi-comms-webhook-ingress-{synthesised.settings.name}")


def _invokes(method: dict[str, Any], function_id: str) -> bool:
    return {"Fn::GetAtt": [function_id, "Arn"]} in method["Integration"].get("Uri", {}).get("Fn::Join", ["", []])[1]


def test_each_webhook_route_is_post_only_without_key_or_authorizer_and_proxies_to_the_ingress(synthesised):
    template = synthesised.template("api")
    ingress_id, _ = _ingress(synthesised)
    methods = methods_by_path(template)

    for route in ROUTES:
        assert {method for (path, method) in methods if path == route.path} == {"POST"}, route.path
        post = methods[(route.path, "POST")]
        assert post["ApiKeyRequired"] is False
        assert post["AuthorizationType"] == "NONE"
        assert "AuthorizerId" not in post
        assert post["Integration"]["Type"] == "AWS_PROXY"
        assert _invokes(post, ingress_id)
        assert post["RequestParameters"] == {
            "method.request.path.company_id": True,
            "method.request.path.project_id": True,
        }


def test_the_unsubscribe_route_is_get_and_post_without_key_and_proxies_to_the_ingress(synthesised):
    template = synthesised.template("api")
    ingress_id, _ = _ingress(synthesised)
    methods = methods_by_path(template)

    assert {key for key in methods if key[0].startswith("/unsubscribe")} == UNSUBSCRIBE_METHOD_KEYS
    assert set(UNSUBSCRIBE_METHODS) == {"GET", "POST"}
    for key in UNSUBSCRIBE_METHOD_KEYS:
        method = methods[key]
        assert method["ApiKeyRequired"] is False
        assert method["AuthorizationType"] == "NONE"
        assert "AuthorizerId" not in method
        assert method["Integration"]["Type"] == "AWS_PROXY"
        assert _invokes(method, ingress_id)
        assert method["RequestParameters"] == {"method.request.path.token": True}


def test_the_ingress_is_reached_by_the_webhook_routes_only_and_they_reach_nothing_else(synthesised):
    template = synthesised.template("api")
    ingress_id, _ = _ingress(synthesised)
    methods = methods_by_path(template)

    reaching_ingress = {key for key, method in methods.items() if _invokes(method, ingress_id)}
    assert reaching_ingress == {(path, "POST") for path in WEBHOOK_PATHS} | UNSUBSCRIBE_METHOD_KEYS
    # Every method on a path under /webhooks or /unsubscribe is one of those: no mock, no other function.
    under_webhooks = {key for key in methods if key[0].startswith(("/webhooks", "/unsubscribe"))}
    assert under_webhooks == reaching_ingress
    # And API Gateway may invoke the ingress for exactly those: this stage, POST, these paths.
    permissions = [
        p["Properties"]
        for p in resources(template, "AWS::Lambda::Permission").values()
        if p["Properties"]["FunctionName"] == {"Fn::GetAtt": [ingress_id, "Arn"]}
    ]
    sources = sorted(resource_name(p["SourceArn"]).split("/", 1)[1] for p in permissions)
    assert all(p["Principal"] == "apigateway.amazonaws.com" for p in permissions)
    assert sources == sorted(
        [f"<token>/POST{route.path.replace('{company_id}', '*').replace('{project_id}', '*')}" for route in ROUTES]
        + [f"<token>/{method}/unsubscribe/*" for method in UNSUBSCRIBE_METHODS]
    )


def test_the_inbound_routes_are_webhook_routes_of_the_api(synthesised):
    methods = methods_by_path(synthesised.template("api"))

    assert {TWILIO_INBOUND.path, SENDGRID_INBOUND.path} <= WEBHOOK_PATHS
    assert (TWILIO_INBOUND.path, "POST") in methods and (SENDGRID_INBOUND.path, "POST") in methods
    # The token is the ingress's to check: API Gateway must not refuse a post without it (a bare
    # 400 of its own, not counted as a refused signature).
    assert "method.request.querystring.token" not in methods[(SENDGRID_INBOUND.path, "POST")]["RequestParameters"]


def test_multipart_bodies_reach_the_ingress_as_binary_and_nothing_else_does(synthesised):
    [api] = resources(synthesised.template("api"), "AWS::ApiGateway::RestApi").values()

    # Inbound Parse's form byte for byte (base64 in the event); Twilio's form and JSON stay text.
    assert api["Properties"]["BinaryMediaTypes"] == ["multipart/form-data"]


def test_the_initiate_route_still_requires_an_api_key(synthesised):
    post = methods_by_path(synthesised.template("api"))[("/initiate-conversation", "POST")]
    assert post["ApiKeyRequired"] is True


def test_the_ingress_role_reads_a_project_queues_an_event_and_reads_only_credentials_secrets(synthesised):
    template = synthesised.template("api")
    env = synthesised.settings.name
    _, ingress = _ingress(synthesised)
    by_action = granted(template, ingress)

    assert set(by_action) == {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "sqs:SendMessage",
        "secretsmanager:GetSecretValue",
    }
    (company_table,) = by_action["dynamodb:GetItem"]
    assert company_table.startswith("CompanyDataTable") and "/index/" not in company_table
    # The one-click unsubscribe writes the entry (issue 12); it never reads the list.
    assert consent_grants(template, ingress) == {"SuppressionsTable": {"dynamodb:UpdateItem"}, **CONSENT_KEY_READ}
    (queue,) = by_action["sqs:SendMessage"]
    assert queue.startswith("EventsQueue") and "DeadLetter" not in queue
    secrets = {name for name in by_action["secretsmanager:GetSecretValue"] if without_hash(name) != "ConsentKey"}
    assert secrets == {
        f"arn:aws:secretsmanager:{synthesised.settings.region}:<token>:secret:"
        f"ai-multi-comms/{channel.value}-credentials/*-{env}-??????"
        for channel in ALL_CHANNELS
    }
    everything = json.dumps(role_statements(template, ingress))
    assert "openai-api-key" not in everything
    assert all(resource != "*" for resources_ in by_action.values() for resource in resources_)
    assert not any("*" in action for action in by_action)


def test_the_ingress_gets_its_settings_from_the_webhook_settings_model(synthesised):
    _, ingress = _ingress(synthesised)
    properties = ingress["Properties"]
    webhooks = synthesised.settings.webhooks
    variables = properties["Environment"]["Variables"]
    own = {name for name in variables if not name.startswith("POWERTOOLS_")}

    assert own <= WebhookSettings.variable_names()
    assert variables["ENVIRONMENT"] == synthesised.settings.name
    assert "CompanyDataTable" in json.dumps(variables["COMPANY_TABLE_NAME"])
    assert "EventsQueue" in json.dumps(variables["EVENTS_QUEUE_URL"])
    assert variables["POWERTOOLS_SERVICE_NAME"] == "webhook-ingress"
    # The stage's execute-api URL (no custom domain configured): what providers sign.
    assert resource_name(variables["PUBLIC_BASE_URL"]) == (
        f"https://<token>.execute-api.{synthesised.settings.region}.<token>/{synthesised.settings.name}"
    )
    assert properties["MemorySize"] == webhooks.memory_mb
    assert properties["Timeout"] == webhooks.timeout_seconds
    assert properties["ReservedConcurrentExecutions"] == webhooks.reserved_concurrency


def test_the_webhook_routes_are_throttled_at_the_stage_as_the_environment_says(synthesised):
    template = synthesised.template("api")
    [stage] = resources(template, "AWS::ApiGateway::Stage").values()
    webhooks = synthesised.settings.webhooks
    limits = (webhooks.throttle_rate_limit, webhooks.throttle_burst_limit)
    throttled = sorted(
        (s["ResourcePath"], s["HttpMethod"], s["ThrottlingRateLimit"], s["ThrottlingBurstLimit"])
        for s in stage["Properties"]["MethodSettings"]
        if "ThrottlingRateLimit" in s
    )
    # A method's ResourcePath is the route with each "/" escaped as "~1"; one bucket per method,
    # the unsubscribe route's GET and POST included.
    assert throttled == sorted(
        [("/" + route.path.replace("/", "~1"), "POST", *limits) for route in ROUTES]
        + [("/" + UNSUBSCRIBE_PATH.replace("/", "~1"), method, *limits) for method in UNSUBSCRIBE_METHODS]
    )


def test_refused_signatures_and_ingress_failures_alert_the_critical_topic(synthesised):
    env = synthesised.settings.name
    alarms = {
        a["Properties"]["AlarmName"]: a["Properties"]
        for a in resources(synthesised.template("api"), "AWS::CloudWatch::Alarm").values()
    }
    signatures = alarms[f"ai-multi-comms-webhook-signatures-rejected-{env}"]
    assert (signatures["Namespace"], signatures["MetricName"]) == (
        metric_names.NAMESPACE,
        metric_names.WEBHOOK_SIGNATURE_REJECTED,
    )
    assert signatures["Dimensions"] == [{"Name": "service", "Value": "webhook-ingress"}]
    assert (signatures["Statistic"], signatures["Period"], signatures["Threshold"]) == ("Sum", 300, 5)
    ingress_id, _ = _ingress(synthesised)
    errors = alarms[f"ai-multi-comms-webhook-ingress-errors-{env}"]
    assert (errors["Namespace"], errors["MetricName"], errors["Threshold"]) == ("AWS/Lambda", "Errors", 1)
    assert errors["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": ingress_id}}]
    for alarm in (signatures, errors):
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert alarm["TreatMissingData"] == "notBreaching"
        [action] = alarm["AlarmActions"]
        assert "MonitoringCriticalAlerts" in action["Fn::ImportValue"]


def test_the_stack_outputs_the_tenants_url_templates(synthesised):
    outputs = synthesised.template("api").find_outputs("*")
    base = f"https://<token>.execute-api.{synthesised.settings.region}.<token>/{synthesised.settings.name}"
    assert resource_name(outputs["TwilioStatusCallbackUrlTemplate"]["Value"]) == base + TWILIO_STATUS.path
    assert resource_name(outputs["SendGridEventWebhookUrlTemplate"]["Value"]) == base + SENDGRID_EVENTS.path
    assert resource_name(outputs["TwilioInboundUrlTemplate"]["Value"]) == base + TWILIO_INBOUND.path
    assert resource_name(outputs["SendGridInboundParseUrlTemplate"]["Value"]) == base + SENDGRID_INBOUND.path


def test_a_configured_public_base_url_is_what_the_ingress_verifies_against_and_the_outputs_name():
    block = copy.deepcopy(app_context("dev")["environments"]["dev"])
    block["api"]["public_base_url"] = "https://comms.example.com/"
    settings = settings_from_block("dev", block)
    engine = cdk_app.build(cdk.App(context=app_context("dev")), settings)
    template = cdk.assertions.Template.from_stack(engine.api)

    _, ingress = function(template, "ai-multi-comms-webhook-ingress-dev")
    assert ingress["Properties"]["Environment"]["Variables"]["PUBLIC_BASE_URL"] == "https://comms.example.com"
    outputs = template.find_outputs("*")
    assert outputs["TwilioStatusCallbackUrlTemplate"]["Value"] == (
        "https://comms.example.com/webhooks/twilio/{company_id}/{project_id}/status"
    )
    assert load_settings("dev").api.public_base_url is None  # cdk.json keeps the execute-api URL


def test_keyless_access_is_acknowledged_to_cdk_nag_on_the_api_resources_only(dev):
    api = dev.engine.api.api
    acknowledged: dict[str, set[str]] = {}
    for construct in api.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == "aws:cdk:acknowledged-rules":
                rules = {rule.removeprefix("Annotation::") for rule in entry.data}
                acknowledged.setdefault(construct.node.path, set()).update(rules)
    stage_root = f"{api.node.path}/Default"
    for rule in ("AwsSolutions-APIG4", "AwsSolutions-COG4"):
        where = {path.removeprefix(stage_root) for path, rules in acknowledged.items() if rule in rules}
        assert where == {"/initiate-conversation", "/conversations", *WEBHOOK_PATHS, UNSUBSCRIBE_PATH}, rule
