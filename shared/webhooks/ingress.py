"""The webhook ingress: a provider's request, verified with the tenant's credentials, onto the events queue.

1. The route (from API Gateway's resource template) says which webhook's rules apply.
2. The body: within the route's size limit, the provider's content type, parseable.
3. The signature headers present (and SendGrid's timestamp inside the replay window; Inbound
   Parse: its URL's token present).
4. The project of the path, and the secrets of its channels served by that provider.
5. The signature (or Inbound Parse's token), with those secrets (over the configured public URL,
   never one the request names).
6. One queue message per event (a SendGrid batch is split), then the provider's 2xx at once.

Nothing is queued before step 5 passes; every refusal is a bare status, counted and logged once.

``/unsubscribe/{token}`` (issue 12) is served here too but is not a provider's webhook: it goes to
``shared.webhooks.unsubscribe`` before any of the steps above.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from shared.events.envelope import Provider, ProviderEvent
from shared.log_masking import mask_text
from shared.processing import metric_names
from shared.webhooks import responses
from shared.webhooks.event_queue import EventQueue
from shared.webhooks.project_secrets import ProjectSecrets
from shared.webhooks.refusals import Refused, RouteUnknown, SignatureRefused
from shared.webhooks.request import WebhookRequest, read_webhook_request
from shared.webhooks.routes import (
    SENDGRID_EVENTS,
    SENDGRID_INBOUND,
    TWILIO_INBOUND,
    TWILIO_STATUS,
    UNSUBSCRIBE_PATH,
    WebhookRoute,
    route_for,
)
from shared.webhooks.sendgrid_inbound import SendGridInboundWebhook
from shared.webhooks.sendgrid_webhook import SendGridWebhook
from shared.webhooks.settings import WebhookSettings
from shared.webhooks.twilio_webhook import TwilioWebhook
from shared.webhooks.unsubscribe import OneClickUnsubscribe
from shared.webhooks.verification_keys import VerificationKeys


class ProviderWebhook(Protocol):
    """What differs between webhooks: body format, signature, answer."""

    provider: Provider
    credentials: type[Any]
    media_type: str

    def max_body_bytes(self, settings: WebhookSettings) -> int: ...

    def payloads(self, request: WebhookRequest, body: bytes) -> list[dict[str, Any]]: ...

    def signature_check(
        self, request: WebhookRequest, url: str, body: bytes, payloads: list[dict[str, Any]], now: float
    ) -> Callable[[Any], bool]: ...

    def accepted(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Accepted:
    route: WebhookRoute
    company_id: str
    project_id: str
    events: int


class Ingress:
    def __init__(
        self,
        *,
        settings: WebhookSettings,
        projects: ProjectSecrets,
        keys: VerificationKeys,
        queue: EventQueue,
        unsubscribe: OneClickUnsubscribe,
        logger: Logger,
        metrics: Metrics,
        wall_clock: Callable[[], float] = time.time,
    ):
        self._settings = settings
        self._projects = projects
        self._keys = keys
        self._queue = queue
        self._unsubscribe = unsubscribe
        self._logger = logger
        self._metrics = metrics
        self._wall_clock = wall_clock
        twilio = TwilioWebhook()
        self._webhooks: Mapping[WebhookRoute, ProviderWebhook] = {
            TWILIO_STATUS: twilio,
            TWILIO_INBOUND: twilio,
            SENDGRID_EVENTS: SendGridWebhook(settings.signature_max_age_seconds),
            SENDGRID_INBOUND: SendGridInboundWebhook(),
        }

    def handle(self, event: Mapping[str, Any]) -> dict[str, Any]:
        request = read_webhook_request(event)
        if request.resource == UNSUBSCRIBE_PATH:
            return self._unsubscribe.handle(request)
        route = route_for(request.resource)
        try:
            if route is None:
                raise RouteUnknown(f"{request.resource[:200]!r} is not a webhook route")
            webhook = self._webhooks[route]
            accepted = self._accept(request, route, webhook)
        except Refused as refusal:
            return self._refuse(request, route, refusal)
        self._metrics.add_metric(name=metric_names.WEBHOOK_ACCEPTED, unit=MetricUnit.Count, value=1)
        self._logger.info(
            "Webhook accepted",
            extra={
                "provider": route.provider.value,
                "kind": route.kind.value,
                "company_id": accepted.company_id,
                "project_id": accepted.project_id,
                "events": accepted.events,
                "gateway_request_id": request.gateway_request_id,
            },
        )
        return webhook.accepted()

    def _accept(self, request: WebhookRequest, route: WebhookRoute, webhook: ProviderWebhook) -> Accepted:
        body = request.body(webhook.max_body_bytes(self._settings))
        request.require_media_type(webhook.media_type)
        payloads = webhook.payloads(request, body)
        company_id, project_id = request.tenant()
        url = route.url(self._settings.public_base_url, company_id, project_id)
        # Before any read: a request without signature headers, or outside SendGrid's window, costs nothing.
        check = webhook.signature_check(request, url, body, payloads, self._wall_clock())
        secret_ids = self._projects.for_provider(company_id, project_id, route.provider)
        verdict = self._keys.verify(secret_ids, webhook.credentials, check)
        if not verdict.verified:
            raise SignatureRefused("; ".join(["the signature does not verify", *verdict.problems]))
        received_at = datetime.now(UTC)
        events = [
            ProviderEvent(
                provider=route.provider,
                kind=route.kind,
                company_id=company_id,
                project_id=project_id,
                received_at=received_at,
                correlation_id=request.gateway_request_id,
                callback_base_url=self._settings.public_base_url,
                payload=payload,
            )
            for payload in payloads
        ]
        self._queue.send(self._queue.bodies(events))
        return Accepted(route=route, company_id=company_id, project_id=project_id, events=len(events))

    def _refuse(self, request: WebhookRequest, route: WebhookRoute | None, refusal: Refused) -> dict[str, Any]:
        self._metrics.add_metric(name=metric_names.WEBHOOK_REJECTED, unit=MetricUnit.Count, value=1)
        if refusal.signature:
            self._metrics.add_metric(name=metric_names.WEBHOOK_SIGNATURE_REJECTED, unit=MetricUnit.Count, value=1)
        log = self._logger.error if refusal.status >= 500 else self._logger.warning
        log(
            "Webhook refused",
            extra={
                "status": refusal.status,
                "refusal": type(refusal).__name__,
                "reason": refusal.reason,
                "provider": route.provider.value if route else None,
                "kind": route.kind.value if route else None,
                # As the path gave them, maybe not ids at all: shortened and masked.
                "company_id": _loggable(request.company_id),
                "project_id": _loggable(request.project_id),
                "gateway_request_id": request.gateway_request_id,
            },
        )
        return responses.bare(refusal.status)


def _loggable(value: str | None) -> str | None:
    return None if value is None else mask_text(value[:80])
