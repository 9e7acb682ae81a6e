"""Reads provider and OpenAI credentials from Secrets Manager (DESIGN §6 shapes), cached per container.

Values are held as ``SecretStr`` so that no ``repr``, log line or error message can show them, and
errors name the secret and the missing field, never the value.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from shared.processing.errors import CredentialsMissing, SecretsUnavailable

# Long enough that a warm container reads each secret about once per burst, short enough that a
# rotated key is picked up within minutes even without an authentication failure.
CACHE_SECONDS = 300.0

# Secrets Manager answers these when the secret cannot be read as asked: retrying will not help.
_PERMANENT_CODES = {
    "ResourceNotFoundException",
    "AccessDeniedException",
    "AccessDenied",
    "DecryptionFailure",
    "InvalidRequestException",
    "InvalidParameterException",
}


class _Credentials(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)


class OpenAiCredentials(_Credentials):
    ai_api_key: SecretStr = Field(min_length=1)


class TwilioCredentials(_Credentials):
    twilio_account_sid: str = Field(min_length=1)
    twilio_auth_token: SecretStr = Field(min_length=1)
    # The older place of the WhatsApp Content template sid; the project's own config wins.
    twilio_template_sid: str | None = None


class SendGridCredentials(_Credentials):
    sendgrid_api_key: SecretStr = Field(min_length=1)
    # The public key of SendGrid's signed Event Webhook (base64 DER, as SendGrid shows it): verifies
    # the events it posts. Not secret, but it belongs with the account it verifies.
    sendgrid_webhook_public_key: str | None = None
    # The random token in the project's Inbound Parse URL (issue 11): Inbound Parse cannot sign,
    # so this token, compared in constant time, is what authenticates a posted email.
    sendgrid_inbound_token: SecretStr | None = None


# The shape of each provider's credentials secret, by the provider part of its name (``twilio``,
# ``sendgrid``: ``ChannelConfigBase.provider``).
PROVIDER_CREDENTIALS: dict[str, type[_Credentials]] = {"twilio": TwilioCredentials, "sendgrid": SendGridCredentials}

C = TypeVar("C", bound=_Credentials)


def stored_shape_problems(data: Any, shape: type[_Credentials]) -> list[str]:
    """Why ``data`` (a secret's JSON) should not be stored as a ``shape``, each naming the field and
    never its value; empty when it may.

    Stricter than reading (which ignores unknown fields): a misspelt field name would be ignored
    and the field it was meant to be missing, so an unknown field is refused, and so is any value
    that is not non-empty text (an empty optional field reads as present but unusable).
    """
    if not isinstance(data, dict):
        return ["the secret is not a JSON object"]
    known = set(shape.model_fields)
    problems = [f"{name}: not a field of {shape.__name__}" for name in sorted(set(data) - known)]
    problems += [
        f"{name}: must be non-empty text"
        for name in sorted(known & set(data))
        if not isinstance(data[name], str) or not data[name].strip()
    ]
    problems += [
        f"{name}: missing" for name, field in shape.model_fields.items() if field.is_required() and name not in data
    ]
    return problems


@dataclass(frozen=True)
class Fetched(Generic[C]):
    secret_id: str
    value: C
    from_cache: bool


class SecretReader:
    """Reads JSON secrets whose names start with one of ``allowed_prefixes`` (the channel's own)."""

    def __init__(
        self,
        client: Any,
        *,
        allowed_prefixes: tuple[str, ...],
        max_age_seconds: float = CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._client = client
        self._allowed = allowed_prefixes
        self._max_age = max_age_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, str]] = {}

    def read(self, secret_id: str, shape: type[C], *, fresh: bool = False) -> Fetched[C]:
        """The secret parsed into ``shape``; ``fresh`` skips the cache (after an auth failure)."""
        if not secret_id.startswith(self._allowed):
            raise CredentialsMissing(f"Secret {secret_id!r} is not one this channel's processor may read")
        cached = None if fresh else self._cached(secret_id)
        text = cached if cached is not None else self._fetch(secret_id)
        try:
            value = shape.model_validate(json.loads(text))
        except (ValueError, ValidationError) as error:
            self.forget(secret_id)
            raise CredentialsMissing(f"Secret {secret_id!r} is not a {shape.__name__}: {_problems(error)}") from None
        return Fetched(secret_id=secret_id, value=value, from_cache=cached is not None)

    def forget(self, secret_id: str) -> None:
        with self._lock:
            self._cache.pop(secret_id, None)

    def _cached(self, secret_id: str) -> str | None:
        with self._lock:
            entry = self._cache.get(secret_id)
        if entry is None or self._clock() - entry[0] > self._max_age:
            return None
        return entry[1]

    def _fetch(self, secret_id: str) -> str:
        try:
            text = self._client.get_secret_value(SecretId=secret_id).get("SecretString")
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in _PERMANENT_CODES:
                raise CredentialsMissing(f"Secret {secret_id!r} cannot be read: {code}") from None
            raise SecretsUnavailable(f"Secrets Manager failed reading {secret_id!r}: {code}") from None
        except BotoCoreError as error:
            raise SecretsUnavailable(
                f"Secrets Manager unreachable reading {secret_id!r}: {type(error).__name__}"
            ) from None
        if not text:
            raise CredentialsMissing(f"Secret {secret_id!r} has no string value")
        with self._lock:
            self._cache[secret_id] = (self._clock(), text)
        return text


def _problems(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return ", ".join(f"{'.'.join(str(p) for p in e['loc']) or 'value'} {e['type']}" for e in error.errors())
    return "not a JSON object"
