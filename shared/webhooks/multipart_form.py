"""Reads a ``multipart/form-data`` body (RFC 7578) into its fields, with the stdlib ``email`` parser.

A field's value stays bytes: the form says nothing reliable about its text encoding (SendGrid's
Inbound Parse names each field's charset in a field of its own), so decoding is the caller's.
A body that is not a whole form (no boundary, a part that is not a named form field, no closing
boundary, a field named twice) is refused: which of two values the sender meant is a guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from email import policy
from email.errors import MessageDefect
from email.message import Message
from email.parser import BytesParser
from email.utils import collapse_rfc2231_value

from shared.webhooks.refusals import BodyInvalid


@dataclass(frozen=True)
class FormField:
    name: str
    value: bytes
    # Set for a file upload (SendGrid: an attachment).
    filename: str | None


def read_form(body: bytes, content_type: str) -> dict[str, FormField]:
    """The fields by name, in the body's order; ``BodyInvalid`` unless a well-formed form."""
    if "\r" in content_type or "\n" in content_type or not content_type.isascii():
        raise BodyInvalid("the Content-Type is not one header value")
    # The parser reads a MIME entity: the request's Content-Type (with its boundary) as its header.
    entity = b"Content-Type: " + content_type.encode("ascii") + b"\r\n\r\n" + body
    # compat32: the parts' headers stay plain strings. The structured headers of the newer policies
    # cost ~8 ms per small form, and their address and parameter parsers raise on some malformed input.
    message = BytesParser(policy=policy.compat32).parsebytes(entity)
    if message.get_content_type() != "multipart/form-data":
        raise BodyInvalid("the Content-Type is not multipart/form-data")
    if not message.get_boundary():
        raise BodyInvalid("the Content-Type names no boundary")
    _refuse_defects(message.defects)
    parts = message.get_payload()
    if not isinstance(parts, list):
        raise BodyInvalid("the body holds no parts")
    fields: dict[str, FormField] = {}
    for part in parts:
        if not isinstance(part, Message):  # the parser makes every part a Message; the type allows text
            raise BodyInvalid("a part is not a named form-data field")
        _refuse_defects(part.defects)
        param = part.get_param("name", header="content-disposition")
        name = collapse_rfc2231_value(param) if param is not None else None
        if part.get_content_disposition() != "form-data" or not name:
            raise BodyInvalid("a part is not a named form-data field")
        if part.is_multipart():
            raise BodyInvalid(f"the field {name[:60]!r} is itself multipart")
        if name in fields:
            raise BodyInvalid(f"the field {name[:60]!r} is repeated")
        value = part.get_payload(decode=True)
        fields[name] = FormField(
            name=name, value=value if isinstance(value, bytes) else b"", filename=part.get_filename()
        )
    if not fields:
        raise BodyInvalid("the form has no fields")
    return fields


def _refuse_defects(defects: list[MessageDefect]) -> None:
    if defects:
        raise BodyInvalid(f"the body is not a whole multipart form ({type(defects[0]).__name__})")
