"""One reservation per ``company#project#request_id``: a client's retry is answered, not queued again.

The reservation is an item of the rate-limits table (key ``request#<company>#<project>#<request_id>``,
TTL ``expires_at``) holding a fingerprint of the validated request, the conversation id, queue
timestamp and (when its first message waits) ``scheduled_for`` the first request was answered
with, and a state:

- ``reserved``: a router is counting and queueing it (``owner`` names that router's attempt);
- ``queued``: the message is on the queue; an identical replay gets the first answer again;
- ``released``: queueing failed or a limit refused it; the next request with that id starts afresh.

Every step is one conditional UpdateItem, so concurrent routers are serialised by DynamoDB: of N
identical requests exactly one reserves. A reservation still ``reserved`` after
``TAKEOVER_AFTER_SECONDS`` belongs to a router that died (its Lambda timed out); an identical
request takes it over in the same conditional write. A different request under the same id is
refused for as long as the reservation lives.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from shared import json_codec
from shared.api_errors import DatabaseError, RequestIdReused, RequestInProgress
from shared.log_masking import describe_error
from shared.models.request import InitiateRequest

logger = Logger(child=True)

# Longer than any router timeout the settings allow (API Gateway gives up at 29 s, so the router's
# timeout is at most 29 s): a reservation this old has no live router behind it.
TAKEOVER_AFTER_SECONDS = 30
# How long an id stays reserved. A client retries within minutes; after a day a replay is queued
# again and the processor meets the conversation's existing record (same conversation_id).
KEEP_SECONDS = 24 * 3600
# A replay that finds the request still being queued is asked to come back this soon: the first
# request normally finishes within a second.
RETRY_AFTER_SECONDS = 1

KEY_PREFIX = "request"  # counters are <company>#<project>#<window>#<n>; ids never equal "request#…"
RESERVED, QUEUED, RELEASED = "reserved", "queued", "released"

_NAMES = {
    "#key": "limit_key",
    "#state": "request_state",
    "#fingerprint": "fingerprint",
    "#conversation": "conversation_id",
    "#queued_at": "queue_timestamp",
    "#owner": "owner",
    "#reserved_at": "reserved_at",
    "#expires": "expires_at",
    "#scheduled_for": "scheduled_for",
}


@dataclass(frozen=True)
class Reservation:
    """This router's claim on the request id; only its owner may mark it queued or release it."""

    key: str
    owner: str


@dataclass(frozen=True)
class AlreadyQueued:
    """An identical request was queued before: answer as the first time, queue and count nothing."""

    conversation_id: str
    queue_timestamp: str
    # The first answer's, not recomputed: a replay an hour later must name the same instant.
    scheduled_for: str | None = None


