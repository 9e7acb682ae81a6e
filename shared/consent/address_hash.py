"""A person's address as the suppression list keys it: a keyed hash, so the list holds no
readable address (issue 12) and still answers "may company C contact address A on channel X?"
in one GetItem.

The key is the environment's consent key (Secrets Manager ``ai-multi-comms/consent-key-<env>``,
``{"hmac_key": "..."}``), read once per container. It is never rotated: a new key would orphan
every entry (docs/decisions.md, "Consent (issue 12) — the contracts").
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shared.processing.errors import CredentialsMissing, SecretsUnavailable

CONSENT_KEY_FIELD = "hmac_key"
_MIN_KEY_LENGTH = 32


def normalise_address(address: str) -> str:
    """One spelling per person: ``whatsapp:+44…`` and ``+44…`` are the same number; emails are
    compared in lower case (as the conversations table keys them)."""
    value = address.strip()
    if value.lower().startswith("whatsapp:"):
        value = value[len("whatsapp:") :]
    return value.lower() if "@" in value else value


class AddressHasher:
    """HMAC-SHA256 of a normalised address under the environment's consent key."""

    def __init__(self, key: bytes):
        if len(key) < _MIN_KEY_LENGTH:
            raise ValueError(f"the consent key must be at least {_MIN_KEY_LENGTH} bytes")
        self._key = key

    def digest(self, address: str) -> str:
        return hmac.new(self._key, normalise_address(address).encode(), hashlib.sha256).hexdigest()

    def sign(self, purpose: str, payload: bytes) -> bytes:
        """An HMAC of ``payload`` for another use of the same key (the unsubscribe token), kept apart
        from address digests by ``purpose``."""
        return hmac.new(self._key, purpose.encode() + b"\x00" + payload, hashlib.sha256).digest()

    def __repr__(self) -> str:  # never show the key
        return "AddressHasher(<key hidden>)"


_cache: dict[str, AddressHasher] = {}
_lock = threading.Lock()


def load_hasher(secrets_client: Any, secret_id: str) -> AddressHasher:
    """The hasher of the consent key in ``secret_id``, cached for the container's life.

    Raises ``SecretsUnavailable`` (transient: retry) or ``CredentialsMissing`` (the secret has no
    usable key: a deployment fault), naming the secret and never its value.
    """
    with _lock:
        cached = _cache.get(secret_id)
    if cached is not None:
        return cached
    try:
        answer = secrets_client.get_secret_value(SecretId=secret_id)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in ("ResourceNotFoundException", "AccessDeniedException", "DecryptionFailure"):
            raise CredentialsMissing(f"consent key {secret_id}: {code}") from None
        raise SecretsUnavailable(f"consent key {secret_id}: {code}") from None
    except BotoCoreError as error:
        raise SecretsUnavailable(f"consent key {secret_id}: {type(error).__name__}") from None
    try:
        key = json.loads(answer.get("SecretString") or "{}").get(CONSENT_KEY_FIELD) or ""
        hasher = AddressHasher(key.encode())
    except (ValueError, AttributeError):
        raise CredentialsMissing(
            f"consent key {secret_id}: field {CONSENT_KEY_FIELD!r} missing or shorter than {_MIN_KEY_LENGTH}"
        ) from None
    with _lock:
        _cache[secret_id] = hasher
    return hasher


def forget_cached_keys() -> None:
    """Tests: a fresh emulator holds a new key."""
    with _lock:
        _cache.clear()
