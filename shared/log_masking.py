"""Masks personal addresses before they reach a log line: enough to correlate, not to contact."""

from __future__ import annotations

import re
import traceback

from pydantic import ValidationError

# Letters of any script (\w is Unicode): internationalised addresses (jösé@exämple.com) are addresses too.
_LOCAL = r"[\w.%+'!#$&*/=?^`{|}~-]"
_EMAIL = re.compile(rf"({_LOCAL}){_LOCAL}*@([^\W_])[\w.-]*(\.[^\W\d_]{{2,}})")
# A number with a leading + (E.164, maybe spaced), or a bare run of 10-15 digits; not dates or ids.
_PHONE = re.compile(r"\+\d[\d\s().-]{6,}\d|(?<![\w-])\d{10,15}(?![\w-])")


def mask_phone(value: str | None) -> str | None:
    """``+447700900123`` -> ``+44*******23``: the country code and the last two digits stay."""
    if not value:
        return value
    digits = value.lstrip("+")
    if len(digits) < 6:
        return "*" * len(value)
    prefix = "+" if value.startswith("+") else ""
    return f"{prefix}{digits[:2]}{'*' * (len(digits) - 4)}{digits[-2:]}"


def mask_email(value: str | None) -> str | None:
    """``alex.morgan@example.com`` -> ``a***@e***.com``."""
    if not value or "@" not in value:
        return value
    local, _, domain = value.partition("@")
    host, dot, tld = domain.rpartition(".")
    if not dot:
        host, tld = domain, ""
    return f"{local[:1]}***@{host[:1]}***{dot}{tld}"


def mask_address(value: str | None) -> str | None:
    """Mask a recipient address of any channel (phone or email)."""
    if value and "@" in value:
        return mask_email(value)
    return mask_phone(value)


def mask_text(text: str) -> str:
    """Mask every email address and phone number inside free text (e.g. an exception message)."""
    text = _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}***{m.group(3)}", text)
    return _PHONE.sub(lambda m: mask_phone(re.sub(r"[^\d+]", "", m.group(0))) or "", text)


def describe_error(error: BaseException) -> str:
    """An exception for a log line. Exception texts can quote data (a record's values, an
    address, the environment): validation errors lose their inputs, and the rest is masked."""
    if isinstance(error, ValidationError):
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc'])}: {problem['msg']}"
            for problem in error.errors(include_input=False, include_url=False)
        )
        return f"{type(error).__name__}: {mask_text(problems)}"
    return f"{type(error).__name__}: {mask_text(str(error))}"


def masked_traceback(error: BaseException) -> str:
    """Where the error was raised (file, line, code), without the exception's own text."""
    return mask_text("".join(traceback.format_tb(error.__traceback__)))
