"""Where a command acts: a deployed environment of ``cdk.json``, or the running local stack.

``--env dev|prod``: the environment's region from ``cdk.json`` (``--region`` overrides it; the
caller's ``AWS_REGION``/``AWS_DEFAULT_REGION`` only when ``cdk.json`` names none), credentials as
boto3 finds them. A shell-wide ``AWS_REGION`` never sends a prod command to another region.

``--env local``: the values ``make local`` wrote to ``.local/env`` (its emulator's endpoint, region,
fake credentials, the environment whose names it uses), read from the file: no ``. .local/env``
needed, and nothing else in the caller's environment is consulted.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from local.env_file import read_env_file
from stacks.names import physical_name
from stacks.settings import SettingsError, load_settings
from tools.comms.errors import CommandError

LOCAL = "local"
ROOT = Path(__file__).resolve().parents[2]
# Tests (and anyone running a second local stack) point ``--env local`` at another state folder.
LOCAL_ENV_FILE_VARIABLE = "COMMS_LOCAL_ENV_FILE"


@dataclass(frozen=True)
class Target:
    env: str  # whose physical names: ``ai-multi-comms-<thing>-<env>`` (the local stack uses its ENVIRONMENT's)
    region: str
    endpoint_url: str | None = None  # the local emulator; None on AWS
    # What ``.local/env`` says (API_URL, API_KEY_ID, OPENAI_SANDBOX_URL…); empty on AWS.
    local_values: Mapping[str, str] = field(default_factory=dict)
    credentials: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_local(self) -> bool:
        return self.endpoint_url is not None

    def name(self, thing: str) -> str:
        return physical_name(thing, self.env)

    def session(self) -> Any:
        return boto3.session.Session(region_name=self.region, **self.credentials)

    def client(self, service: str) -> Any:
        return self.session().client(service, endpoint_url=self.endpoint_url)

    def resource(self, service: str) -> Any:
        return self.session().resource(service, endpoint_url=self.endpoint_url)


def resolve_target(env: str, region: str | None = None, *, environ: Mapping[str, str] = os.environ) -> Target:
    if env == LOCAL:
        return _local_target(Path(environ.get(LOCAL_ENV_FILE_VARIABLE) or ROOT / ".local" / "env"))
    try:
        settings = load_settings(env)
    except SettingsError as error:
        raise CommandError(str(error)) from None
    chosen = region or settings.region or environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
    if not chosen:
        raise CommandError(f"no region: pass --region or set one for {env!r} in cdk.json")
    return Target(env=env, region=chosen)


def _local_target(path: Path) -> Target:
    values = read_env_file(path)
    if not values.get("AWS_ENDPOINT_URL"):
        raise CommandError(f"{path} does not exist or names no endpoint: start the local stack with `make local` first")
    return Target(
        env=values.get("ENVIRONMENT", "dev"),
        region=values.get("AWS_REGION") or values.get("AWS_DEFAULT_REGION") or "eu-north-1",
        endpoint_url=values["AWS_ENDPOINT_URL"],
        local_values=values,
        credentials={
            "aws_access_key_id": values.get("AWS_ACCESS_KEY_ID", "testing"),
            "aws_secret_access_key": values.get("AWS_SECRET_ACCESS_KEY", "testing"),
        },
    )
