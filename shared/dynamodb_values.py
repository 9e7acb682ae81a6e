"""Whether a free-form JSON document (``project_data``) can be stored in a DynamoDB item.

The processors copy ``project_data`` into the conversation record. A value DynamoDB (or boto3's
serializer) cannot hold would fail every write of that record, so the message would be retried
into the DLQ; the router refuses such a document up front instead, and a processor treats a
queued one as malformed. Numbers are judged by their mantissa and exponent only: nothing here
expands ``1e999999999999999999`` into digits.

DynamoDB's limits (Developer Guide, "Service, account, and table quotas"): numbers keep up to 38
significant digits, magnitude 1E-130 to 9.99…E+125; nesting up to 32 levels; 400 KB per item.
"""

from __future__ import annotations

import decimal
import json
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import DYNAMODB_CONTEXT

MAX_DIGITS = 38
SMALLEST_EXPONENT = -130  # 1E-130
LARGEST_EXPONENT = 125  # 9.99…E+125
# The document's container counts as level 1 (it is one attribute of the record).
MAX_NESTING = 32
# The request's share of the record's 400 KB: the rest holds the recipient, ids, the AI's content
# and the message history, which grows once replies are threaded. 64 KiB is also the request
# body limit, so only documents that DynamoDB stores larger than their JSON (many tiny numbers,
# empty lists) can reach it.
MAX_DOCUMENT_BYTES = 64 * 1024


class Unstorable(ValueError):
    """``path`` (e.g. ``project_data.jobs[2].id``) names the value; ``reason`` says why."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"{path} {reason}")
        self.path = path
        self.reason = reason


def check_storable(document: Any, *, root: str) -> None:
    """Raise ``Unstorable`` for the first value (in document order) DynamoDB could not store."""
    size = sum(_sizes(document, root, depth=1))
    if size > MAX_DOCUMENT_BYTES:
        raise Unstorable(root, f"takes {size} bytes as a DynamoDB attribute; at most {MAX_DOCUMENT_BYTES} are allowed")


def _sizes(value: Any, path: str, *, depth: int) -> Iterator[int]:
    """The DynamoDB size of each part of ``value`` (AWS's documented item-size rules)."""
    if isinstance(value, dict | list):
        if depth > MAX_NESTING:
            raise Unstorable(path, f"is nested deeper than the {MAX_NESTING} levels DynamoDB allows")
        yield 3  # a map or list: 3 bytes, plus 1 per element
        children = value.items() if isinstance(value, dict) else enumerate(value)
        for key, child in children:
            if isinstance(key, str):
                child_path = _child_path(path, key)
                yield 1 + _text_size(key, child_path)
            else:
                child_path = f"{path}[{key}]"
                yield 1
            yield from _sizes(child, child_path, depth=depth + 1)
    elif value is None or isinstance(value, bool):
        yield 1
    elif isinstance(value, int | float | Decimal):
        yield _number_size(value, path)
    elif isinstance(value, str):
        yield _text_size(value, path)
    else:
        raise Unstorable(path, f"is a {type(value).__name__}, not a JSON value")


def _number_size(value: int | float | Decimal, path: str) -> int:
    number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if not number.is_finite():
        raise Unstorable(path, "is not a finite number")
    digits = number.as_tuple().digits
    if len(digits) > MAX_DIGITS:
        raise Unstorable(path, f"has more than the {MAX_DIGITS} digits a DynamoDB number keeps")
    # What boto3 does before it writes (its context traps any rounding, overflow or clamping); on
    # a number of at most 38 digits this works on the exponent alone, never on expanded digits.
    try:
        DYNAMODB_CONTEXT.create_decimal(number)
    except decimal.DecimalException:
        raise Unstorable(path, _OUT_OF_RANGE) from None
    if number and not SMALLEST_EXPONENT <= number.adjusted() <= LARGEST_EXPONENT:
        raise Unstorable(path, _OUT_OF_RANGE)
    return (len(digits) + 1) // 2 + 1


_OUT_OF_RANGE = "is outside the range of a DynamoDB number (magnitude 1E-130 to 9.99E+125)"


def _text_size(text: str, path: str) -> int:
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise Unstorable(path, "is not valid Unicode text (a lone surrogate)") from None


_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _child_path(path: str, key: str) -> str:
    return f"{path}.{key}" if _PLAIN_KEY.match(key) else f"{path}[{json.dumps(key)}]"
