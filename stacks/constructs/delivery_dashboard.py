"""The delivery dashboard: what the webhook path does, for a person to look at rather than be woken
by (unmatched events, rejected webhooks below the alarm's threshold, the events queue's backlog)."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from shared.processing import metric_names
from stacks.constructs.work_queue import WorkQueue
from stacks.names import EVENTS_PROCESSOR, WEBHOOK_INGRESS, physical_name

PERIOD = Duration.minutes(5)


def _counts(service: str, *names: str) -> list[cloudwatch.IMetric]:
    return [
        cloudwatch.Metric(
            namespace=metric_names.NAMESPACE,
            metric_name=name,
            dimensions_map={metric_names.SERVICE_DIMENSION: service},
            period=PERIOD,
            statistic="Sum",
        )
        for name in names
    ]


class DeliveryDashboard(Construct):
    dashboard: cloudwatch.Dashboard

    def __init__(self, scope: Construct, construct_id: str, *, env: str, events_queue: WorkQueue):
        super().__init__(scope, construct_id)
        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=physical_name("delivery", env))
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Webhooks in (webhook-ingress)",
                left=_counts(
                    WEBHOOK_INGRESS,
                    metric_names.WEBHOOK_ACCEPTED,
                    metric_names.WEBHOOK_REJECTED,
                    metric_names.WEBHOOK_SIGNATURE_REJECTED,
                ),
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Provider events (events-processor)",
                left=_counts(
                    EVENTS_PROCESSOR,
                    metric_names.PROVIDER_EVENTS_APPLIED,
                    metric_names.PROVIDER_EVENTS_IGNORED,
                    metric_names.PROVIDER_EVENTS_UNMATCHED,
                ),
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Events queue",
                left=[events_queue.queue.metric_approximate_age_of_oldest_message(period=PERIOD, statistic="Maximum")],
                right=[
                    events_queue.dead_letter_queue.metric_approximate_number_of_messages_visible(
                        period=PERIOD, statistic="Maximum"
                    )
                ],
                width=8,
            ),
        )
