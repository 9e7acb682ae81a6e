"""Critical alerts of the processors: an encrypted, TLS-only SNS topic mailed to the operators, and
alarms on what needs a person: messages in a DLQ, processor errors, sends that could not be
confirmed (possibly sent, never resent), failures nobody named (bugs) and generated messages
refused by the content check (someone may be steering the model); the events queue's DLQ and its
processor's errors the same way; and the tenants' side (issue 13): events the conversations stream
could not turn into webhooks, a stream consumer falling behind, and webhooks that were given up.
Issue 14: the age of the oldest message of every work queue, and throttles of every function.
Every alarm's description ends with a pointer to its section of docs/runbook.md."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from shared.channels import Channel
from shared.processing import metric_names
from stacks.constructs.python_function import PythonFunction
from stacks.constructs.work_queue import WorkQueue
from stacks.names import physical_name, processor_name
from stacks.settings import EnvironmentSettings

PERIOD = Duration.minutes(5)
RUNBOOK = "docs/runbook.md"
# The stream keeps a record 24 h; a consumer this far behind is stuck, not busy.
ITERATOR_AGE_ALARM_MINUTES = 10


class Monitoring(Construct):
    topic: sns.Topic
    alarms: list[cloudwatch.Alarm]

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: EnvironmentSettings,
        processors: Mapping[Channel, lambda_.IFunction],
        channel_queues: Mapping[Channel, WorkQueue],
        events_processor: lambda_.IFunction,
        events_queue: WorkQueue,
        tenant_events: lambda_.IFunction,
        stream_failures: sqs.IQueue,
        webhook_sender: lambda_.IFunction,
        webhooks_queue: WorkQueue,
    ):
        super().__init__(scope, construct_id)
        self._env = settings.name
        self._settings = settings
        self.topic = self._topic(settings)
        self.alarms = []
        for channel, function in processors.items():
            self._watch_consumer(channel.value, channel_queues[channel], function)
            for metric, what in (
                (metric_names.SEND_UNCONFIRMED, "a send may have reached the person but was never confirmed"),
                (metric_names.UNEXPECTED_FAILURES, "a record failed in a way the code does not name (failed_unknown)"),
                (
                    metric_names.CONTENT_CHECK_FAILURES,
                    "the AI wrote a link, phone number or email address the project did not supply (a prompt "
                    "injection in the request, or allowed_link_domains missing a domain); nothing was sent "
                    "(failed_content_check)",
                ),
            ):
                self._alarm(
                    f"{channel.value}-{_kebab(metric)}",
                    cloudwatch.Metric(
                        namespace=metric_names.NAMESPACE,
                        metric_name=metric,
                        dimensions_map={metric_names.SERVICE_DIMENSION: processor_name(channel.value)},
                        period=PERIOD,
                        statistic="Sum",
                    ),
                    f"{channel.value}: {what}; see the record's failure_reason.",
                )

        self._watch_consumer("events", events_queue, events_processor)
        self._watch_tenant_events(tenant_events, stream_failures)
        self._watch_consumer("webhooks", webhooks_queue, webhook_sender)
        # Built after every function of the stack (ProcessorStack creates this construct last).
        self.alarms += throttle_alarms(self, settings=settings, topic=self.topic)
        # ProviderEventsUnmatched is not alarmed: an event for a message the engine does not know
        # (sent before issue 10, or by the tenant's own systems on the same account) is kept as
        # an ``unmatched#`` item and counted; nobody needs to be woken for it.

    def _watch_consumer(self, name: str, queue: WorkQueue, function: lambda_.IFunction) -> None:
        """The ``<name>`` queue and its processor: messages in its DLQ and failed invocations."""
        self._alarm(
            f"{name}-dlq-messages",
            queue.dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(1), statistic="Maximum"
            ),
            f"Messages of the {name} queue reached its DLQ after every retry; inspect and redrive.",
        )
        self._alarm(
            f"{name}-processor-errors",
            function.metric_errors(period=PERIOD, statistic="Sum"),
            f"The {name} processor failed whole invocations (the batch is retried).",
        )
        minutes = getattr(self._settings.monitoring.oldest_message_alarm_minutes, name)
        self._alarm(
            f"{name}-oldest-message",
            queue.queue.metric_approximate_age_of_oldest_message(period=PERIOD, statistic="Maximum"),
            f"A message has waited in the {name} queue for {minutes} minutes or more, longer than its "
            "retries ever keep one: its consumer is not keeping up, is throttled or keeps failing it.",
            threshold=self._settings.monitoring.oldest_message_alarm_minutes.seconds(name),
        )

    def _watch_tenant_events(self, function: lambda_.IFunction, stream_failures: sqs.IQueue) -> None:
        """The conversations stream's consumer: batches it gave up on, errors, and its lag."""
        self._alarm(
            "tenant-events-stream-failures",
            stream_failures.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(1), statistic="Maximum"
            ),
            "The tenant-events function gave up on stream records after its retries: their events were "
            "not queued. Each message names the shard and sequence range; replay the affected "
            "conversations (comms webhooks replay) once the cause is fixed.",
        )
        self._alarm(
            "tenant-events-errors",
            function.metric_errors(period=PERIOD, statistic="Sum"),
            "The tenant-events function failed whole invocations (the stream batch is retried).",
        )
        self._alarm(
            "tenant-events-iterator-age",
            function.metric("IteratorAge", period=PERIOD, statistic="Maximum", unit=cloudwatch.Unit.MILLISECONDS),
            f"The tenant-events function is more than {ITERATOR_AGE_ALARM_MINUTES} minutes behind the "
            "conversations stream: tenants' webhooks are late, and records older than 24 h are lost.",
            threshold=ITERATOR_AGE_ALARM_MINUTES * 60 * 1000,
        )

    def _topic(self, settings: EnvironmentSettings) -> sns.Topic:
        # CloudWatch cannot publish to a topic under the AWS-managed SNS key, so the topic has its own.
        key = kms.Key(
            self,
            "AlertsKey",
            alias=f"alias/{physical_name('critical-alerts', settings.name)}",
            description="Encrypts the critical-alerts topic; CloudWatch alarms may use it to publish",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN
            if settings.protection.removal_policy == "retain"
            else RemovalPolicy.DESTROY,
        )
        stack = Stack.of(self)
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],  # in a key policy, "*" is this key
                # Only for this account's alarms in this region: CloudWatch acting for another
                # account (the confused deputy) cannot use the key.
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {"aws:SourceArn": alarm_arn_pattern(stack)},
                },
            )
        )
        topic = sns.Topic(
            self,
            "CriticalAlerts",
            topic_name=physical_name("critical-alerts", settings.name),
            display_name="AI Multi-Comms critical alerts",
            master_key=key,
            enforce_ssl=True,
        )
        topic.add_subscription(subscriptions.EmailSubscription(str(settings.alarm_email)))
        return topic

    def _alarm(self, name: str, metric: cloudwatch.IMetric, description: str, *, threshold: int = 1) -> None:
        self.alarms.append(
            critical_alarm(
                self,
                name=name,
                env=self._env,
                metric=metric,
                description=description,
                topic=self.topic,
                threshold=threshold,
            )
        )


