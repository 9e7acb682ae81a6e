"""Physical names: the operators' ``ai-multi-comms-<thing>-<env>`` convention, in one place."""

from __future__ import annotations

PREFIX = "ai-multi-comms"


def physical_name(thing: str, env: str) -> str:
    return f"{PREFIX}-{thing}-{env}"


def queue_name(channel: str, env: str) -> str:
    return physical_name(f"{channel}-queue", env)


def dlq_name(channel: str, env: str) -> str:
    return physical_name(f"{channel}-dlq", env)


def stack_id(stack: str, env: str) -> str:
    """``AiMultiComms-Data-dev``: the environment is in the id so dev and prod share an account."""
    return f"AiMultiComms-{stack}-{env}"


def openai_secret_name(channel: str, env: str) -> str:
    return f"{PREFIX}/openai-api-key/{channel}-{env}"


def credentials_secret_prefix(channel: str) -> str:
    return f"{PREFIX}/{channel}-credentials/"
