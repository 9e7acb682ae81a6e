from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from shared import json_codec


def test_dynamodb_numbers_round_trip_digit_for_digit():
    record = {
        "requests_per_minute": Decimal("60"),
        "ratio": Decimal("0.1"),
        "precise": Decimal("3.14159265358979323846264338327950288"),
        "big": Decimal("12345678901234567890123456789012345678"),
        "tiny": Decimal("1E-30"),
        "nested": [{"score": Decimal("-2.50")}],
    }
    text = json_codec.dumps(record)
    assert json_codec.loads(text) == record
    assert '"requests_per_minute":60' in text
    assert "3.14159265358979323846264338327950288" in text


def test_text_that_looks_like_a_placeholder_is_left_alone():
    value = {"note": "__decimal_0_", "n": Decimal("1.5")}
    assert json_codec.loads(json_codec.dumps(value)) == value


dynamodb_numbers = st.decimals(allow_nan=False, allow_infinity=False, places=None).filter(
    lambda d: len(d.as_tuple().digits) <= 38
)
documents = st.recursive(
    dynamodb_numbers | st.text(max_size=20) | st.booleans() | st.none(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@given(documents)
def test_any_document_of_dynamodb_values_round_trips_exactly(document):
    restored = json_codec.loads(json_codec.dumps(document))
    assert json_codec.dumps(restored) == json_codec.dumps(document)
    assert restored == document


def test_a_huge_exponent_is_written_as_an_exponent_never_expanded_into_digits():
    # The old codec wrote 1e100000000 as 100 million digits (~200 MB); 1e999999999999999999
    # raised MemoryError. Both must simply be written as they are.
    for literal in ("1E+999999999999999999", "1E+100000000", "-1E-999999999999999999", "0E+999999999999999999"):
        text = json_codec.dumps({"n": Decimal(literal)})
        assert text == f'{{"n":{literal}}}'
        assert json_codec.loads(text) == {"n": Decimal(literal)}


def test_small_integral_exponents_are_still_written_as_plain_integers():
    assert json_codec.dumps([Decimal("6E+1"), Decimal("1E+39"), Decimal("1E+40")]) == f"[60,1{'0' * 39},1E+40]"


def test_code_points_an_sqs_body_refuses_are_written_as_escapes():
    # SQS accepts #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF; a raw U+FFFF in a queued
    # body made SendMessage fail (500 QUEUE_ERROR for a client's text), a lone surrogate cannot be
    # encoded as UTF-8 at all.
    value = {"note": "a\ufffeb\uffffc", "lone": "\ud800", "fine": "jösé 😀 \u00a0", "k\uffff": 1}
    text = json_codec.dumps(value)
    assert not any(0xD800 <= ord(c) <= 0xDFFF or ord(c) in (0xFFFE, 0xFFFF) for c in text)
    text.encode("utf-8")
    assert "jösé 😀" in text  # everything else stays as it is
    assert json_codec.loads(text) == value
