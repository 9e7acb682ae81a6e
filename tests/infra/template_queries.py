"""Questions the infrastructure tests ask of a synthesised template: a resource, an API method by
its path, and what a function's role may do on which resource."""

from __future__ import annotations

import re
from typing import Any

from aws_cdk.assertions import Template

# The attributes of ``app.Engine``, one per stack.
ENGINE_STACKS = ("data", "queues", "api", "processors")


def resources(template: Template, kind: str) -> dict[str, dict[str, Any]]:
    return template.find_resources(kind)


def one(template: Template, kind: str, properties: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    found = template.find_resources(kind, {"Properties": properties} if properties else None)
    assert len(found) == 1, f"expected one {kind} matching {properties}, found {len(found)}"
    return next(iter(found.items()))


def function(template: Template, name: str) -> tuple[str, dict[str, Any]]:
    """The function named ``name`` (physical name) and its logical id."""
    return one(template, "AWS::Lambda::Function", {"FunctionName": name})


def resource_paths(template: Template) -> dict[str, str]:
    """Logical id of every API resource -> its full path (``/webhooks/twilio/{company_id}/...``)."""
    api_resources = resources(template, "AWS::ApiGateway::Resource")

    def path(logical_id: str) -> str:
        properties = api_resources[logical_id]["Properties"]
        parent = properties["ParentId"]
        prefix = path(parent["Ref"]) if "Ref" in parent else ""  # the root is a GetAtt of the API
        return f"{prefix}/{properties['PathPart']}"

    return {logical_id: path(logical_id) for logical_id in api_resources}


def methods_by_path(template: Template) -> dict[tuple[str, str], dict[str, Any]]:
    """(resource path, HTTP method) -> the method's properties, for every method of the API."""
    paths = resource_paths(template)
    return {
        (paths[m["Properties"]["ResourceId"]["Ref"]], m["Properties"]["HttpMethod"]): m["Properties"]
        for m in resources(template, "AWS::ApiGateway::Method").values()
    }


def listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# What active tracing (``monitoring.tracing``) adds to every function's role, on "*";
# tests/infra/test_monitoring.py checks it. The questions below are about everything else a role may do.
TRACING_ACTIONS = frozenset({"xray:PutTraceSegments", "xray:PutTelemetryRecords"})


def role_statements(template: Template, function_properties: dict[str, Any]) -> list[dict[str, Any]]:
    """Every statement of the policies attached to a function's role (which has no other policy),
    without the tracing grants."""
    role_id = function_properties["Properties"]["Role"]["Fn::GetAtt"][0]
    role = resources(template, "AWS::IAM::Role")[role_id]["Properties"]
    assert "ManagedPolicyArns" not in role and "Policies" not in role
    statements = []
    for policy in resources(template, "AWS::IAM::Policy").values():
        if {"Ref": role_id} not in policy["Properties"]["Roles"]:
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = [action for action in listed(statement["Action"]) if action not in TRACING_ACTIONS]
            if actions:
                statements.append({**statement, "Action": actions if len(actions) > 1 else actions[0]})
    return statements


def resource_name(resource: Any) -> str:
    """A statement's resource, readably: the logical id of a local or imported resource (``ConversationsTable…``),
    or an ARN with its tokens as ``<token>``."""
    if isinstance(resource, str):
        return resource
    if "Fn::GetAtt" in resource:
        return resource["Fn::GetAtt"][0]
    if "Fn::ImportValue" in resource:
        # AiMultiComms-Data-dev:ExportsOutputFnGetAttCompanyDataTable1C069ECCArn5B6927E9
        return resource["Fn::ImportValue"].split(":ExportsOutput")[1].removeprefix("FnGetAtt").removeprefix("Ref")
    if "Fn::Join" in resource:
        return "".join(part if isinstance(part, str) else "<token>" for part in resource["Fn::Join"][1])
    raise AssertionError(f"unexpected resource {resource}")


def without_hash(logical_name: str) -> str:
    """``EventsQueue7396B467Arn0975E373`` (an imported attribute) or ``ConversationsTableA1B2C3D4``
    -> ``EventsQueue`` / ``ConversationsTable``: the construct's path, without CDK's hashes."""
    return re.sub(r"[0-9A-F]{8}([A-Za-z]*[0-9A-F]{8})?$", "", logical_name)


def granted(template: Template, function_properties: dict[str, Any]) -> dict[str, set[str]]:
    """Action -> the resources (``resource_name``) a function's role is allowed it on. Every
    statement must be an Allow."""
    by_action: dict[str, set[str]] = {}
    for statement in role_statements(template, function_properties):
        assert statement["Effect"] == "Allow", statement
        for action in listed(statement["Action"]):
            by_action.setdefault(action, set()).update(resource_name(r) for r in listed(statement["Resource"]))
    return by_action


def grants_by_resource(template: Template, function_properties: dict[str, Any]) -> dict[str, set[str]]:
    """Resource (``resource_name`` without CDK's hashes: ``SuppressionsTable``, ``ConsentKey``,
    ``<token>/index/…``) -> the actions a function's role is allowed on it."""
    by_resource: dict[str, set[str]] = {}
    for action, names in granted(template, function_properties).items():
        for name in names:
            by_resource.setdefault(without_hash(name), set()).add(action)
    return by_resource


# What each role may do on the consent data (issue 12): the suppression table's items by key (never
# a Query, a Scan or an index) and a read of the consent key, nothing more on either.
CONSENT_KEY_READ = {"ConsentKey": {"secretsmanager:GetSecretValue"}}


def consent_grants(template: Template, function_properties: dict[str, Any]) -> dict[str, set[str]]:
    """The role's grants on the suppression table and the consent key only."""
    return {
        name: actions
        for name, actions in grants_by_resource(template, function_properties).items()
        if name in ("SuppressionsTable", "ConsentKey")
    }


def alarms_by_name(template: Template) -> dict[str, dict[str, Any]]:
    """Every CloudWatch alarm of the template: its name -> its properties."""
    return {
        a["Properties"]["AlarmName"]: a["Properties"] for a in resources(template, "AWS::CloudWatch::Alarm").values()
    }


def joined(value: Any) -> str:
    """A ``Fn::Join`` (a dashboard's body) as one string, each token written as the logical id it
    names (``{"Ref": "ApiDeploymentStagedev…"}`` -> ``ApiDeploymentStagedev…``, ``AWS::Region``)."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(joined(part) for part in parts)
    if "Ref" in value:
        return value["Ref"]
    if "Fn::GetAtt" in value:
        return ".".join(value["Fn::GetAtt"])
    raise AssertionError(f"unexpected token {value}")
