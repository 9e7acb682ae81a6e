"""The ``List-Unsubscribe`` headers of every email the engine sends (RFC 2369 + RFC 8058 one-click).

``List-Unsubscribe: <{public base URL}/unsubscribe/{token}>`` (plus ``, <mailto:…?subject=unsubscribe>``
when the project sets ``consent.unsubscribe_mailto``) and ``List-Unsubscribe-Post:
List-Unsubscribe=One-Click``, which tells mailbox providers they may POST the URL themselves.

The base URL is the one the message carries for providers' callbacks (the router's, or the ingress's
for a reply): the API that serves ``/unsubscribe/{token}``. A message without one (queued before it
was carried) gets the mailto alone, without ``List-Unsubscribe-Post`` (one-click needs a URL), or
no header when the project has no mailto either.
"""

from __future__ import annotations

from shared.consent.address_hash import AddressHasher
from shared.consent.unsubscribe_token import make_token
from shared.webhooks.routes import unsubscribe_url

LIST_UNSUBSCRIBE = "List-Unsubscribe"
LIST_UNSUBSCRIBE_POST = "List-Unsubscribe-Post"
ONE_CLICK = "List-Unsubscribe=One-Click"


def list_unsubscribe_headers(
    hasher: AddressHasher,
    *,
    base_url: str | None,
    company_id: str,
    project_id: str,
    recipient: str,
    mailto: str | None,
) -> dict[str, str]:
    """The headers for an email to ``recipient`` from ``company_id``/``project_id``."""
    links: list[str] = []
    if base_url:
        links.append(f"<{unsubscribe_url(base_url, make_token(hasher, company_id, project_id, recipient))}>")
    if mailto:
        links.append(f"<mailto:{mailto}?subject=unsubscribe>")
    if not links:
        return {}
    headers = {LIST_UNSUBSCRIBE: ", ".join(links)}
    if base_url:
        headers[LIST_UNSUBSCRIBE_POST] = ONE_CLICK
    return headers
