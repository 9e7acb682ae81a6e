"""``/unsubscribe/{token}``: the one-click unsubscribe of every email (RFC 8058, issue 12).

- ``GET`` shows a page with one "Unsubscribe" button and changes nothing: mail scanners and link
  previews follow links, and must not unsubscribe anyone.
- ``POST`` (a mailbox provider's ``List-Unsubscribe=One-Click``, or the page's button) writes the
  suppression entry (company, email, the token's address hash; reason ``unsubscribe_link``) and
  answers "You are unsubscribed"; a repeat answers the same and writes nothing new. The body is not
  read: the token alone authorises, and a GET never acts, so the body would add no protection.
- A malformed, altered or other key's token: 404 with the same page for GET and POST, nothing
  written. The consent key or the table unreadable: 503 (try again).

The pages never show the address (the token holds only its keyed hash). The company's name comes
from the company table, best effort: a missing or unreadable record never blocks an unsubscribe.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from shared.api_errors import CompanyNotFound, DatabaseError
from shared.channels import Channel
from shared.consent.address_hash import AddressHasher
from shared.consent.suppressions import SuppressionList, SuppressionReason
from shared.consent.unsubscribe_token import TokenInvalid, UnsubscribeTarget, read_token
from shared.log_masking import describe_error
from shared.processing import metric_names
from shared.processing.errors import CredentialsMissing, RecordStoreUnavailable, SecretsUnavailable
from shared.routing.company_directory import CompanyDirectory
from shared.webhooks.request import WebhookRequest

SOURCE = "unsubscribe_link"  # the entry's source: no personal data, the token is not kept

# The page loads nothing and posts only back to itself; the URL holds the token, so it is not sent
# on as a referrer, cached or indexed.
PAGE_HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Robots-Tag": "noindex, nofollow",
}


class OneClickUnsubscribe:
    def __init__(
        self,
        *,
        hasher: Callable[[], AddressHasher],
        suppressions: Callable[[AddressHasher], SuppressionList],
        directory: CompanyDirectory,
        logger: Logger,
        metrics: Metrics,
    ):
        self._hasher = hasher
        self._suppressions = suppressions
        self._directory = directory
        self._logger = logger
        self._metrics = metrics

    def handle(self, request: WebhookRequest) -> dict[str, Any]:
        try:
            hasher = self._hasher()
        except (SecretsUnavailable, CredentialsMissing) as error:
            return self._unavailable(request, "the consent key could not be read", error)
        try:
            target = read_token(hasher, request.token or "")
        except TokenInvalid as error:
            self._metrics.add_metric(name=metric_names.UNSUBSCRIBE_REJECTED, unit=MetricUnit.Count, value=1)
            self._logger.warning(
                "Unsubscribe link refused",
                extra={
                    "method": request.method,
                    "reason": str(error),
                    "gateway_request_id": request.gateway_request_id,
                },
            )
            return _page(404, _INVALID)
        if request.method != "POST":
            return _page(200, _confirm(self._company_name(target)))
        try:
            made = self._suppressions(hasher).suppress_hashed(
                target.company_id,
                Channel.EMAIL,
                target.address_hash,
                reason=SuppressionReason.UNSUBSCRIBE_LINK,
                source=SOURCE,
                project_id=target.project_id,
            )
        except RecordStoreUnavailable as error:
            return self._unavailable(request, "the suppression list could not be written", error)
        self._metrics.add_metric(name=metric_names.UNSUBSCRIBE_REQUESTS, unit=MetricUnit.Count, value=1)
        self._logger.info(
            "Unsubscribed by the email's link",
            extra={
                "company_id": target.company_id,
                "project_id": target.project_id,
                "channel": Channel.EMAIL.value,
                "already_suppressed": not made,
                "gateway_request_id": request.gateway_request_id,
            },
        )
        return _page(200, _done(self._company_name(target)))

    def _company_name(self, target: UnsubscribeTarget) -> str | None:
        try:
            name = self._directory.load(target.company_id, target.project_id).get("company_name")
        except (CompanyNotFound, DatabaseError):
            return None
        if not isinstance(name, str) or not name.strip():
            return None
        return name.strip()

    def _unavailable(self, request: WebhookRequest, what: str, error: Exception) -> dict[str, Any]:
        self._logger.error(
            "Unsubscribe not possible now",
            extra={
                "method": request.method,
                "reason": what,
                "cause": describe_error(error),
                "gateway_request_id": request.gateway_request_id,
            },
        )
        return _page(503, _UNAVAILABLE, retry_after_seconds=60)


def _page(status: int, body: str, *, retry_after_seconds: int | None = None) -> dict[str, Any]:
    headers = dict(PAGE_HEADERS)
    if retry_after_seconds is not None:
        headers["Retry-After"] = str(retry_after_seconds)
    return {"statusCode": status, "headers": headers, "body": body, "isBase64Encoded": False}


def _document(title: str, content: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex, nofollow">'
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;"
        "line-height:1.5}button{font-size:1rem;padding:.5rem 1.25rem}</style>"
        f"</head><body>{content}</body></html>"
    )


def _sender(company_name: str | None) -> str:
    return html.escape(company_name) if company_name else "this sender"


def _confirm(company_name: str | None) -> str:
    return _document(
        "Unsubscribe",
        f"<h1>Unsubscribe</h1><p>Stop emails from {_sender(company_name)} to this address?</p>"
        # No action: the form posts back to the URL the page came from, stage and domain included.
        '<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">'
        '<button type="submit">Unsubscribe</button></form>',
    )


def _done(company_name: str | None) -> str:
    return _document(
        "You are unsubscribed",
        f"<h1>You are unsubscribed</h1><p>No more emails from {_sender(company_name)} will be sent to this "
        "address.</p>",
    )


_INVALID = _document(
    "Link not valid",
    "<h1>This unsubscribe link is not valid</h1><p>Use the unsubscribe link of a recent email, or reply to it.</p>",
)
_UNAVAILABLE = _document(
    "Please try again",
    "<h1>Unsubscribe is not available right now</h1><p>Nothing was changed. Please try again in a minute.</p>",
)
