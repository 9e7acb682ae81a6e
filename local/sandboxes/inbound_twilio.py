"""Twilio's incoming-message webhook: the signed form Twilio posts when a person writes to a
tenant's WhatsApp sender or SMS number (what ``local.sandboxes.person`` sends for the person).

Fields as Twilio sends them: ``MessageSid`` (also ``SmsSid``/``SmsMessageSid``), ``AccountSid``,
``From``, ``To``, ``Body``, ``NumMedia``, ``NumSegments``, ``SmsStatus=received``, ``ApiVersion``,
``MediaUrl{N}``/``MediaContentType{N}`` per medium; on WhatsApp also ``ProfileName``, ``WaId`` and
``MessageType``. Signed ``X-Twilio-Signature`` = ``RequestValidator(auth_token).compute_signature``
over the route's URL, as the ingress verifies it.
"""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

from local.sandboxes.callbacks import Callback
from local.sandboxes.outcomes import InvalidOutcome
from shared.webhooks.routes import TWILIO_INBOUND


def addresses(record: dict[str, Any]) -> tuple[str, str]:
    """(the person, the company's sender) as Twilio names them on the record's channel: the person
    answers from the number the engine wrote to, to the number it wrote from."""
    person, company = record.get("recipient_tel"), record.get("company_sender")
    if not person or not company:
        raise InvalidOutcome(f"conversation {record.get('conversation_id')} has no recipient_tel or company_sender yet")
    if record.get("channel_method") == "whatsapp":
        return f"whatsapp:{person}", f"whatsapp:{company}"
    return str(person), str(company)


def inbound_callback(
    api_url: str,
    record: dict[str, Any],
    *,
    sid: str,
    person: str,
    company: str,
    text: str,
    media: tuple[str, ...],
    account_sid: str,
    auth_token: str,
) -> Callback:
    url = TWILIO_INBOUND.url(api_url, str(record["company_id"]), str(record["project_id"]))
    params = {
        "ToCountry": "GB",
        "SmsMessageSid": sid,
        "NumMedia": str(len(media)),
        "SmsSid": sid,
        "SmsStatus": "received",
        "Body": text,
        "FromCountry": "GB",
        "To": company,
        "NumSegments": "1",
        "MessageSid": sid,
        "AccountSid": account_sid,
        "From": person,
        "ApiVersion": "2010-04-01",
    }
    for index, content_type in enumerate(media):
        # Derived from the message: a repeated delivery names the same media.
        media_sid = "ME" + hashlib.sha256(f"{sid}:{index}".encode()).hexdigest()[:32]
        params[f"MediaContentType{index}"] = content_type
        params[f"MediaUrl{index}"] = (
            f"https://api.twilio.com/2010-04-01/Accounts/{account_sid}/Messages/{sid}/Media/{media_sid}"
        )
    if person.startswith("whatsapp:"):
        params |= {
            "ProfileName": str(record.get("recipient_first_name") or ""),
            "WaId": person.removeprefix("whatsapp:+"),
            "MessageType": "image" if media else "text",
        }
    return Callback(
        message_id=sid,
        url=url,
        body=urlencode(params).encode(),
        headers={
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
            "X-Twilio-Signature": RequestValidator(auth_token).compute_signature(url, params),
            # The same on each repeat of one delivery, as on Twilio's own retries.
            "I-Twilio-Idempotency-Token": hashlib.sha256(f"inbound:{sid}".encode()).hexdigest()[:32],
            "User-Agent": "TwilioProxy/1.1",
        },
        label="inbound",
        content=params,
    )
