"""Names of the engine's secrets (DESIGN §6), shared by the processors (which check what they are
asked to read), the router and the operator tools (which check what a company record names), and
the CDK app (which scopes IAM to the same names)."""

from __future__ import annotations

PREFIX = "ai-multi-comms"


def openai_secret_name(channel: str, env: str) -> str:
    """``ai-multi-comms/openai-api-key/<channel>-<env>``: one OpenAI key per channel and environment."""
    return f"{PREFIX}/openai-api-key/{channel}-{env}"


def openai_secret_prefix(channel: str) -> str:
    return f"{PREFIX}/openai-api-key/{channel}-"


def credentials_secret_prefix(channel: str) -> str:
    """Provider credentials: ``ai-multi-comms/<channel>-credentials/<company_id>/<project_id>/<provider>-<env>``."""
    return f"{PREFIX}/{channel}-credentials/"


def credentials_secret_name(channel: str, company_id: str, project_id: str, provider: str, env: str) -> str:
    """The name of one project's provider credentials on one channel in one environment.

    The tenant is in the name so that a record can only name its own credentials: identifiers
    cannot hold ``/``, so no other tenant's name can equal this one.
    """
    return f"{credentials_secret_prefix(channel)}{company_id}/{project_id}/{provider}-{env}"


def credentials_secret_problem(
    secret_id: str, *, channel: str, company_id: str, project_id: str, provider: str, env: str
) -> str | None:
    """Why ``secret_id`` is not the ``channel`` credentials of ``company_id``/``project_id`` in
    ``env``, or None when it is. The one rule the operator tool, the router and the processors apply.
    """
    expected = credentials_secret_name(channel, company_id, project_id, provider, env)
    if secret_id == expected:
        return None
    return (
        f"{secret_id!r} is not the {channel} credentials of {company_id}/{project_id} in {env}; "
        f"those are named {expected!r}"
    )


def openai_secret_problem(secret_id: str, *, channel: str, env: str) -> str | None:
    """Why ``secret_id`` is not the shared OpenAI key of ``channel`` in ``env`` (e.g. a tenant's
    provider credentials named as the OpenAI key), or None when it is."""
    expected = openai_secret_name(channel, env)
    if secret_id == expected:
        return None
    return f"{secret_id!r} is not the OpenAI key of the {channel} channel in {env}; that is named {expected!r}"


def consent_key_secret_name(env: str) -> str:
    """``ai-multi-comms/consent-key-<env>``: the HMAC key of the suppression list's address hashes and
    of the unsubscribe tokens (issue 12, shared/consent/address_hash.py). One per environment."""
    return f"{PREFIX}/consent-key-{env}"


def webhook_secret_prefix() -> str:
    """Tenant webhook signing secrets (issue 13): ``ai-multi-comms/webhook-secrets/<company_id>/<project_id>-<env>``."""
    return f"{PREFIX}/webhook-secrets/"


def webhook_secret_name(company_id: str, project_id: str, env: str) -> str:
    """The Standard Webhooks signing secret (``whsec_<base64>``) of one project in one environment;
    the tenant is in the name for the same reason as the provider credentials'."""
    return f"{webhook_secret_prefix()}{company_id}/{project_id}-{env}"


def webhook_secret_problem(secret_id: str, *, company_id: str, project_id: str, env: str) -> str | None:
    """Why ``secret_id`` is not the webhook signing secret of ``company_id``/``project_id`` in ``env``."""
    expected = webhook_secret_name(company_id, project_id, env)
    if secret_id == expected:
        return None
    return (
        f"{secret_id!r} is not the webhook signing secret of {company_id}/{project_id} in {env}; "
        f"that is named {expected!r}"
    )
