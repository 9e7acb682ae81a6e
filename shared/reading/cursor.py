"""``next_token``: where the next page of a listing starts, bound to its query and its caller.

The page's ``LastEvaluatedKey`` holds the table's key, whose partition is the recipient's phone
number or email: a token travels in URLs (the tenant's proxies and logs), so the key is encrypted,
not only encoded. Under the environment's consent key: a keystream of HMAC-SHA256 blocks over a
random nonce and a counter (purpose ``list-cursor-key-v1``; HMAC as a PRF in counter mode) is
XORed with the key's JSON, then an HMAC (purpose ``list-cursor-v1``) over the nonce, the
ciphertext, the query's fingerprint and the caller's API key id is appended (encrypt-then-MAC).
A token altered, replayed with another query or presented by another key fails the HMAC and is
``INVALID_NEXT_TOKEN``: no key reaches DynamoDB that this caller was not given for this very query.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import itertools
import json
import os
from collections.abc import Iterator
from typing import Any

from shared.api_errors import InvalidListQuery
from shared.consent.address_hash import AddressHasher
from shared.reading.list_query import ListQuery

PURPOSE = "list-cursor-v1"
KEYSTREAM_PURPOSE = "list-cursor-key-v1"
_NONCE_BYTES = 16
# The listing index's key and the table's: what DynamoDB needs to resume a Query of the index.
KEY_ATTRIBUTES = frozenset({"gsi_project_key", "created_at", "primary_channel", "conversation_id"})
_MAX_TOKEN_LENGTH = 2048
_INVALID = "next_token is not one this listing gave for this query and API key"


def issue(hasher: AddressHasher, query: ListQuery, api_key_id: str, last_key: dict[str, str]) -> str:
    nonce = os.urandom(_NONCE_BYTES)
    sealed = nonce + _xor(_canonical(last_key), _keystream(hasher, nonce))
    signature = hasher.sign(PURPOSE, _signed(sealed, query, api_key_id))
    return f"{_b64(sealed)}.{_b64(signature)}"


def resume_key(hasher: AddressHasher, query: ListQuery, api_key_id: str, token: str) -> dict[str, str]:
    """The ``ExclusiveStartKey`` the token carries, or ``InvalidListQuery`` (INVALID_NEXT_TOKEN)."""
    sealed, signature = _split(token)
    expected = hasher.sign(PURPOSE, _signed(sealed, query, api_key_id))
    if len(sealed) <= _NONCE_BYTES or not hmac.compare_digest(signature, expected):
        raise InvalidListQuery(_INVALID, error_code="INVALID_NEXT_TOKEN")
    nonce, ciphertext = sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:]
    key = json.loads(_xor(ciphertext, _keystream(hasher, nonce)))
    # Signed by this engine, so well formed; checked anyway so a key leak cannot widen a query.
    if not isinstance(key, dict) or set(key) != KEY_ATTRIBUTES or not all(isinstance(v, str) for v in key.values()):
        raise InvalidListQuery(_INVALID, error_code="INVALID_NEXT_TOKEN")
    return key


def _signed(payload: bytes, query: ListQuery, api_key_id: str) -> bytes:
    # Canonical JSON escapes control characters, so NUL cannot occur inside either part.
    return payload + b"\x00" + _canonical({"query": query.fingerprint(), "api_key_id": api_key_id})


def _split(token: str) -> tuple[bytes, bytes]:
    if len(token) > _MAX_TOKEN_LENGTH or token.count(".") != 1:
        raise InvalidListQuery(_INVALID, error_code="INVALID_NEXT_TOKEN")
    encoded_payload, encoded_signature = token.split(".")
    try:
        return _unb64(encoded_payload), _unb64(encoded_signature)
    except (binascii.Error, ValueError):
        raise InvalidListQuery(_INVALID, error_code="INVALID_NEXT_TOKEN") from None


def _keystream(hasher: AddressHasher, nonce: bytes) -> Iterator[int]:
    for counter in itertools.count():
        yield from hasher.sign(KEYSTREAM_PURPOSE, nonce + counter.to_bytes(4, "big"))


def _xor(data: bytes, keystream: Iterator[int]) -> bytes:
    return bytes(byte ^ next(keystream) for byte in data)


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    if not text or not text.isascii():
        raise ValueError("empty or not ASCII")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
