"""Physical names: the operators' ``ai-multi-comms-<thing>-<env>`` convention, in one place."""

from __future__ import annotations

from shared.secret_names import credentials_secret_prefix, openai_secret_name, webhook_secret_prefix

PREFIX = "ai-multi-comms"
# The events queue (``ai-multi-comms-events-queue-<env>``) and the two functions of the webhook
# path; the function names are also their Powertools service (the metrics' ``service`` dimension).
EVENTS_QUEUE = "events"
WEBHOOK_INGRESS = "webhook-ingress"
EVENTS_PROCESSOR = "events-processor"
# Issue 13, the tenant's side: the read API's function, the function that derives tenant events
# from the conversations table's stream, and the one that delivers them to the tenant's URL from
# the FIFO queue ``ai-multi-comms-webhooks-queue-<env>.fifo`` (DLQ ``…-webhooks-dlq-<env>.fifo``).
CONVERSATION_READER = "conversation-reader"
TENANT_EVENTS = "tenant-events"
WEBHOOK_SENDER = "webhook-sender"
WEBHOOKS_QUEUE = "webhooks"


def physical_name(thing: str, env: str) -> str:
    return f"{PREFIX}-{thing}-{env}"


def dashboard_name(env: str) -> str:
    """``ai-multi-comms-<env>``: the environment's one operations dashboard."""
    return f"{PREFIX}-{env}"


def queue_name(channel: str, env: str) -> str:
    return physical_name(f"{channel}-queue", env)


def dlq_name(channel: str, env: str) -> str:
    return physical_name(f"{channel}-dlq", env)


def fifo_queue_name(thing: str, env: str) -> str:
    """FIFO queues (and their DLQs, which must be FIFO too) end ``.fifo``."""
    return f"{queue_name(thing, env)}.fifo"


def fifo_dlq_name(thing: str, env: str) -> str:
    return f"{dlq_name(thing, env)}.fifo"


def webhook_secret_resource_pattern(env: str) -> str:
    """Any project's webhook signing secret in this environment."""
    return f"{webhook_secret_prefix()}*-{env}-??????"


def scheduler_role_name(env: str) -> str:
    """The role EventBridge Scheduler assumes to deliver a wake-up to a channel queue (issue 12)."""
    return physical_name("wakeup-scheduler", env)


def stack_id(stack: str, env: str) -> str:
    """``AiMultiComms-Data-dev``: the environment is in the id so dev and prod share an account."""
    return f"AiMultiComms-{stack}-{env}"


def processor_name(channel: str) -> str:
    """``<channel>-processor``: the function is ``ai-multi-comms-<channel>-processor-<env>``."""
    return f"{channel}-processor"


def openai_secret_resource_pattern(channel: str, env: str) -> str:
    """The secret's ARN resource name, whatever suffix Secrets Manager added (``-`` and six characters)."""
    return f"{openai_secret_name(channel, env)}-??????"


def credentials_secret_resource_pattern(channel: str, env: str) -> str:
    """Any project's credentials of this channel in this environment (their names end ``-<env>``)."""
    return f"{credentials_secret_prefix(channel)}*-{env}-??????"
