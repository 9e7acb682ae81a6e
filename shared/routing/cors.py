"""CORS headers of the API, defined once for the router, the ApiStack and the local gateway.

The API authenticates with the ``x-api-key`` header, never with cookies, so any origin may call it
and credentials are not allowed: a page on another site cannot use a visitor's ambient identity.
"""

from __future__ import annotations

ALLOW_ORIGIN = "*"
ALLOW_METHODS = ("OPTIONS", "POST")
# The read routes (``GET /conversations`` and ``GET /conversations/{conversation_id}``, issue 13).
READ_ALLOW_METHODS = ("GET", "OPTIONS")
ALLOW_HEADERS = ("Content-Type", "X-Api-Key")
# Browsers hide response headers from scripts unless exposed; clients need Retry-After on a 429.
EXPOSE_HEADERS = ("Retry-After",)
PREFLIGHT_MAX_AGE_SECONDS = 600


def response_headers() -> dict[str, str]:
    """Headers every response carries, errors included."""
    return {
        "Access-Control-Allow-Origin": ALLOW_ORIGIN,
        "Access-Control-Expose-Headers": ",".join(EXPOSE_HEADERS),
    }


def preflight_headers(methods: tuple[str, ...] = ALLOW_METHODS) -> dict[str, str]:
    """Headers of the answer to ``OPTIONS`` (the preflight) on a resource allowing ``methods``."""
    return {
        "Access-Control-Allow-Origin": ALLOW_ORIGIN,
        "Access-Control-Allow-Methods": ",".join(methods),
        "Access-Control-Allow-Headers": ",".join(ALLOW_HEADERS),
        "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE_SECONDS),
    }
