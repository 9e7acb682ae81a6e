"""The body of an API Gateway REST proxy event as the client sent it: text as UTF-8, or base64 for a
binary media type. Shared by the router and the webhook ingress, which each answer in their own words."""

from __future__ import annotations

import base64
import binascii


class BodyTooLarge(ValueError):
    pass


class BodyNotBase64(ValueError):
    pass


def body_bytes(body: str, *, base64_encoded: bool, max_bytes: int) -> bytes:
    """The raw bytes; ``BodyTooLarge`` over ``max_bytes``, ``BodyNotBase64`` for a broken encoding."""
    if base64_encoded:
        # Base64 is 4/3 of the raw size: refuse before decoding a body that is certainly too big.
        if len(body) > (max_bytes * 4) // 3 + 4:
            raise BodyTooLarge(f"the body is larger than {max_bytes} bytes")
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise BodyNotBase64("the body is not valid base64") from None
    else:
        raw = body.encode("utf-8")
    if len(raw) > max_bytes:
        raise BodyTooLarge(f"the body is {len(raw)} bytes, more than {max_bytes}")
    return raw
