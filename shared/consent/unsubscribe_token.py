"""The token of an email's one-click unsubscribe link (RFC 8058): who may be unsubscribed from whom,
signed with the environment's consent key, and nothing readable about the person.

``/unsubscribe/{token}`` needs no API key, so the token is the whole authority: it names the
company, the project and the keyed hash of the recipient's address (the suppression list's own
key, never the address), and carries an HMAC of those under the consent key (purpose
``unsubscribe-v1``, apart from address digests). Without the key no token can be made or altered;
with it, the ingress writes the entry straight from the hash.

Layout before URL-safe base64 (no padding): ~100 characters for typical ids, at most 239::

    version (1 byte) | len(company_id) (1) | company_id | len(project_id) (1) | project_id
    | address hash (32) | HMAC-SHA256 of everything before it, first 16 bytes

Tokens never expire: an unsubscribe link must work for as long as the mail sits in the inbox.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from dataclasses import dataclass

from shared.consent.address_hash import AddressHasher
from shared.identifiers import ID_PATTERN

PURPOSE = "unsubscribe-v1"
_VERSION = 1
_HASH_BYTES = 32
# HMAC-SHA256 cut to 128 bits (RFC 2104 §5 allows it): forging one takes ~2^128 guesses, and each
# guess is a request through a throttled route.
_MAC_BYTES = 16
_ID = re.compile(ID_PATTERN)
# URL-safe base64 without padding; anything else (padding, '+', '/', whitespace) is not a token.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,512}")


class TokenInvalid(ValueError):
    """Malformed, altered, or signed with another key. Never says which: the answer is the same."""


@dataclass(frozen=True)
class UnsubscribeTarget:
    """Whom a valid token unsubscribes: the email address of ``address_hash`` for ``company_id``."""

    company_id: str
    project_id: str
    address_hash: str  # hex, as ``AddressHasher.digest`` and the suppression list's key


def make_token(hasher: AddressHasher, company_id: str, project_id: str, address: str) -> str:
    """The token of ``address``'s link in an email of ``company_id``/``project_id``."""
    for name, value in (("company_id", company_id), ("project_id", project_id)):
        if not _ID.fullmatch(value):
            raise ValueError(f"{name} is not an id")
    body = bytes([_VERSION]) + _field(company_id) + _field(project_id) + bytes.fromhex(hasher.digest(address))
    return _encode(body + _mac(hasher, body))


def read_token(hasher: AddressHasher, token: str) -> UnsubscribeTarget:
    """The target of a token this key signed; ``TokenInvalid`` for anything else."""
    raw = _decode(token)
    body, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
    # Verify before parsing: nothing of an unsigned token is trusted, and the comparison takes
    # the same time wherever the first wrong byte is.
    if len(raw) <= _MAC_BYTES or not hmac.compare_digest(mac, _mac(hasher, body)):
        raise TokenInvalid("the token does not verify")
    if body[0] != _VERSION:
        raise TokenInvalid("unknown token version")
    company_id, rest = _take(body[1:])
    project_id, rest = _take(rest)
    if len(rest) != _HASH_BYTES:
        raise TokenInvalid("the token's address hash has the wrong length")
    return UnsubscribeTarget(company_id=company_id, project_id=project_id, address_hash=rest.hex())


def _mac(hasher: AddressHasher, body: bytes) -> bytes:
    return hasher.sign(PURPOSE, body)[:_MAC_BYTES]


def _field(value: str) -> bytes:
    encoded = value.encode("ascii")
    return bytes([len(encoded)]) + encoded


def _take(data: bytes) -> tuple[str, bytes]:
    if not data or len(data) < 1 + data[0]:
        raise TokenInvalid("the token is truncated")
    value = data[1 : 1 + data[0]].decode("ascii", errors="replace")
    if not _ID.fullmatch(value):
        raise TokenInvalid("the token's id is not an id")
    return value, data[1 + data[0] :]


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _decode(token: object) -> bytes:
    # Typed str by the caller, but it arrives from a URL: anything else is refused, not raised on.
    if not isinstance(token, str) or not _TOKEN.fullmatch(token):
        raise TokenInvalid("not URL-safe base64")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise TokenInvalid("not URL-safe base64") from None
    # One spelling per token: base64 leaves spare bits in the last character.
    if _encode(raw) != token:
        raise TokenInvalid("not the canonical encoding")
    return raw
