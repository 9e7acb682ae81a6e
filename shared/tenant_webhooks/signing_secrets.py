"""The project's webhook signing secret, read from Secrets Manager and kept briefly per container.

Format (one, documented in the README): the secret's ``SecretString`` is the ``whsec_<base64>``
value itself, as Standard Webhooks libraries print and read it. The name must be the project's
own (``webhook_secret_problem``), so a record cannot sign one tenant's events with another's key.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from shared.secret_names import webhook_secret_problem

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32  # Standard Webhooks asks for 24 to 64 random bytes
MIN_SECRET_BYTES = 16
CACHE_SECONDS = 300.0
# Codes that will not change by asking again: the secret is missing or cannot be read by us.
_PERMANENT_CODES = frozenset({"ResourceNotFoundException", "InvalidRequestException", "DecryptionFailure"})


class SecretUnusable(Exception):
    """The project has no usable signing secret: not its own name, missing, or not ``whsec_``.
    The message names the secret, never its value."""


class SigningSecrets:
    def __init__(
        self,
        secretsmanager: Any,
        *,
        environment: str,
        cache_seconds: float = CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._client = secretsmanager
        self._environment = environment
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._cache: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()

    def secret_for(self, company_id: str, project_id: str, secret_reference: str) -> str:
        """The ``whsec_`` value; ``SecretUnusable`` when it can never be used, a ``ClientError``
        / ``BotoCoreError`` when reading failed for now (retried)."""
        problem = webhook_secret_problem(
            secret_reference, company_id=company_id, project_id=project_id, env=self._environment
        )
        if problem:
            raise SecretUnusable(problem)
        now = self._clock()
        with self._lock:
            cached = self._cache.get(secret_reference)
        if cached and now - cached[0] < self._cache_seconds:
            return cached[1]
        value = self._read(secret_reference)
        with self._lock:
            self._cache[secret_reference] = (now, value)
        return value

    def _read(self, secret_reference: str) -> str:
        try:
            response = self._client.get_secret_value(SecretId=secret_reference)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _PERMANENT_CODES:
                raise SecretUnusable(f"the webhook signing secret {secret_reference!r} cannot be read") from None
            raise
        value = response.get("SecretString") or ""
        if not is_signing_secret(value):
            raise SecretUnusable(f"the webhook signing secret {secret_reference!r} is not a whsec_<base64> value")
        return value


def new_signing_secret() -> str:
    """A fresh ``whsec_<base64>`` of ``SECRET_BYTES`` random bytes (the local tool and ``comms``)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def is_signing_secret(value: str) -> bool:
    """Whether ``value`` is a signing secret the sender will use: ``whsec_`` and base64 of at least
    ``MIN_SECRET_BYTES`` bytes."""
    if not value.startswith(SECRET_PREFIX):
        return False
    encoded = value[len(SECRET_PREFIX) :]
    try:  # unpadded base64 is accepted, as the standardwebhooks library accepts it
        return len(base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)) >= MIN_SECRET_BYTES
    except (binascii.Error, ValueError):
        return False
