"""Renders ``shared.routing.gateway_contract`` into a REST API: the request model, API Gateway's
own error responses in the engine's envelope, and the 405 answer for other methods.
"""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import aws_apigateway as apigw

from shared.routing.gateway_contract import (
    GATEWAY_ERRORS,
    METHOD_NOT_ALLOWED,
    MODEL_CONTENT_TYPE,
    GatewayError,
    request_body_schema,
)

_SCHEMA_TYPES = {"object": apigw.JsonSchemaType.OBJECT, "string": apigw.JsonSchemaType.STRING}


def json_schema(schema: dict[str, Any]) -> apigw.JsonSchema:
    """The CDK form of the (small) draft-4 schema ``request_body_schema`` returns."""
    known = {"$schema", "title", "description", "type", "properties"}
    unknown = set(schema) - known
    if unknown:
        raise ValueError(f"json_schema does not translate {sorted(unknown)}")
    return apigw.JsonSchema(
        schema=apigw.JsonSchemaVersion.DRAFT4 if "$schema" in schema else None,
        title=schema.get("title"),
        description=schema.get("description"),
        type=_SCHEMA_TYPES[schema["type"]] if "type" in schema else None,
        properties={name: json_schema(prop) for name, prop in schema["properties"].items()}
        if "properties" in schema
        else None,
    )


def request_models(api: apigw.RestApi) -> dict[str, apigw.IModel]:
    """The method's ``request_models``: the request model for every body API Gateway should check."""
    return {MODEL_CONTENT_TYPE: add_request_model(api)}


def add_request_model(api: apigw.RestApi) -> apigw.Model:
    return api.add_model(
        "InitiateRequestModel",
        content_type=MODEL_CONTENT_TYPE,
        model_name="InitiateRequest",
        schema=json_schema(request_body_schema()),
    )


def _quoted(headers: dict[str, str]) -> dict[str, str]:
    # Static header values in API Gateway mappings are single-quoted literals.
    return {name: f"'{value}'" for name, value in headers.items()}


def _template(error: GatewayError) -> str:
    text = json.dumps(error.body())
    if "#" in text or "$" in text:
        raise ValueError("gateway error bodies are VTL templates: keep '#' and '$' out of them")
    return text


def add_gateway_responses(api: apigw.RestApi) -> None:
    for error in GATEWAY_ERRORS:
        api.add_gateway_response(
            error.response_type.replace("_", " ").title().replace(" ", ""),
            type=apigw.ResponseType.of(error.response_type),
            status_code=None if error.status is None else str(error.status),
            response_headers=_quoted(error.all_headers()),
            templates={"application/json": _template(error)},
        )


def add_method_not_allowed(resource: apigw.Resource, answer: GatewayError = METHOD_NOT_ALLOWED) -> apigw.Method:
    """``ANY`` on the resource (API Gateway prefers the explicit methods and OPTIONS) answers 405
    without reaching a function or needing a key."""
    headers = answer.all_headers()
    status = str(answer.status)
    integration = apigw.MockIntegration(
        request_templates={"application/json": json.dumps({"statusCode": answer.status})},
        integration_responses=[
            apigw.IntegrationResponse(
                status_code=status,
                response_parameters={
                    f"method.response.header.{name}": value for name, value in _quoted(headers).items()
                },
                response_templates={"application/json": _template(answer)},
            )
        ],
    )
    return resource.add_method(
        "ANY",
        integration,
        api_key_required=False,
        method_responses=[
            apigw.MethodResponse(
                status_code=status,
                response_parameters={f"method.response.header.{name}": True for name in headers},
            )
        ],
    )