def request_fingerprint(request: InitiateRequest) -> str:
    """SHA-256 of the validated request as canonical JSON (keys sorted, numbers exact).

    The validated model is hashed, not the raw body: ``company_data.api_key`` is already dropped,
    and what validation normalises (channel case, request id case, the recipient's email case)
    does not make two requests different.
    """
    canonical = json_codec.dumps(request.model_dump(), sort_keys=True)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class RequestLedger:
    def __init__(self, dynamodb: Any, table_name: str, *, clock: Callable[[], float] = time.time):
        self._dynamodb = dynamodb
        self._table_name = table_name
        self._clock = clock

    def reserve(
        self,
        request: InitiateRequest,
        *,
        conversation_id: str,
        queue_timestamp: str,
        scheduled_for: str | None = None,
    ) -> Reservation | AlreadyQueued:
        """Reserve the request's id, or say how an earlier request with that id was answered.

        Raises ``RequestIdReused`` (409) for a different request under a used id, and
        ``RequestInProgress`` (409, Retry-After) while an identical one is being queued.
        """
        company = request.company_data
        key = f"{KEY_PREFIX}#{company.company_id}#{company.project_id}#{request.request_data.request_id}"
        fingerprint = request_fingerprint(request)
        owner = str(uuid.uuid4())
        now = int(self._clock())
        assignments = (
            "SET #state = :reserved, #fingerprint = :fingerprint, #conversation = :conversation, "
            "#queued_at = :queued_at, #owner = :owner, #reserved_at = :now, #expires = :expires"
        )
        # A taken-over or released reservation must not keep an earlier attempt's schedule.
        if scheduled_for is None:
            update, schedule_value = f"{assignments} REMOVE #scheduled_for", {}
        else:
            update, schedule_value = (
                f"{assignments}, #scheduled_for = :scheduled_for",
                {":scheduled_for": {"S": scheduled_for}},
            )
        try:
            self._dynamodb.update_item(
                TableName=self._table_name,
                Key={"limit_key": {"S": key}},
                UpdateExpression=update,
                # Free, expired (TTL deletes lazily), released, or an identical request's abandoned
                # reservation: take it. Anything else is explained by the item returned.
                ConditionExpression=(
                    "attribute_not_exists(#key) OR #expires < :now OR #state = :released "
                    "OR (#state = :reserved AND #fingerprint = :fingerprint AND #reserved_at < :stale)"
                ),
                ExpressionAttributeNames=_NAMES,
                ExpressionAttributeValues={
                    ":reserved": {"S": RESERVED},
                    ":released": {"S": RELEASED},
                    ":fingerprint": {"S": fingerprint},
                    ":conversation": {"S": conversation_id},
                    ":queued_at": {"S": queue_timestamp},
                    ":owner": {"S": owner},
                    ":now": {"N": str(now)},
                    ":stale": {"N": str(now - TAKEOVER_AFTER_SECONDS)},
                    ":expires": {"N": str(now + KEEP_SECONDS)},
                    **schedule_value,
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if _code(error) != "ConditionalCheckFailedException" or "Item" not in error.response:
                raise DatabaseError("The request id could not be reserved") from error
            return _earlier(error.response["Item"], fingerprint)
        except BotoCoreError as error:
            raise DatabaseError("The request id could not be reserved") from error
        return Reservation(key=key, owner=owner)

    def mark_queued(self, reservation: Reservation) -> None:
        """The message is on the queue: replays get the first answer from now on.

        A failure here is logged, not raised: the request *was* queued, and answering 500 would
        invite a retry. The reservation stays ``reserved``; a replay gets 409 until it can take
        it over, and then queues a copy the processor recognises by its conversation_id.
        """
        try:
            self._set_state(reservation, QUEUED)
        except (ClientError, BotoCoreError) as error:
            logger.error("Request queued but its reservation not updated", extra={"cause": describe_error(error)})

    def release(self, reservation: Reservation) -> None:
        """The request was not queued: the next request with this id starts afresh."""
        try:
            self._set_state(reservation, RELEASED)
        except (ClientError, BotoCoreError) as error:
            # The reservation stays "reserved" and is taken over after TAKEOVER_AFTER_SECONDS.
            logger.error("Request id reservation not released", extra={"cause": describe_error(error)})

    def _set_state(self, reservation: Reservation, state: str) -> None:
        self._dynamodb.update_item(
            TableName=self._table_name,
            Key={"limit_key": {"S": reservation.key}},
            UpdateExpression="SET #state = :state",
            ConditionExpression="#owner = :owner AND #state = :reserved",
            ExpressionAttributeNames={"#state": "request_state", "#owner": "owner"},
            ExpressionAttributeValues={
                ":state": {"S": state},
                ":owner": {"S": reservation.owner},
                ":reserved": {"S": RESERVED},
            },
        )


def _earlier(item: dict[str, Any], fingerprint: str) -> AlreadyQueued:
    """How the request that holds the id was answered; raises when this one must be refused."""
    if item.get("fingerprint", {}).get("S") != fingerprint:
        raise RequestIdReused(
            "This request_id was already used for a different request of this project; send a new request_id"
        )
    if item.get("request_state", {}).get("S") == QUEUED:
        return AlreadyQueued(
            conversation_id=item["conversation_id"]["S"],
            queue_timestamp=item["queue_timestamp"]["S"],
            scheduled_for=item.get("scheduled_for", {}).get("S"),
        )
    raise RequestInProgress(
        "An identical request is being queued; retry shortly", retry_after_seconds=RETRY_AFTER_SECONDS
    )


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
