#!/usr/bin/env python3
"""The CDK app: one set of stacks per environment (``cdk synth -c env=dev|prod``).

DataStack (tables) ─┐
QueueStack (queues) ┴─> ProcessorStack (a processor per channel, the events processor, the tenant-events
                    │                    stream consumer, the webhook sender, the critical-alerts topic)
                    └─> ApiStack (the router, the conversation reader and the webhook ingress; deployed
                                  after the processors, alarms to their topic; the operations
                                  dashboard of every stack's functions and queues)
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import aws_cdk as cdk

from stacks.api_stack import ApiStack
from stacks.constructs.operations_dashboard import OperationsDashboard, engine_functions
from stacks.data_stack import DataStack
from stacks.nag import enable_nag
from stacks.names import stack_id
from stacks.processor_stack import ProcessorStack
from stacks.queue_stack import QueueStack
from stacks.settings import EnvironmentSettings, SettingsError, load_settings


@dataclass
class Engine:
    data: DataStack
    queues: QueueStack
    api: ApiStack
    processors: ProcessorStack
    dashboard: OperationsDashboard


def build(app: cdk.App, settings: EnvironmentSettings) -> Engine:
    env = cdk.Environment(
        account=settings.account or os.environ.get("CDK_DEFAULT_ACCOUNT"),
        region=settings.region or os.environ.get("CDK_DEFAULT_REGION"),
    )
    data = DataStack(app, stack_id("Data", settings.name), settings=settings, env=env)
    queues = QueueStack(app, stack_id("Queues", settings.name), settings=settings, env=env)
    processors = ProcessorStack(
        app,
        stack_id("Processors", settings.name),
        settings=settings,
        conversations=data.conversations,
        provider_messages=data.provider_messages,
        company_data=data.company_data,
        suppressions=data.suppressions,
        webhook_events=data.webhook_events,
        consent_key=data.consent_key,
        channel_queues=queues.channel_queues,
        events_queue=queues.events_queue,
        webhooks_queue=queues.webhooks_queue,
        env=env,
    )
    api = ApiStack(
        app,
        stack_id("Api", settings.name),
        settings=settings,
        company_data=data.company_data,
        conversations=data.conversations,
        rate_limits=data.rate_limits,
        suppressions=data.suppressions,
        consent_key=data.consent_key,
        channel_queues={channel: queue.queue for channel, queue in queues.channel_queues.items()},
        events_queue=queues.events_queue.queue,
        alerts=processors.monitoring.topic,
        env=env,
    )
    # Processors first: a router that writes a newer context message must never reach queues
    # whose consumers cannot read it yet (cdk deploy --all follows dependencies).
    api.add_stack_dependency(processors)
    # In the stack deployed last, drawn from physical names: no export ties it to the others.
    dashboard = OperationsDashboard(
        api,
        "Operations",
        env=settings.name,
        api=api.api,
        functions=engine_functions(api, processors),
        queues=[*queues.channel_queues.values(), queues.events_queue, queues.webhooks_queue],
        stream_failures=processors.tenant_events.stream_failures,
    )
    for stack in (data, queues, api, processors):
        cdk.Tags.of(stack).add("project", "ai-multi-comms")
        cdk.Tags.of(stack).add("environment", settings.name)
    return Engine(data=data, queues=queues, api=api, processors=processors, dashboard=dashboard)


def main() -> None:
    app = cdk.App()
    try:
        build(app, load_settings(app.node.try_get_context("env")))
    except SettingsError as error:
        sys.exit(f"error: {error}")
    enable_nag(app)
    app.synth()


if __name__ == "__main__":
    main()
