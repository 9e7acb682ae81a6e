"""SendGrid Mail Send: plain text with an HTML alternative, from the company's address.

SendGrid cannot be asked whether a mail was accepted (its activity feed is a paid add-on and
eventually consistent), so this sender cannot reconcile: an unanswered send is ``send_unconfirmed``.
"""

from __future__ import annotations

import urllib.error
from datetime import UTC, datetime

from python_http_client import exceptions as http_errors
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import CustomArg, Email, Header, Mail, ReplyTo

from shared.processing.credentials import SendGridCredentials
from shared.processing.errors import (
    ProcessingFailure,
    ProviderCredentialsRejected,
    ProviderRejected,
    ProviderUnavailable,
    SendOutcomeUnknown,
)
from shared.processing.senders import Outgoing, SendReceipt

DEFAULT_HOST = "https://api.sendgrid.com"


class SendGridMail:
    provider = "sendgrid"
    can_reconcile = False

    def __init__(self, credentials: SendGridCredentials, *, host: str | None, timeout_seconds: float):
        self._client = SendGridAPIClient(
            api_key=credentials.sendgrid_api_key.get_secret_value(), host=host or DEFAULT_HOST
        )
        self._client.client.timeout = timeout_seconds  # the SDK has no timeout of its own

    def send(self, outgoing: Outgoing) -> SendReceipt:
        mail = Mail(
            from_email=Email(outgoing.sender, outgoing.sender_name),
            to_emails=outgoing.to,
            subject=outgoing.subject,
            plain_text_content=outgoing.text,
            html_content=outgoing.html,
        )
        if outgoing.custom_args:
            mail.custom_arg = [CustomArg(key, value) for key, value in outgoing.custom_args.items()]
        if outgoing.reply_to:
            mail.reply_to = ReplyTo(outgoing.reply_to)
        for name, value in (outgoing.headers or {}).items():
            mail.add_header(Header(name, value))
        try:
            response = self._client.send(mail)
        except http_errors.HTTPError as error:
            if error.status_code in _AMBIGUOUS_STATUSES:
                raise SendOutcomeUnknown(f"SendGrid answered the send with HTTP {error.status_code}") from None
            raise _refusal(error) from None
        except urllib.error.URLError as error:
            # urllib wraps failures to connect (refused, connect timeout): nothing was sent.
            raise ProviderUnavailable(f"SendGrid could not be reached: {type(error.reason).__name__}") from None
        except OSError as error:  # a read timeout or a dropped connection: the mail may have gone
            raise SendOutcomeUnknown(f"SendGrid did not answer the send: {type(error).__name__}") from None
        message_id = response.headers.get("X-Message-Id") if response.headers else None
        if not message_id:
            raise SendOutcomeUnknown(f"SendGrid answered HTTP {response.status_code} without an X-Message-Id")
        return SendReceipt(provider_message_id=message_id, accepted_at=datetime.now(UTC))

    def find_sent(self, outgoing: Outgoing, since: datetime) -> list[SendReceipt]:
        raise NotImplementedError("SendGrid cannot be asked whether a mail was sent")


# A 500, 502 or 504 may come after SendGrid took the mail, and SendGrid cannot be asked: the
# outcome is unknown. 429 and 503 are SendGrid refusing to take it now, safe to try again.
_AMBIGUOUS_STATUSES = {500, 502, 504}


def _refusal(error: http_errors.HTTPError) -> ProcessingFailure:
    reason = f"SendGrid answered HTTP {error.status_code}: {_messages(error)}"
    if error.status_code in (401, 403):
        return ProviderCredentialsRejected(reason)
    if error.status_code == 429 or error.status_code >= 500:
        return ProviderUnavailable(reason)
    return ProviderRejected(reason)


def _messages(error: http_errors.HTTPError) -> str:
    try:
        errors = error.to_dict.get("errors") or []
    except ValueError:
        return "no error details"
    return "; ".join(str(item.get("message")) for item in errors if isinstance(item, dict)) or "no error details"
