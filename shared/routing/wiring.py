"""Builds a ``Router`` with its AWS clients, from values the handler reads out of its settings."""

from __future__ import annotations

from collections.abc import Mapping

import boto3
from botocore.config import Config

from shared.channels import Channel
from shared.routing.company_directory import CompanyDirectory
from shared.routing.consent_check import ConsentCheck
from shared.routing.queue_sender import ChannelQueues
from shared.routing.rate_limiter import ProjectRateLimiter
from shared.routing.request_ledger import RequestLedger
from shared.routing.router import Router

# API Gateway waits 29 s and the router's timeout is 10 s: three attempts of a call that normally
# takes milliseconds, each cut short after 1 s to connect and 2 s to answer, keep a slow AWS
# dependency from turning into a Lambda timeout. "standard" retries only throttling, 5xx and
# connection errors, with exponential backoff and jitter.
AWS_CLIENT_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 3},
    connect_timeout=1,
    read_timeout=2,
    tcp_keepalive=True,
)


def build_router(
    *,
    company_table: str,
    rate_limit_table: str,
    suppressions_table: str,
    consent_key_secret_id: str,
    queue_urls: Mapping[Channel, str],
    router_version: str,
    environment: str,
    callback_base_url: str,
    region: str | None = None,
) -> Router:
    session = boto3.session.Session(region_name=region)
    dynamodb = session.client("dynamodb", config=AWS_CLIENT_CONFIG)
    sqs = session.client("sqs", config=AWS_CLIENT_CONFIG)
    secrets = session.client("secretsmanager", config=AWS_CLIENT_CONFIG)
    return Router(
        directory=CompanyDirectory(dynamodb, company_table),
        # Request-id reservations share the rate-limits table (same TTL attribute, no new table).
        ledger=RequestLedger(dynamodb, rate_limit_table),
        limiter=ProjectRateLimiter(dynamodb, rate_limit_table),
        queues=ChannelQueues(sqs, queue_urls),
        consent=ConsentCheck(dynamodb, suppressions_table, secrets, consent_key_secret_id),
        router_version=router_version,
        environment=environment,
        callback_base_url=callback_base_url,
    )
