"""The region an operator tool talks to: ``--region``, else ``AWS_REGION``/``AWS_DEFAULT_REGION``,
else the environment's region in cdk.json (where the CDK app deployed it).

boto3 reads only ``AWS_DEFAULT_REGION`` (and ~/.aws/config); the local stack's ``.local/env`` and
Lambda set ``AWS_REGION``. Resolving it here keeps every tool pointed at the same place.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import boto3

from stacks.settings import load_settings


def add_region_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--region", help="AWS region (default: $AWS_REGION, $AWS_DEFAULT_REGION, else the environment's in cdk.json)"
    )


def resolve_region(environment: str, explicit: str | None = None) -> str:
    region = (
        explicit
        or os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION")
        or load_settings(environment).region
    )
    if not region:
        raise SystemExit(f"error: no region: pass --region or set one for {environment!r} in cdk.json")
    return region


def session(environment: str, explicit_region: str | None = None) -> Any:
    """A boto3 session in the tool's region (credentials and AWS_ENDPOINT_URL as boto3 finds them)."""
    return boto3.session.Session(region_name=resolve_region(environment, explicit_region))
