"""Tenant isolation and project rules: may this API key act for this project, on this channel?"""

from __future__ import annotations

from typing import Any

from shared.api_errors import ApiKeyNotAuthorized, ChannelNotAllowed, ConfigurationError, ProjectInactive
from shared.channels import Channel
from shared.models.company import CompanyRecord

_NOT_AUTHORIZED = "The API key is not authorised for this company and project"


def require_bound_api_key(item: dict[str, Any], api_key_id: str | None) -> None:
    """Checked on the raw record, before anything else about it, so that a key of another tenant
    learns nothing about the project (its status, channels, or whether its configuration is valid).
    """
    bound = item.get("api_key_ids")
    if api_key_id is None or not isinstance(bound, list | set | tuple) or api_key_id not in bound:
        raise ApiKeyNotAuthorized(_NOT_AUTHORIZED)


def require_open_for(record: CompanyRecord, channel: Channel) -> None:
    if not record.is_active:
        raise ProjectInactive("The project is not active")
    if channel not in record.allowed_channels:
        raise ChannelNotAllowed(f"The project does not allow the {channel.value} channel")


class SecretsOutsideTenant(ValueError):
    """The record names a secret that is not its project's own: the operator reads which in the log."""


def require_own_secrets(record: CompanyRecord, channel: Channel, env: str) -> None:
    """The channel's provider credentials must be this project's and its OpenAI key the channel's
    shared one; else nothing is queued, as for any other broken configuration (a copy-pasted
    secret id would send through another tenant's account)."""
    problems = record.secret_problems(env, channels=[channel])
    if problems:
        raise ConfigurationError(
            f"The project's {channel.value} configuration names secrets that are not its own"
        ) from SecretsOutsideTenant("; ".join(problems))
