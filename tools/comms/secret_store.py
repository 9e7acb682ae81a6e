"""Writing and inspecting secrets in Secrets Manager for the operator: what was done and when,
never a value."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

DESCRIPTION = "Written by `comms secrets put` (AI Multi-Comms Engine)"


@dataclass(frozen=True)
class Stored:
    name: str
    action: str  # created | updated
    version_id: str


def store_secret(secretsmanager: Any, name: str, value: str) -> Stored:
    """A new version of ``name`` holding ``value``, creating the secret when it does not exist
    (ProcessorStack creates the OpenAI ones empty; provider and webhook secrets are per tenant)."""
    try:
        answer = secretsmanager.put_secret_value(SecretId=name, SecretString=value)
        action = "updated"
    except secretsmanager.exceptions.ResourceNotFoundException:
        answer = secretsmanager.create_secret(Name=name, SecretString=value, Description=DESCRIPTION)
        action = "created"
    return Stored(name=name, action=action, version_id=answer.get("VersionId", ""))


@dataclass(frozen=True)
class SecretState:
    exists: bool
    value: str | None = None  # read to check its shape; never shown
    last_changed: datetime | None = None
    scheduled_for_deletion: bool = False


def secret_state(secretsmanager: Any, name: str) -> SecretState:
    try:
        described = secretsmanager.describe_secret(SecretId=name)
    except secretsmanager.exceptions.ResourceNotFoundException:
        return SecretState(exists=False)
    if described.get("DeletedDate") is not None:
        return SecretState(exists=True, last_changed=described.get("LastChangedDate"), scheduled_for_deletion=True)
    try:
        value = secretsmanager.get_secret_value(SecretId=name).get("SecretString")
    except secretsmanager.exceptions.ResourceNotFoundException:  # created empty: no version yet
        value = None
    return SecretState(exists=True, value=value, last_changed=described.get("LastChangedDate"))
