"""JSON that keeps DynamoDB numbers exact.

DynamoDB hands numbers back as ``Decimal`` (up to 38 digits). ``json`` would either refuse them or
round them through ``float``; here every ``Decimal`` is written with its own digits and exponent
and read back as ``Decimal``, so a record can go record -> queue message -> record without
changing a digit.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from decimal import Decimal
from typing import Any


def dumps(value: Any, *, sort_keys: bool = False) -> str:
    """Compact JSON; ``sort_keys`` gives one canonical text for equal documents (fingerprints)."""
    token = f"__decimal_{secrets.token_hex(8)}_"
    exact: list[str] = []

    def default(obj: Any) -> Any:
        if isinstance(obj, Decimal):
            if not obj.is_finite():
                raise ValueError(f"{obj} has no JSON form")
            exact.append(_number_text(obj))
            return f"{token}{len(exact) - 1}"
        if isinstance(obj, datetime):
            return obj.isoformat()
        raise TypeError(f"{type(obj).__name__} is not JSON serialisable")

    text = json.dumps(value, default=default, separators=(",", ":"), ensure_ascii=False, sort_keys=sort_keys)
    for index in range(len(exact) - 1, -1, -1):
        text = text.replace(f'"{token}{index}"', exact[index])
    return text.translate(_ESCAPED)


# SQS refuses U+FFFE, U+FFFF and surrogates in a message body, and a lone surrogate has no UTF-8
# form. JSON syntax is ASCII, so such a code point can only be inside a string: write it as an escape.
_ESCAPED = {code: f"\\u{code:04x}" for code in (*range(0xD800, 0xE000), 0xFFFE, 0xFFFF)}


# Integers with a positive exponent (``1E+2``) are written out in digits up to this length, so
# counts stay plain integers; beyond it the exponent form is kept: ``1E+999999999999999999`` must
# never be expanded (it would take all the memory there is).
_MAX_PLAIN_DIGITS = 40


def _number_text(number: Decimal) -> str:
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int)  # finite
    if exponent > 0 and number.adjusted() < _MAX_PLAIN_DIGITS:
        return format(number, "f")
    # str() writes digits and exponent as stored ("60", "-2.50", "1E-30"), never expanding them.
    return str(number)


def loads(text: str | bytes) -> Any:
    """Parse JSON, reading every non-integer number as ``Decimal`` (what boto3 wants to write)."""
    return json.loads(text, parse_float=Decimal)
