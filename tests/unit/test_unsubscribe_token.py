"""The one-click unsubscribe token: made and read with the consent key; anything altered, truncated,
re-encoded or signed with another key is refused the same way."""

from __future__ import annotations

import base64

import pytest

from shared.consent.address_hash import AddressHasher
from shared.consent.unsubscribe_token import PURPOSE, TokenInvalid, UnsubscribeTarget, make_token, read_token

KEY = AddressHasher(b"k" * 32)
OTHER_KEY = AddressHasher(b"o" * 32)
ADDRESS = "Alex.Morgan@Example.com"


def _raw(token: str) -> bytearray:
    return bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()


def test_a_token_names_the_company_project_and_address_hash_and_reads_back():
    token = make_token(KEY, "ci-demo-001", "pi-demo-001", ADDRESS)

    assert read_token(KEY, token) == UnsubscribeTarget("ci-demo-001", "pi-demo-001", KEY.digest(ADDRESS))
    # The address's spellings are one person, as in the suppression list.
    assert read_token(KEY, make_token(KEY, "ci-demo-001", "pi-demo-001", ADDRESS.lower())).address_hash == (
        KEY.digest(ADDRESS)
    )


def test_a_token_is_url_safe_short_enough_for_a_header_and_holds_no_readable_address():
    token = make_token(KEY, "c" * 64, "p" * 64, ADDRESS)

    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert len(token) <= 240
    raw = bytes(_raw(token))
    for spelling in (ADDRESS, ADDRESS.lower(), "alex.morgan", "example.com"):
        assert spelling.lower().encode() not in raw.lower()


def test_the_same_recipient_gets_the_same_token_and_others_get_others():
    token = make_token(KEY, "ci-demo-001", "pi-demo-001", ADDRESS)

    assert make_token(KEY, "ci-demo-001", "pi-demo-001", ADDRESS) == token
    assert make_token(KEY, "ci-demo-001", "pi-demo-001", "sam@example.com") != token
    assert make_token(KEY, "ci-other-002", "pi-demo-001", ADDRESS) != token
    assert make_token(OTHER_KEY, "ci-demo-001", "pi-demo-001", ADDRESS) != token


def test_another_keys_token_is_invalid():
    with pytest.raises(TokenInvalid):
        read_token(KEY, make_token(OTHER_KEY, "ci-demo-001", "pi-demo-001", ADDRESS))


def test_the_signature_is_under_its_own_purpose_not_an_address_digest():
    token = make_token(KEY, "ci-demo-001", "pi-demo-001", ADDRESS)
    raw = _raw(token)
    body = bytes(raw[:-16])

    assert bytes(raw[-16:]) == KEY.sign(PURPOSE, body)[:16]
    assert bytes(raw[-16:]) != KEY.sign("another-purpose", body)[:16]


@pytest.mark.parametrize(
    "part",
    ["version", "company length", "company id", "project length", "project id", "address hash", "signature"],
)
def test_changing_any_byte_of_any_part_makes_the_token_invalid(part):
    token = make_token(KEY, "ci-demo-001", "pi-demo-001", ADDRESS)
    company, project = len("ci-demo-001"), len("pi-demo-001")
    offsets = {
        "version": 0,
        "company length": 1,
        "company id": 2 + company // 2,
        "project length": 2 + company,
        "project id": 3 + company + project // 2,
        "address hash": 3 + company + project + 5,
        "signature": len(_raw(token)) - 1,
    }
    for flip in (0x01, 0x80, 0xFF):
        raw = _raw(token)
        raw[offsets[part]] ^= flip
        with pytest.raises(TokenInvalid):
            read_token(KEY, _encode(raw))


def test_a_token_resigned_with_another_company_but_the_old_signature_is_invalid():
    token = make_token(KEY, "ci-demo-001", "pi-demo-001", ADDRESS)
    raw = _raw(token)
    forged = bytes(raw).replace(b"ci-demo-001", b"ci-othe-002")

    with pytest.raises(TokenInvalid):
        read_token(KEY, _encode(forged))


@pytest.mark.parametrize(
    "token",
    [
        "",
        "!!!!",
        "a",
        "abc=",  # padding is not part of a token
        "ab+/cd",  # standard base64, not URL-safe
        " " + "A" * 100,
        "A" * 600,  # longer than any token
        _encode(b"\x01"),
        _encode(b"\x01" + b"\x00" * 15),
        _encode(bytes(64)),
    ],
)
def test_malformed_tokens_are_invalid(token):
    with pytest.raises(TokenInvalid):
        read_token(KEY, token)


def test_truncated_and_extended_tokens_are_invalid():
    token = make_token(KEY, "ci-demo-001", "pi-demo-001", ADDRESS)
    raw = _raw(token)

    for cut in (1, 2, 15, 16, 17, len(raw) - 16, len(raw) - 1):
        with pytest.raises(TokenInvalid):
            read_token(KEY, _encode(raw[:cut]))
    with pytest.raises(TokenInvalid):
        read_token(KEY, _encode(bytes(raw) + b"\x00"))


def test_a_non_canonical_spelling_of_a_valid_token_is_invalid():
    # Pick a token whose last character carries spare bits, then set them: the same bytes, another string.
    for index in range(50):
        token = make_token(KEY, "ci-demo-001", "pi-demo-001", f"person{index}@example.com")
        if len(token) % 4 in (2, 3):
            break
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(token[-1])
    respelled = token[:-1] + alphabet[last ^ 1]  # the lowest bit is always a spare one
    assert respelled != token
    assert _raw(respelled) == _raw(token)

    with pytest.raises(TokenInvalid):
        read_token(KEY, respelled)


def test_a_correctly_signed_token_with_a_malformed_id_is_invalid():
    # Only a key holder could make one; the reader still refuses what no link ever carried.
    body = b"\x01" + b"\x03a#b" + b"\x03p-1" + bytes(32)
    with pytest.raises(TokenInvalid):
        read_token(KEY, _encode(body + KEY.sign(PURPOSE, body)[:16]))
    body = b"\x02" + b"\x03c-1" + b"\x03p-1" + bytes(32)
    with pytest.raises(TokenInvalid):
        read_token(KEY, _encode(body + KEY.sign(PURPOSE, body)[:16]))


def test_ids_that_are_not_ids_cannot_be_put_in_a_token():
    with pytest.raises(ValueError):
        make_token(KEY, "ci demo", "pi-demo-001", ADDRESS)
    with pytest.raises(ValueError):
        make_token(KEY, "ci-demo-001", "", ADDRESS)
