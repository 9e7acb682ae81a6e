"""What each kind of secret must hold before ``comms`` writes it, and whether a stored one does.

One definition: the processors' models (``shared.processing.credentials``), read strictly
(``stored_shape_problems``), and the webhook ingress's own rules for the SendGrid fields it uses
(``verification_key``, ``inbound_token``). Every problem names a field, never a value.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from shared.channels import Channel
from shared.models.company import CHANNEL_CONFIGS
from shared.processing.credentials import (
    PROVIDER_CREDENTIALS,
    OpenAiCredentials,
    SendGridCredentials,
    stored_shape_problems,
)
from shared.tenant_webhooks.signing_secrets import MIN_SECRET_BYTES, is_signing_secret
from shared.webhooks.sendgrid_inbound import inbound_token
from shared.webhooks.sendgrid_webhook import verification_key
from shared.webhooks.verification_keys import KeyUnusable


@dataclass(frozen=True)
class Verdict:
    problems: list[str] = field(default_factory=list)  # the engine cannot use it: refused
    notes: list[str] = field(default_factory=list)  # usable, but a feature will refuse requests

    @property
    def valid(self) -> bool:
        return not self.problems


def credentials_shape(channel: Channel) -> type[Any]:
    """The processors' model of ``channel``'s provider credentials (Twilio, SendGrid)."""
    return PROVIDER_CREDENTIALS[CHANNEL_CONFIGS[channel].provider]


def openai_key_text(text: str) -> Verdict:
    """The key as an operator gives it (the bare ``sk-…`` text; stored as ``{"ai_api_key": …}``)."""
    if text.startswith("{"):
        return Verdict(['the value is JSON: give the key text only (it is stored as {"ai_api_key": …})'])
    if any(character.isspace() for character in text):
        return Verdict(["the key is one word of text: no spaces or line breaks"])
    return Verdict(stored_shape_problems({"ai_api_key": text}, OpenAiCredentials))


def openai_secret(stored: str) -> Verdict:
    return _json_verdict(stored, OpenAiCredentials)


def credentials_secret(channel: Channel, text: str) -> Verdict:
    """The project's provider credentials JSON of ``channel``, as the processors and the webhook
    ingress read it."""
    shape = credentials_shape(channel)
    verdict = _json_verdict(text, shape)
    if verdict.problems or shape is not SendGridCredentials:
        return verdict
    return _sendgrid_verdict(SendGridCredentials.model_validate(json.loads(text)))


def webhook_secret(text: str) -> Verdict:
    if is_signing_secret(text):
        return Verdict()
    return Verdict([f"not a whsec_<base64> value of at least {MIN_SECRET_BYTES} bytes"])


def _json_verdict(text: str, shape: type[Any]) -> Verdict:
    try:
        data = json.loads(text)
    except ValueError:
        return Verdict(["the value is not JSON"])
    return Verdict(stored_shape_problems(data, shape))


def _sendgrid_verdict(credentials: SendGridCredentials) -> Verdict:
    """A key or token that is present must be usable (refused); an absent one only turns its
    webhook off (a note): a project may use neither delivery events nor replies yet."""
    problems: list[str] = []
    notes: list[str] = []
    checks = (
        ("sendgrid_webhook_public_key", "SendGrid's delivery events", verification_key),
        ("sendgrid_inbound_token", "Inbound Parse replies", lambda _: inbound_token(credentials)),
    )
    for name, refused, check in checks:
        value = getattr(credentials, name)
        if value is None:
            notes.append(f"no {name}: {refused} are refused (403)")
            continue
        try:
            check(value)
        except KeyUnusable as unusable:
            problems.append(str(unusable))
    return Verdict(problems, notes)
