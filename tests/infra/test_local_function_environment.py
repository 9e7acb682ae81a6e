"""The local stack gives each function every environment variable the deployed function gets, and
both take the function's own variables from its settings model (the one contract)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from local.providers import choose_providers
from local.stack import LocalStack
from shared.channels import ALL_CHANNELS, Channel
from shared.events.settings import EventsSettings
from shared.processing.settings import ProcessorSettings
from shared.reading.settings import ReaderSettings
from shared.routing.settings import RouterSettings
from shared.tenant_events.settings import TenantEventsSettings
from shared.tenant_webhooks.settings import WebhookSenderSettings
from shared.webhooks.settings import WebhookSettings
from stacks.settings import load_settings


def _deployed_environment(template, function_name: str) -> set[str]:
    functions = template.find_resources("AWS::Lambda::Function", {"Properties": {"FunctionName": function_name}})
    assert len(functions) == 1, function_name
    return set(next(iter(functions.values()))["Properties"]["Environment"]["Variables"])


@pytest.fixture
def local_stack_definition(aws) -> LocalStack:
    stack = LocalStack()
    stack.settings = load_settings("dev")
    stack.resources = aws
    stack.providers = choose_providers({})
    stack.gateway = SimpleNamespace(url="http://127.0.0.1:4750/dev")  # only its URL is read
    return stack


def test_the_local_router_gets_every_variable_of_the_deployed_router(dev, local_stack_definition):
    deployed = _deployed_environment(dev.template("api"), "ai-multi-comms-channel-router-dev")
    assert deployed <= set(local_stack_definition.router_environment())


@pytest.mark.parametrize("channel", ALL_CHANNELS, ids=[c.value for c in ALL_CHANNELS])
def test_each_local_processor_gets_every_variable_of_the_deployed_one(dev, local_stack_definition, channel: Channel):
    deployed = _deployed_environment(dev.template("processors"), f"ai-multi-comms-{channel.value}-processor-dev")
    local = local_stack_definition.processor_environment(channel)
    assert deployed <= set(local)
    assert local["CHANNEL"] == channel.value


def test_the_local_webhook_ingress_gets_every_variable_of_the_deployed_one(dev, local_stack_definition):
    deployed = _deployed_environment(dev.template("api"), "ai-multi-comms-webhook-ingress-dev")
    local = local_stack_definition.webhook_environment()
    assert deployed <= set(local)
    # Signatures are over the URL the provider called: locally, the gateway's (API_URL).
    assert local["PUBLIC_BASE_URL"] == "http://127.0.0.1:4750/dev"
    assert local["EVENTS_QUEUE_URL"] == local_stack_definition.resources.events_queue.queue_url


def test_the_local_events_processor_gets_every_variable_of_the_deployed_one(dev, local_stack_definition):
    deployed = _deployed_environment(dev.template("processors"), "ai-multi-comms-events-processor-dev")
    local = local_stack_definition.events_environment()
    assert deployed <= set(local)
    events_queue = local_stack_definition.resources.events_queue
    assert (local["QUEUE_URL"], local["DEAD_LETTER_QUEUE_URL"]) == (events_queue.queue_url, events_queue.dlq_url)
    assert local["VISIBILITY_TIMEOUT_SECONDS"] == str(dev.settings.events.visibility_timeout_seconds)


def _own(variables: set[str]) -> set[str]:
    # PythonFunction adds Powertools' variables to every function; the rest is the function's own.
    return {name for name in variables if not name.startswith("POWERTOOLS_")}


def test_every_variable_the_deployed_functions_get_is_one_their_settings_declare(dev):
    router = _deployed_environment(dev.template("api"), "ai-multi-comms-channel-router-dev")
    assert _own(router) <= RouterSettings.variable_names()
    assert "ENVIRONMENT" in router
    for channel in ALL_CHANNELS:
        processor = _deployed_environment(dev.template("processors"), f"ai-multi-comms-{channel.value}-processor-dev")
        assert _own(processor) <= ProcessorSettings.variable_names()
        assert "ENVIRONMENT" in processor
    ingress = _deployed_environment(dev.template("api"), "ai-multi-comms-webhook-ingress-dev")
    assert _own(ingress) <= WebhookSettings.variable_names()
    events = _deployed_environment(dev.template("processors"), "ai-multi-comms-events-processor-dev")
    assert _own(events) <= EventsSettings.variable_names()
    for stack, function_name, model in (
        ("api", "ai-multi-comms-conversation-reader-dev", ReaderSettings),
        ("processors", "ai-multi-comms-tenant-events-dev", TenantEventsSettings),
        ("processors", "ai-multi-comms-webhook-sender-dev", WebhookSenderSettings),
    ):
        deployed = _deployed_environment(dev.template(stack), function_name)
        assert _own(deployed) <= model.variable_names(), function_name
        assert "ENVIRONMENT" in deployed
