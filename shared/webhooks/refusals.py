"""Every way the ingress can refuse a request, each with the bare HTTP status it answers.

A refusal's answer carries no detail (a provider needs only the status, and an attacker should
learn nothing); the ``reason`` goes to one log line, with addresses masked.
"""

from __future__ import annotations

from typing import ClassVar

from shared.log_masking import mask_text


class Refused(Exception):
    status: ClassVar[int]
    # Counted once more as ``WebhookSignatureRejected``: what the alarm watches.
    signature: ClassVar[bool] = False

    def __init__(self, reason: str):
        self.reason = mask_text(reason)
        super().__init__(self.reason)


class RouteUnknown(Refused):
    """Not a webhook route (API Gateway only sends the routes it has)."""

    status = 404


class BodyTooLarge(Refused):
    status = 413


class BodyInvalid(Refused):
    """Wrong content type, not UTF-8, not the form or JSON the provider sends."""

    status = 400


class ProjectRefused(Refused):
    """No such project, or one that cannot verify this provider's requests."""

    status = 403


class SignatureRefused(Refused):
    """Missing, malformed, forged, another tenant's, or (SendGrid) outside the replay window."""

    status = 403
    signature = True


class DependencyUnavailable(Refused):
    """DynamoDB, Secrets Manager or SQS failed: the provider re-posts on a 5xx."""

    status = 503
