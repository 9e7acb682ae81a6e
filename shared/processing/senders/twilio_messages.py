"""Twilio Programmable Messaging: WhatsApp Content templates and SMS, plus the sent-message lookup
that lets a redelivery find out whether an unanswered send went out."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client
from urllib3.exceptions import NewConnectionError

from shared.processing.credentials import TwilioCredentials
from shared.processing.errors import (
    ProcessingFailure,
    ProviderCredentialsRejected,
    ProviderRejected,
    ProviderUnavailable,
    SendOutcomeUnknown,
    WhatsAppWindowClosed,
)
from shared.processing.senders import Outgoing, SendReceipt

# The SDK logs request URLs and query strings (phone numbers) at INFO.
logging.getLogger("twilio").setLevel(logging.WARNING)

# Twilio's clock and ours may differ, and Twilio stamps whole seconds.
CLOCK_SKEW = timedelta(seconds=60)
# How many of the newest messages between the two numbers a lookup reads.
LOOKUP_PAGE = 50
# Codes Twilio documents as "try again later" although they come with a 4xx status.
_RETRYABLE_CODES = {20429, 63017, 63018}
_CREDENTIAL_CODES = {20003, 20005, 20006}
# A free-form WhatsApp message outside the 24-hour customer-service window.
WINDOW_CLOSED_CODE = 63016


class TwilioMessages:
    provider = "twilio"
    can_reconcile = True

    def __init__(self, credentials: TwilioCredentials, *, base_url: str | None, timeout_seconds: float):
        self._client = Client(
            credentials.twilio_account_sid,
            credentials.twilio_auth_token.get_secret_value(),
            http_client=TwilioHttpClient(timeout=timeout_seconds),
        )
        if base_url:
            self._client.api.base_url = base_url

    def send(self, outgoing: Outgoing) -> SendReceipt:
        fields: dict[str, str] = {"to": outgoing.to, "from_": outgoing.sender}
        if outgoing.content_sid:
            fields["content_sid"] = outgoing.content_sid
            fields["content_variables"] = json.dumps(outgoing.content_variables or {})
        else:
            fields["body"] = outgoing.text
        if outgoing.status_callback:
            fields["status_callback"] = outgoing.status_callback
        try:
            message = self._client.messages.create(**fields)
        except TwilioRestException as error:
            if error.status >= 500:
                # A 5xx (often from Twilio's edge) may come after the message was created: ask
                # Twilio on the redelivery rather than send again.
                raise SendOutcomeUnknown(f"Twilio answered the send with HTTP {error.status}") from None
            raise _refusal(error) from None
        except requests.RequestException as error:
            raise _no_answer(error) from None
        return SendReceipt(
            provider_message_id=message.sid,
            accepted_at=message.date_created or datetime.now(UTC),
            status=_status(message),
        )

    def find_sent(self, outgoing: Outgoing, since: datetime) -> list[SendReceipt]:
        """The messages this send could have created, newest first.

        No date filter is sent: a message still queued has no DateSent yet and would be missed.
        The newest messages between the two addresses are read instead and compared by creation
        time and content (``same_content``).
        """
        try:
            messages = self._client.messages.list(to=outgoing.to, from_=outgoing.sender, limit=LOOKUP_PAGE)
        except TwilioRestException as error:
            raise _refusal(error) from None
        except TwilioException as error:
            # A list page that fails comes as a plain TwilioException carrying the HTTP response.
            raise _page_refusal(error) from None
        except requests.RequestException as error:
            raise ProviderUnavailable(f"Twilio's message list did not answer: {type(error).__name__}") from None
        return [
            SendReceipt(
                provider_message_id=message.sid,
                accepted_at=message.date_created,
                content=message.body,
                status=_status(message),
            )
            for message in messages
            if message.date_created is not None
            and message.date_created >= since - CLOCK_SKEW
            and same_content(outgoing, message.body)
        ]


def _status(message: object) -> str | None:
    """The message's status as a plain string (the SDK gives its ``MessageInstance.Status`` enum)."""
    status = getattr(message, "status", None)
    return None if status is None else str(getattr(status, "value", status))


def same_content(outgoing: Outgoing, listed_body: str | None) -> bool:
    """Whether a listed message carries this send's content.

    An SMS lists its body verbatim. A Content template lists the template's text with the
    variables substituted, and the text is Twilio's, so every variable's value must appear in it.
    """
    if listed_body is None:
        return False
    if outgoing.content_sid:
        return all(value in listed_body for value in (outgoing.content_variables or {}).values())
    return listed_body == outgoing.text


def _refusal(error: TwilioRestException) -> ProcessingFailure:
    reason = f"Twilio answered HTTP {error.status} code {error.code}: {error.msg}"
    if error.status in (401, 403) or error.code in _CREDENTIAL_CODES:
        return ProviderCredentialsRejected(reason)
    if error.code == WINDOW_CLOSED_CODE:
        return WhatsAppWindowClosed(reason)
    if error.status == 429 or error.status >= 500 or error.code in _RETRYABLE_CODES:
        return ProviderUnavailable(reason)
    return ProviderRejected(reason, provider_code=None if error.code is None else str(error.code))


def _page_refusal(error: TwilioException) -> ProcessingFailure:
    response = error.args[1] if len(error.args) > 1 else None
    status = getattr(response, "status_code", 0) or 0
    reason = f"Twilio answered the message list with HTTP {status or 'unknown'}"
    if status in (401, 403):
        return ProviderCredentialsRejected(reason)
    if status == 429 or status >= 500 or not status:
        return ProviderUnavailable(reason)
    return ProviderRejected(reason)


def _no_answer(error: requests.RequestException) -> ProcessingFailure:
    """No connection means nothing was sent; a connection that went quiet may have sent it."""
    if isinstance(error, requests.ConnectTimeout) or _refused(error):
        return ProviderUnavailable(f"Twilio could not be reached: {type(error).__name__}")
    return SendOutcomeUnknown(f"Twilio did not answer the send: {type(error).__name__}")


def _refused(error: requests.RequestException) -> bool:
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return isinstance(error, requests.ConnectionError) and isinstance(reason, NewConnectionError)
