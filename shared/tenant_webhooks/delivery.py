"""Delivers one queued tenant event: the project's current webhook, its own signing secret, a
checked target, one signed POST. Returns what should happen to the message; never raises for
anything about the tenant's side."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from shared.api_errors import CompanyNotFound, DatabaseError
from shared.log_masking import mask_text
from shared.models.company import WebhookConfig
from shared.models.tenant_events import WebhookEvent
from shared.routing.company_directory import CompanyDirectory
from shared.tenant_webhooks import target
from shared.tenant_webhooks.outcome import Outcome, Verdict, outcome_of_status
from shared.tenant_webhooks.settings import WebhookSenderSettings
from shared.tenant_webhooks.signing import signed_headers
from shared.tenant_webhooks.signing_secrets import SecretUnusable, SigningSecrets

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class WebhookDelivery:
    def __init__(
        self,
        *,
        companies: CompanyDirectory,
        secrets: SigningSecrets,
        settings: WebhookSenderSettings,
        logger: Any,
        resolver: target.Resolver = target.system_resolver,
        clock: Clock = utc_now,
    ):
        self._companies = companies
        self._secrets = secrets
        self._settings = settings
        self._logger = logger
        self._resolver = resolver
        self._clock = clock

    def deliver(self, event: WebhookEvent, body: str) -> Outcome:
        """``body`` is the queued text of ``event``: sent as it is, so every attempt (and a replay)
        carries the same bytes under the same ``webhook-id``."""
        outcome = self._attempt(event, body)
        if outcome.verdict is Verdict.RETRY and self._past_retry_window(event):
            return Outcome(
                Verdict.DEAD_LETTER,
                f"retried for {self._settings.retry_hours} h; last: {outcome.reason}",
                status=outcome.status,
            )
        return outcome

    def _attempt(self, event: WebhookEvent, body: str) -> Outcome:
        data = event.data
        try:
            item = self._companies.load(data.company_id, data.project_id)
        except CompanyNotFound:
            return Outcome(Verdict.DEAD_LETTER, "the project no longer exists")
        except DatabaseError:
            return Outcome(Verdict.RETRY, "the project's configuration could not be read")
        if not item.get("webhook"):
            return Outcome(Verdict.DEAD_LETTER, "the project has no webhook configured")
        try:
            webhook = WebhookConfig.model_validate(item["webhook"])
        except ValidationError:
            return Outcome(Verdict.DEAD_LETTER, "the project's webhook configuration is invalid")
        try:
            secret = self._secrets.secret_for(data.company_id, data.project_id, webhook.secret_reference)
        except SecretUnusable as error:
            return Outcome(Verdict.DEAD_LETTER, str(error))
        except (ClientError, BotoCoreError):
            return Outcome(Verdict.RETRY, "the webhook signing secret could not be read")
        return self._post(event, body, webhook.url, secret)

    def _post(self, event: WebhookEvent, body: str, url: str, secret: str) -> Outcome:
        now = self._clock()
        headers = signed_headers(secret, event.id, body, now)
        try:
            response = target.post(
                url,
                body.encode(),
                headers,
                timeout_seconds=self._settings.request_timeout_seconds,
                allow_local=self._settings.allow_local_targets,
                resolver=self._resolver,
            )
        except target.TargetRefused as error:
            return Outcome(Verdict.DEAD_LETTER, str(error), target_refused=True)
        except target.TargetUnreachable as error:
            return Outcome(Verdict.RETRY, str(error))
        outcome = outcome_of_status(response.status, response.retry_after, now)
        self._logger.info(
            "webhook attempted",
            extra={
                "webhook_id": event.id,
                "event_type": event.type.value,
                "conversation_id": mask_text(event.data.conversation_id),
                "status": response.status,
                "verdict": outcome.verdict.value,
            },
        )
        return outcome

    def _past_retry_window(self, event: WebhookEvent) -> bool:
        try:
            occurred = datetime.fromisoformat(event.timestamp)
        except ValueError:
            return True  # an event with no readable time cannot be given a day: do not retry forever
        if occurred.tzinfo is None:
            occurred = occurred.replace(tzinfo=UTC)
        return self._clock() - occurred >= timedelta(hours=self._settings.retry_hours)
