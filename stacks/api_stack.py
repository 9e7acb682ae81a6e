"""ApiStack: the REST API ``POST /initiate-conversation`` in front of the channel router Lambda, the
tenants' reads (``GET /conversations``, ``GET /conversations/{conversation_id}``) in front of the
conversation reader, and the providers' webhook routes in front of the webhook ingress Lambda."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from shared.channels import ALL_CHANNELS, Channel
from shared.routing import cors
from shared.routing.gateway_contract import RESOURCE_PATH
from shared.routing.settings import RouterSettings
from shared.secret_names import consent_key_secret_name
from shared.webhooks.routes import BINARY_MEDIA_TYPES, SENDGRID_EVENTS, SENDGRID_INBOUND, TWILIO_INBOUND, TWILIO_STATUS
from stacks.bundling import asset_hash
from stacks.constructs.api_contract import add_gateway_responses, add_method_not_allowed, request_models
from stacks.constructs.consent_access import grant_consent_access
from stacks.constructs.conversation_reader import ConversationReader
from stacks.constructs.monitoring import critical_alarm, throttle_alarms
from stacks.constructs.python_function import LAMBDAS, PythonFunction, log_retention
from stacks.constructs.webhook_ingress import WebhookIngress, stage_method_options
from stacks.nag import acknowledge
from stacks.names import physical_name
from stacks.settings import EnvironmentSettings

ROUTER_FOLDER = "channel_router"

# Access log line: who asked what, how it ended and where the time went. No headers, no body,
# no API key (not even its id).
ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId",
    "extendedRequestId": "$context.extendedRequestId",
    "requestTime": "$context.requestTime",
    "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "integrationStatus": "$context.integration.status",
    "integrationLatency": "$context.integration.latency",
    "errorResponseType": "$context.error.responseType",
    "sourceIp": "$context.identity.sourceIp",
    "userAgent": "$context.identity.userAgent",
    "protocol": "$context.protocol",
}


class ApiStack(Stack):
    api: apigw.RestApi
    router: PythonFunction
    reader: ConversationReader
    webhooks: WebhookIngress
    usage_plan: apigw.UsagePlan

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: EnvironmentSettings,
        company_data: dynamodb.ITable,
        conversations: dynamodb.ITable,
        rate_limits: dynamodb.ITable,
        suppressions: dynamodb.ITable,
        consent_key: secretsmanager.ISecret,
        channel_queues: Mapping[Channel, sqs.IQueue],
        events_queue: sqs.IQueue,
        alerts: sns.ITopic,
        **kwargs: Any,
    ):
        super().__init__(scope, construct_id, **kwargs)
        self.api = self._rest_api(settings)
        self.router = self._router(settings, company_data, rate_limits, channel_queues, suppressions, consent_key)
        self.webhooks = WebhookIngress(
            self,
            "Webhooks",
            settings=settings,
            api=self.api,
            public_base_url=self.public_base_url(settings),
            company_data=company_data,
            suppressions=suppressions,
            consent_key=consent_key,
            events_queue=events_queue,
            alerts=alerts,
        )
        resource = self.api.root.add_resource(
            RESOURCE_PATH.strip("/"),
            default_cors_preflight_options=apigw.CorsOptions(
                allow_origins=[cors.ALLOW_ORIGIN],
                allow_methods=list(cors.ALLOW_METHODS),
                allow_headers=list(cors.ALLOW_HEADERS),
                max_age=Duration.seconds(cors.PREFLIGHT_MAX_AGE_SECONDS),
            ),
        )
        resource.add_method(
            "POST",
            apigw.LambdaIntegration(self.router.function, proxy=True, allow_test_invoke=False),
            api_key_required=True,
            request_validator=self.api.add_request_validator(
                "Validator",
                request_validator_name="initiate-request",
                validate_request_body=True,
                # No parameter is declared required, so this checks nothing today; it is on so
                # that a required header or query parameter added later is enforced too.
                validate_request_parameters=True,
            ),
            request_models=request_models(self.api),
        )
        add_method_not_allowed(resource)
        self.reader = ConversationReader(
            self,
            "Reads",
            settings=settings,
            api=self.api,
            company_data=company_data,
            conversations=conversations,
            consent_key=consent_key,
        )
        add_gateway_responses(self.api)
        self._alarms(settings, alerts)
        # Keys are tenants' data: operators create a key per tenant and add it to this plan.
        self.usage_plan = self.api.add_usage_plan(
            "UsagePlan",
            name=physical_name("usage-plan", settings.name),
            description="Per-key throttle of every tenant's API key",
            throttle=apigw.ThrottleSettings(
                rate_limit=settings.api.throttle_rate_limit, burst_limit=settings.api.throttle_burst_limit
            ),
            api_stages=[apigw.UsagePlanPerApiStage(api=self.api, stage=self.api.deployment_stage)],
        )
        self._acknowledge(resource, self.reader.collection)
        CfnOutput(self, "ApiUrl", value=self.api.url, description="Invoke URL of the stage (API_URL of make smoke)")
        CfnOutput(self, "InitiateConversationUrl", value=self.api.url_for_path(resource.path))
        CfnOutput(self, "UsagePlanId", value=self.usage_plan.usage_plan_id, description="Add tenants' keys here")
        for output_id, route, where in (
            ("TwilioStatusCallbackUrlTemplate", TWILIO_STATUS, "every Twilio send's StatusCallback"),
            ("SendGridEventWebhookUrlTemplate", SENDGRID_EVENTS, "the tenant's SendGrid signed Event Webhook"),
            (
                "TwilioInboundUrlTemplate",
                TWILIO_INBOUND,
                "'A message comes in' of the tenant's WhatsApp sender and SMS number",
            ),
            ("SendGridInboundParseUrlTemplate", SENDGRID_INBOUND, "the tenant's SendGrid Inbound Parse (+ ?token=…)"),
        ):
            CfnOutput(
                self,
                output_id,
                value=self.public_base_url(settings) + route.path,
                description=f"{where}, with the tenant's {{company_id}} and {{project_id}}",
            )

    def _router(
        self,
        settings: EnvironmentSettings,
        company_data: dynamodb.ITable,
        rate_limits: dynamodb.ITable,
        channel_queues: Mapping[Channel, sqs.IQueue],
        suppressions: dynamodb.ITable,
        consent_key: secretsmanager.ISecret,
    ) -> PythonFunction:
        router = PythonFunction(
            self,
            "Router",
            folder=ROUTER_FOLDER,
            name="channel-router",
            settings=settings,
            memory_mb=settings.router.memory_mb,
            timeout_seconds=settings.router.timeout_seconds,
            description="Validates, authorises and rate-limits a request, then queues its context",
            environment=RouterSettings(
                environment=settings.name,
                company_table_name=company_data.table_name,
                rate_limit_table_name=rate_limits.table_name,
                whatsapp_queue_url=channel_queues[Channel.WHATSAPP].queue_url,
                sms_queue_url=channel_queues[Channel.SMS].queue_url,
                email_queue_url=channel_queues[Channel.EMAIL].queue_url,
                # The hash of the router's sources (handler + shared/ + pins): names the exact code.
                router_version=asset_hash(LAMBDAS / ROUTER_FOLDER)[:12],
                public_base_url=self.public_base_url(settings),
                suppressions_table_name=suppressions.table_name,
                consent_key_secret_id=consent_key_secret_name(settings.name),
            ).to_environment(),
        )
        # Least privilege: exactly the calls the router makes. TransactWriteItems is authorised
        # per item as UpdateItem; the request-id reservations in the same table are conditional
        # UpdateItems too (their old item comes back with a failed condition: no GetItem/PutItem).
        company_data.grant(router.role, "dynamodb:GetItem")
        rate_limits.grant(router.role, "dynamodb:UpdateItem")
        for channel in ALL_CHANNELS:
            channel_queues[channel].grant(router.role, "sqs:SendMessage")
        # 409 RECIPIENT_OPTED_OUT: one GetItem of the suppression list (issue 12).
        grant_consent_access(
            router.role, suppressions=suppressions, consent_key=consent_key, actions=["dynamodb:GetItem"]
        )
        return router

    def public_base_url(self, settings: EnvironmentSettings) -> str:
        """The URL providers call, up to the stage: the configured one (a custom domain), else the
        stage's execute-api URL. Built from the API's id and the stage's name, not from
        ``api.url``, which would make a function depend on the stage that depends on it."""
        if settings.api.public_base_url:
            return settings.api.public_base_url.rstrip("/")
        return f"https://{self.api.rest_api_id}.execute-api.{self.region}.{self.url_suffix}/{settings.name}"

    def _rest_api(self, settings: EnvironmentSettings) -> apigw.RestApi:
        retain = settings.protection.removal_policy == "retain"
        access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            log_group_name=f"/aws/apigateway/{physical_name('api', settings.name)}/access",
            retention=log_retention(settings.log_retention_days),
            removal_policy=RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY,
        )
        return apigw.RestApi(
            self,
            "Api",
            rest_api_name=physical_name("api", settings.name),
            description="AI Multi-Comms Engine: open a conversation on WhatsApp, SMS or email",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            api_key_source_type=apigw.ApiKeySourceType.HEADER,
            binary_media_types=list(BINARY_MEDIA_TYPES),
            # Execution logs need the account-level CloudWatch role of API Gateway.
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN,
            deploy_options=apigw.StageOptions(
                stage_name=settings.name,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.custom(json.dumps(ACCESS_LOG_FORMAT)),
                logging_level=apigw.MethodLoggingLevel.INFO,
                metrics_enabled=True,
                # Off in every environment: data tracing logs whole requests and responses, names,
                # phone numbers and emails included. The access log and the router's masked log
                # lines (by request id) are what debugging uses.
                data_trace_enabled=False,
                # monitoring.tracing of cdk.json: a trace per request, continued by the Lambdas.
                tracing_enabled=settings.monitoring.tracing,
                method_options=stage_method_options(settings),
            ),
        )

    def _alarms(self, settings: EnvironmentSettings, alerts: sns.ITopic) -> None:
        period = Duration.minutes(5)
        critical_alarm(
            self,
            name="api-5xx",
            env=settings.name,
            metric=self.api.metric_server_error(period=period, statistic="Sum"),
            description="The API answered 5xx (router errors, timeouts, DATABASE_ERROR, QUEUE_ERROR): "
            "clients' requests were not queued. See the router's log by request id.",
            topic=alerts,
        )
        critical_alarm(
            self,
            name="reader-errors",
            env=settings.name,
            metric=self.reader.function.function.metric_errors(period=period, statistic="Sum"),
            description="The conversation reader Lambda itself failed (crash or timeout); API Gateway "
            "answered 502/504 to a tenant's read.",
            topic=alerts,
        )
        critical_alarm(
            self,
            name="router-errors",
            env=settings.name,
            metric=self.router.function.metric_errors(period=period, statistic="Sum"),
            description="The router Lambda itself failed (crash or timeout); API Gateway answered 502/504.",
            topic=alerts,
        )
        throttle_alarms(self, settings=settings, topic=alerts)  # after the stack's last function

    def _acknowledge(self, *tenant_resources: apigw.Resource) -> None:
        """``tenant_resources``: the routes tenants call with their API key (and their children)."""
        for resource in tenant_resources:
            acknowledge(
                resource,
                "AwsSolutions-APIG4",
                "Callers are tenants' systems authenticated by API key (usage plan) and authorised per "
                "company/project by the router or the reader; OPTIONS (preflight) and the 405 answer need "
                "no caller.",
            )
            acknowledge(
                resource,
                "AwsSolutions-COG4",
                "There are no end users to sign in: tenants' back ends call with an API key, and the "
                "router and the reader bind each key to its company/project (tenant isolation).",
            )
        acknowledge(
            self.api.deployment_stage,
            "AwsSolutions-APIG3",
            "No WAF yet: the usage plan throttles every key, bodies are validated at the gateway and "
            "capped by the router, and per-project limits stop abuse by a tenant; add a web ACL if "
            "anonymous floods appear in the access logs.",
        )
        acknowledge(
            self.api,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
            "The AWS managed policy AmazonAPIGatewayPushToCloudWatchLogs allows logs:CreateLogGroup, "
            "logs:CreateLogStream, logs:DescribeLogGroups, logs:DescribeLogStreams, logs:PutLogEvents, "
            'logs:GetLogEvents and logs:FilterLogEvents on "*" (every log group of the account and region). '
            "Acceptable because only apigateway.amazonaws.com can assume the role, and it is the one "
            "account-level role API Gateway uses for the execution logs of every REST API in the account "
            "and region, whose log groups it names and creates itself (API-Gateway-Execution-Logs_<api id>/"
            "<stage>), so no narrower resource can be written in advance; the engine itself never uses it.",
        )
