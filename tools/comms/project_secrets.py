"""The secrets a project's record needs, and whether each is there and usable: what
``comms secrets check`` reports (names, field names and dates; never a value)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from shared.channels import ALL_CHANNELS, Channel
from shared.models.company import CompanyRecord
from shared.secret_names import openai_secret_name, webhook_secret_name
from tools.comms.secret_shapes import Verdict, credentials_secret, openai_secret, webhook_secret
from tools.comms.secret_store import secret_state


@dataclass(frozen=True)
class NeededSecret:
    kind: str  # openai | credentials | webhook
    channel: Channel | None
    name: str  # the project's own secret of this kind, the only one the engine reads
    named_by_record: str
    verdict: Callable[[str], Verdict]


@dataclass(frozen=True)
class SecretReport:
    kind: str
    channel: str | None
    name: str
    exists: bool
    valid: bool
    last_changed: str | None
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def row(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "channel": self.channel,
            "secret": self.name,
            "exists": self.exists,
            "valid": self.valid,
            "last_changed": self.last_changed,
            "problems": self.problems,
            "notes": self.notes,
        }


def needed_secrets(record: CompanyRecord, env: str) -> list[NeededSecret]:
    """The provider credentials and OpenAI key of each channel the record configures, and the
    webhook signing secret when it has a webhook."""
    needed: list[NeededSecret] = []
    for channel in ALL_CHANNELS:
        config = record.channel_config.for_channel(channel)
        if config is not None:
            own = config.credentials_secret_name(record.company_id, record.project_id, env)
            shape = partial(credentials_secret, channel)
            needed.append(NeededSecret("credentials", channel, own, config.credentials_secret_id, shape))
        ai = record.ai_config.openai_config.get(channel)
        if ai is not None:
            needed.append(
                NeededSecret("openai", channel, openai_secret_name(channel, env), ai.api_key_reference, openai_secret)
            )
    if record.webhook is not None:
        own = webhook_secret_name(record.company_id, record.project_id, env)
        needed.append(NeededSecret("webhook", None, own, record.webhook.secret_reference, webhook_secret))
    return needed


def check_secret(secretsmanager: Any, needed: NeededSecret) -> SecretReport:
    problems: list[str] = []
    if needed.named_by_record != needed.name:
        # The engine refuses any other name (shared.secret_names): this one is what must exist.
        problems.append(f"the record names {needed.named_by_record!r} instead")
    state = secret_state(secretsmanager, needed.name)
    verdict = Verdict()
    if not state.exists:
        problems.append("missing")
    elif state.scheduled_for_deletion:
        problems.append("scheduled for deletion")
    elif state.value is None:
        problems.append("no value yet")
    else:
        verdict = needed.verdict(state.value)
    return SecretReport(
        kind=needed.kind,
        channel=needed.channel.value if needed.channel else None,
        name=needed.name,
        exists=state.exists and not state.scheduled_for_deletion,
        valid=state.value is not None and verdict.valid,
        last_changed=state.last_changed.isoformat() if state.last_changed else None,
        problems=problems + verdict.problems,
        notes=verdict.notes,
    )
