"""Twilio's webhooks: a form-encoded body signed with the account's auth token (``X-Twilio-Signature``).

The signature is HMAC-SHA1 over the exact URL Twilio called followed by the sorted parameters, so
the URL is the configured public one (never rebuilt from the request) and the parameters are
parsed with blank values kept: Twilio signs ``ErrorCode=`` too, and dropping it fails a valid
request (docs/APIS §8).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from twilio.request_validator import RequestValidator

from shared.events.envelope import Provider
from shared.processing.credentials import TwilioCredentials
from shared.webhooks import responses
from shared.webhooks.refusals import BodyInvalid, SignatureRefused
from shared.webhooks.request import WebhookRequest
from shared.webhooks.settings import WebhookSettings

SIGNATURE_HEADER = "X-Twilio-Signature"
# Twilio reads the answer to a status callback or an inbound message as TwiML; an empty one asks
# it to do nothing (for an inbound message: send no reply of its own).
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


class TwilioWebhook:
    provider = Provider.TWILIO
    credentials = TwilioCredentials
    media_type = "application/x-www-form-urlencoded"

    def max_body_bytes(self, settings: WebhookSettings) -> int:
        return settings.twilio_max_body_bytes

    def payloads(self, request: WebhookRequest, body: bytes) -> list[dict[str, Any]]:
        """The one flat parameter dict the request queues; ``BodyInvalid`` when it is not a form."""
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True, errors="strict")
        except (UnicodeDecodeError, ValueError):
            raise BodyInvalid("the body is not a UTF-8 form") from None
        params = dict(pairs)
        if not params:
            raise BodyInvalid("the form is empty")
        if len(params) != len(pairs):
            # Twilio sends each parameter once; with repeats, which value it meant (and signed) is a guess.
            raise BodyInvalid("a form parameter is repeated")
        return [params]

    def signature_check(
        self, request: WebhookRequest, url: str, body: bytes, payloads: list[dict[str, Any]], now: float
    ) -> Callable[[TwilioCredentials], bool]:
        """Whether a project's Twilio credentials verify the request; refused at once without a
        signature, or with a query string (API Gateway does not hand over the raw query Twilio signed)."""
        signature = request.header(SIGNATURE_HEADER)
        if not signature:
            raise SignatureRefused(f"no {SIGNATURE_HEADER}")
        if request.has_query:
            raise SignatureRefused("a query string: the signed URL cannot be reproduced")
        (params,) = payloads

        def verifies(credentials: TwilioCredentials) -> bool:
            validator = RequestValidator(credentials.twilio_auth_token.get_secret_value())
            return validator.validate(url, params, signature)

        return verifies

    def accepted(self) -> dict[str, Any]:
        return responses.with_body(200, "text/xml", EMPTY_TWIML)
