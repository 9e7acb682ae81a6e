"""The webhook ingress: the providers' routes on the REST API (no API key: providers cannot send
one; the provider's signature, or Inbound Parse's URL token, is checked by the function), the
one-click unsubscribe route of every email (issue 12: GET + POST, the signed token checked by the
function), the function behind them, a role that can only read a project, read tenants' provider
credentials, queue an event and write a suppression, and its alarms."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from shared.channels import ALL_CHANNELS
from shared.processing import metric_names
from shared.secret_names import consent_key_secret_name
from shared.webhooks.routes import ROUTES, UNSUBSCRIBE_METHODS, UNSUBSCRIBE_PATH, WebhookRoute
from shared.webhooks.settings import WebhookSettings
from stacks.constructs.consent_access import grant_consent_access
from stacks.constructs.monitoring import critical_alarm
from stacks.constructs.python_function import PythonFunction
from stacks.constructs.secret_access import acknowledge_credentials_wildcard, grant_secret_reads
from stacks.nag import acknowledge
from stacks.names import WEBHOOK_INGRESS, credentials_secret_resource_pattern
from stacks.settings import EnvironmentSettings

FOLDER = "webhook_ingress"
PATH_PARAMETERS = ("company_id", "project_id")
# Refused signatures in five minutes before someone is mailed. One alone is noise (a scanner that
# guessed a project's URL, a retry racing a token rotation); a handful is a tenant whose webhook
# key or auth token no longer matches (every callback fails) or someone forging events.
SIGNATURE_REJECTIONS_THRESHOLD = 5
PERIOD = Duration.minutes(5)


def stage_method_options(settings: EnvironmentSettings) -> dict[str, apigw.MethodDeploymentOptions]:
    """The stage throttle of each webhook route. The usage plan throttles per API key, and these
    routes have none; this caps what anyone (a flood of forged requests) can send through them.
    Logging and metrics are repeated because a method's settings replace the stage's."""
    webhooks = settings.webhooks
    # The unsubscribe route is as open as the webhooks (anyone holding an email can call it), and
    # gets the same cap per method.
    methods = [f"{route.path}/POST" for route in ROUTES] + [
        f"{UNSUBSCRIBE_PATH}/{method}" for method in UNSUBSCRIBE_METHODS
    ]
    return {
        method: apigw.MethodDeploymentOptions(
            throttling_rate_limit=webhooks.throttle_rate_limit,
            throttling_burst_limit=webhooks.throttle_burst_limit,
            logging_level=apigw.MethodLoggingLevel.INFO,
            metrics_enabled=True,
            data_trace_enabled=False,
        )
        for method in methods
    }


class WebhookIngress(Construct):
    function: PythonFunction
    routes: dict[WebhookRoute, apigw.Method]
    unsubscribe_methods: dict[str, apigw.Method]  # by HTTP method

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: EnvironmentSettings,
        api: apigw.RestApi,
        public_base_url: str,
        company_data: dynamodb.ITable,
        suppressions: dynamodb.ITable,
        consent_key: secretsmanager.ISecret,
        events_queue: sqs.IQueue,
        alerts: sns.ITopic,
    ):
        super().__init__(scope, construct_id)
        webhooks = settings.webhooks
        self.function = PythonFunction(
            self,
            "Ingress",
            folder=FOLDER,
            name=WEBHOOK_INGRESS,
            settings=settings,
            memory_mb=webhooks.memory_mb,
            timeout_seconds=webhooks.timeout_seconds,
            reserved_concurrency=webhooks.reserved_concurrency,
            description="Verifies a Twilio/SendGrid webhook with the tenant's credentials, then queues its events; "
            "serves the emails' one-click unsubscribe link",
            environment=WebhookSettings(
                environment=settings.name,
                company_table_name=company_data.table_name,
                events_queue_url=events_queue.queue_url,
                public_base_url=public_base_url,
                suppressions_table_name=suppressions.table_name,
                consent_key_secret_id=consent_key_secret_name(settings.name),
            ).to_environment(),
        )
        self._grant(settings, company_data, events_queue)
        # The one-click unsubscribe (issue 12): verifies the token, writes the suppression.
        grant_consent_access(
            self.function.role, suppressions=suppressions, consent_key=consent_key, actions=["dynamodb:UpdateItem"]
        )
        validator = api.add_request_validator(
            "WebhookValidator",
            request_validator_name="webhook-request",
            # The body is the provider's (form or JSON array), or a mail client's form, and is
            # checked by the ingress.
            validate_request_body=False,
            validate_request_parameters=True,
        )
        integration = apigw.LambdaIntegration(self.function.function, proxy=True, allow_test_invoke=False)
        self.routes = self._add_routes(api, validator, integration)
        self.unsubscribe_methods = self._add_unsubscribe_route(api, validator, integration)
        self._alarms(settings, alerts)

    def _grant(self, settings: EnvironmentSettings, company_data: dynamodb.ITable, events_queue: sqs.IQueue) -> None:
        role = self.function.role
        # The project's record: is it known, and which credentials secrets does it name.
        company_data.grant(role, "dynamodb:GetItem")
        # SendMessageBatch (a SendGrid batch, one message per event) is authorised as SendMessage.
        events_queue.grant(role, "sqs:SendMessage")
        # The Twilio auth token (WhatsApp, SMS) and the SendGrid webhook verification key (email)
        # live in the projects' credentials secrets; never the OpenAI keys.
        grant_secret_reads(
            self,
            role,
            sid="ReadWebhookVerificationSecrets",
            resource_patterns=[credentials_secret_resource_pattern(c.value, settings.name) for c in ALL_CHANNELS],
        )
        for channel in ALL_CHANNELS:
            acknowledge_credentials_wildcard(
                self,
                role,
                channel=channel.value,
                env=settings.name,
                why="the webhook ingress verifies any project's callbacks with that project's credentials, "
                "found from the company and project in the URL",
            )

    def _add_routes(
        self, api: apigw.RestApi, validator: apigw.RequestValidator, integration: apigw.LambdaIntegration
    ) -> dict[WebhookRoute, apigw.Method]:
        methods = {}
        for route in ROUTES:
            resource = api.root.resource_for_path(route.path)
            methods[route] = resource.add_method(
                "POST",
                integration,
                api_key_required=False,
                authorization_type=apigw.AuthorizationType.NONE,
                request_validator=validator,
                request_parameters={f"method.request.path.{name}": True for name in PATH_PARAMETERS},
            )
            self._acknowledge(resource, route)
        return methods

    def _add_unsubscribe_route(
        self, api: apigw.RestApi, validator: apigw.RequestValidator, integration: apigw.LambdaIntegration
    ) -> dict[str, apigw.Method]:
        """``/unsubscribe/{token}``: GET (the confirmation page) and POST (RFC 8058 one-click), no
        key; the function checks the token before anything is written."""
        resource = api.root.resource_for_path(UNSUBSCRIBE_PATH)
        methods = {
            method: resource.add_method(
                method,
                integration,
                api_key_required=False,
                authorization_type=apigw.AuthorizationType.NONE,
                request_validator=validator,
                request_parameters={"method.request.path.token": True},
            )
            for method in UNSUBSCRIBE_METHODS
        }
        acknowledge(
            resource,
            "AwsSolutions-APIG4",
            "The recipient of an email (or their mailbox provider, RFC 8058) calls this link and has no "
            "API key or account; the path's token is signed with the environment's consent key and the "
            "ingress verifies it before writing anything, and GET never writes.",
        )
        acknowledge(
            resource,
            "AwsSolutions-COG4",
            "There is no user to sign in: whoever holds the email may unsubscribe its recipient, which is "
            "what the signed, per-recipient token in the link allows and nothing more.",
        )
        return methods

    def _acknowledge(self, resource: apigw.Resource, route: WebhookRoute) -> None:
        acknowledge(
            resource,
            "AwsSolutions-APIG4",
            f"{route.provider.value} calls this route and cannot send an API key or sign in; the ingress "
            "verifies the provider's signature (Inbound Parse: the project's URL token) with the credentials "
            "of the project named in the URL before anything is queued, and the route's only integration is "
            "that function.",
        )
        acknowledge(
            resource,
            "AwsSolutions-COG4",
            f"There is no user to sign in: {route.provider.value}'s servers call with the provider's "
            "signature, which the ingress verifies per project (tenant isolation).",
        )

    def _alarms(self, settings: EnvironmentSettings, alerts: sns.ITopic) -> None:
        critical_alarm(
            self,
            name="webhook-signatures-rejected",
            env=settings.name,
            metric=cloudwatch.Metric(
                namespace=metric_names.NAMESPACE,
                metric_name=metric_names.WEBHOOK_SIGNATURE_REJECTED,
                dimensions_map={metric_names.SERVICE_DIMENSION: WEBHOOK_INGRESS},
                period=PERIOD,
                statistic="Sum",
            ),
            description="Webhooks with a missing, forged or replayed signature, or another tenant's: a tenant "
            "whose Twilio auth token or SendGrid verification key changed without its secret, or an attack. "
            "See the ingress log (company, project, provider) and the API access log (source IP).",
            topic=alerts,
            threshold=SIGNATURE_REJECTIONS_THRESHOLD,
        )
        critical_alarm(
            self,
            name="webhook-ingress-errors",
            env=settings.name,
            metric=self.function.function.metric_errors(period=PERIOD, statistic="Sum"),
            description="The webhook ingress Lambda itself failed (crash or timeout): providers got a 5xx "
            "(SendGrid retries for a day; a Twilio status callback may be lost).",
            topic=alerts,
        )