def throttle_alarms(scope: Construct, *, settings: EnvironmentSettings, topic: sns.ITopic) -> list[cloudwatch.Alarm]:
    """``<function>-throttles`` for every function of ``scope``'s stack (call it once, after the
    last function is built): Lambda refused an invocation for lack of concurrency. The queues'
    event sources cap their concurrency below the account's, so any throttle means the account
    (or a reserved concurrency) ran out."""
    functions = [c for c in Stack.of(scope).node.find_all() if isinstance(c, PythonFunction)]
    return [
        critical_alarm(
            scope,
            name=f"{function.name}-throttles",
            env=settings.name,
            metric=function.function.metric_throttles(period=PERIOD, statistic="Sum"),
            description=f"Lambda refused invocations of {physical_name(function.name, settings.name)} for "
            "lack of concurrency (the account's limit or the function's reserved concurrency): its callers "
            "were refused, or its queue or stream waits.",
            topic=topic,
            threshold=settings.monitoring.throttles_alarm_threshold,
        )
        for function in functions
    ]


def runbook_anchor(name: str) -> str:
    """The runbook's section of alarm ``name``: the heading ``### ai-multi-comms-<name>-<env>``,
    as GitHub anchors it (``<`` and ``>`` dropped)."""
    return f"{RUNBOOK}#{physical_name(name, 'env')}"


def alarm_arn_pattern(stack: Stack) -> str:
    """``arn:<partition>:cloudwatch:<region>:<account>:alarm:*``: every alarm of the stack's account and region."""
    return stack.format_arn(
        service="cloudwatch", resource="alarm", resource_name="*", arn_format=ArnFormat.COLON_RESOURCE_NAME
    )


def critical_alarm(
    scope: Construct,
    *,
    name: str,
    env: str,
    metric: cloudwatch.IMetric,
    description: str,
    topic: sns.ITopic,
    threshold: int = 1,
) -> cloudwatch.Alarm:
    """An alarm on ``metric`` >= ``threshold`` in one period (missing data is fine) that e-mails the
    topic; its description ends with where the runbook says what to do."""
    alarm = cloudwatch.Alarm(
        scope,
        _pascal(name),
        alarm_name=physical_name(name, env),
        alarm_description=f"{description.rstrip()} Runbook: {runbook_anchor(name)}",
        metric=metric,
        threshold=threshold,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluation_periods=1,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )
    alarm.add_alarm_action(actions.SnsAction(topic))
    return alarm


def _kebab(name: str) -> str:
    return "".join(f"-{c.lower()}" if c.isupper() else c for c in name).lstrip("-")


def _pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("-"))
