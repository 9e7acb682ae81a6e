"""Names of the engine's secrets (DESIGN §6), shared by the processors (which check what they are
asked to read) and the CDK app (which scopes IAM to the same names)."""

from __future__ import annotations

PREFIX = "ai-multi-comms"


def openai_secret_name(channel: str, env: str) -> str:
    """``ai-multi-comms/openai-api-key/<channel>-<env>``: one OpenAI key per channel and environment."""
    return f"{PREFIX}/openai-api-key/{channel}-{env}"


def openai_secret_prefix(channel: str) -> str:
    return f"{PREFIX}/openai-api-key/{channel}-"


def credentials_secret_prefix(channel: str) -> str:
    """Provider credentials: ``ai-multi-comms/<channel>-credentials/<company>/<project>/<provider>-<env>``."""
    return f"{PREFIX}/{channel}-credentials/"
