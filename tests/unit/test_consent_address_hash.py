"""The keyed hash of an address (shared/consent/address_hash.py): one digest per person, nothing
readable, and the key's other use kept apart."""

from __future__ import annotations

import pytest

from shared.consent.address_hash import AddressHasher

KEY = b"0123456789abcdef0123456789abcdef"


def test_every_spelling_of_one_person_has_one_digest():
    hasher = AddressHasher(KEY)
    assert hasher.digest("whatsapp:+447700900123") == hasher.digest("+447700900123") == hasher.digest(" +447700900123 ")
    assert hasher.digest("Alex.Morgan@Example.COM") == hasher.digest("alex.morgan@example.com")
    assert hasher.digest("+447700900123") != hasher.digest("+447700900124")


def test_the_digest_depends_on_the_key_and_shows_nothing_of_the_address():
    digest = AddressHasher(KEY).digest("+447700900123")
    assert len(digest) == 64 and int(digest, 16) >= 0
    assert "7700900123" not in digest
    assert AddressHasher(KEY[::-1]).digest("+447700900123") != digest


def test_signatures_of_another_purpose_never_equal_an_address_digest():
    hasher = AddressHasher(KEY)
    payload = b"+447700900123"
    assert hasher.sign("unsubscribe", payload) != hasher.sign("other", payload)
    assert hasher.sign("unsubscribe", payload).hex() != hasher.digest("+447700900123")


def test_a_short_key_is_refused_and_the_key_is_never_shown():
    with pytest.raises(ValueError, match="at least 32 bytes"):
        AddressHasher(b"short")
    assert KEY.decode() not in repr(AddressHasher(KEY))
