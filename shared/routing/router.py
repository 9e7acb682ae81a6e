"""The channel router's flow: proxy event in, context message queued, proxy response out.

1. read the event (size limit, base64, JSON) and validate the request (``shared.request_errors``);
2. load the company/project record and check that the calling API key is bound to it;
3. check the project is active, allows the channel and names only its own secrets for it, and that
   the recipient has not opted out of the channel for this company (the suppression list);
4. decide when the first message may go (``send_at``, the project's send windows in the
   recipient's zone: ``shared.consent.schedule``) and build the context message (and check it
   fits a queue message);
5. reserve the request id: a replay of a queued request gets the first answer, nothing more;
6. count the request against the project's limits;
7. queue it and mark the reservation queued; if anything fails first, give back what was taken.
Every failure is an ``ApiError`` answered with its status and code. The answer comes with how the
request ended (accepted, replayed, rejected, failed: ``shared.routing.request_outcome``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger

from shared.api_errors import ApiError, ServerFault
from shared.consent.schedule import schedule_request
from shared.log_masking import describe_error, mask_address
from shared.models.context import Schedule
from shared.models.request import InitiateRequest
from shared.processing.times import iso
from shared.request_errors import parse_initiate_request
from shared.routing.access import require_bound_api_key, require_open_for, require_own_secrets
from shared.routing.company_directory import CompanyDirectory, company_record
from shared.routing.consent_check import ConsentCheck
from shared.routing.context_builder import build_context, queue_body
from shared.routing.proxy_request import client_request_id, read_proxy_request
from shared.routing.queue_sender import ChannelQueues
from shared.routing.rate_limiter import ProjectRateLimiter
from shared.routing.request_ledger import AlreadyQueued, RequestLedger
from shared.routing.request_outcome import ACCEPTED, REPLAYED, Routed, refused
from shared.routing.responses import error_response, success_response

logger = Logger(child=True)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Router:
    directory: CompanyDirectory
    ledger: RequestLedger
    limiter: ProjectRateLimiter
    queues: ChannelQueues
    consent: ConsentCheck
    router_version: str
    environment: str  # the deployment environment, whose secrets a project's record may name
    callback_base_url: str  # the public base URL providers' callbacks reach this API at
    clock: Callable[[], datetime] = utc_now

    def route(self, event: dict[str, Any]) -> Routed:
        request_id: str | None = None
        try:
            proxy = read_proxy_request(event)
            request_id = client_request_id(proxy.body)
            now = self.clock()
            request = parse_initiate_request(proxy.body, now=now)
            _describe_in_logs(request)
            return self._accept(request, now=now, api_key_id=proxy.api_key_id, correlation_id=proxy.gateway_request_id)
        except ApiError as error:
            _log_refusal(error)
            return Routed(error_response(error, request_id=request_id), refused(error))

    def _accept(
        self, request: InitiateRequest, *, now: datetime, api_key_id: str | None, correlation_id: str | None
    ) -> Routed:
        company = request.company_data
        item = self.directory.load(company.company_id, company.project_id)
        require_bound_api_key(item, api_key_id)
        record = company_record(item)
        require_open_for(record, request.channel)
        require_own_secrets(record, request.channel, self.environment)
        # Before anything is reserved, counted or queued: a refused request leaves no trace.
        self.consent.require_not_suppressed(company.company_id, request.channel, request.recipient_address)
        schedule = schedule_request(request, record.consent.send_windows, now=now)
        message = build_context(
            request,
            record,
            router_version=self.router_version,
            queued_at=now,
            correlation_id=correlation_id,
            callback_base_url=self.callback_base_url,
            schedule=schedule,
        )
        body = queue_body(message)
        queue_timestamp = iso(now)
        scheduled_for = _scheduled_for(schedule)
        claim = self.ledger.reserve(
            request,
            conversation_id=message.conversation_id,
            queue_timestamp=queue_timestamp,
            scheduled_for=scheduled_for,
        )
        if isinstance(claim, AlreadyQueued):
            logger.info("Replay of a queued request answered", extra={"conversation_id": claim.conversation_id})
            replay = success_response(
                request_id=request.request_data.request_id,
                conversation_id=claim.conversation_id,
                queue_timestamp=claim.queue_timestamp,
                scheduled_for=claim.scheduled_for,
            )
            return Routed(replay, REPLAYED)
        try:
            counted = self.limiter.reserve(company.company_id, company.project_id, record.rate_limits)
            try:
                message_id = self.queues.send(message, body)
            except ApiError:
                self.limiter.release(counted)
                raise
        except Exception:
            self.ledger.release(claim)
            raise
        self.ledger.mark_queued(claim)
        logger.info(
            "Request queued",
            extra={
                "conversation_id": message.conversation_id,
                "sqs_message_id": message_id,
                "scheduled_for": scheduled_for,
                "schedule_reason": schedule.reason if schedule is not None else None,
            },
        )
        accepted = success_response(
            request_id=request.request_data.request_id,
            conversation_id=message.conversation_id,
            queue_timestamp=queue_timestamp,
            scheduled_for=scheduled_for,
        )
        return Routed(accepted, ACCEPTED)


def _scheduled_for(schedule: Schedule | None) -> str | None:
    return iso(schedule.scheduled_for) if schedule is not None else None


def _describe_in_logs(request: InitiateRequest) -> None:
    """Keys every later log line of this invocation carries; the recipient's address is masked."""
    logger.append_keys(
        company_id=request.company_data.company_id,
        project_id=request.company_data.project_id,
        request_id=request.request_data.request_id,
        channel=request.channel.value,
        recipient=mask_address(request.recipient_address),
    )


def _log_refusal(error: ApiError) -> None:
    fields: dict[str, Any] = {"error_code": error.error_code, "status_code": error.status_code}
    if isinstance(error, ServerFault) and error.__cause__ is not None:
        fields["cause"] = describe_error(error.__cause__)
        logger.error("Request failed", extra=fields)
    else:
        logger.info("Request refused", extra=fields)
