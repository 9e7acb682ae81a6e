"""Is a tenant's webhook URL one the engine may call? (issue 13)

Two checks, one module: ``configuration_problem`` when a project's record is written (the URL's
shape), and ``address_problem`` for every address its host resolves to, at delivery time (DNS can
change after configuration, and a name can be made to resolve to a private address): private,
loopback, link-local, multicast, reserved and unspecified addresses are refused, IPv4-mapped IPv6
included, so a tenant cannot make the engine call something inside its own network (SSRF).

``allow_local`` (only the local stack sets it: ``WEBHOOK_ALLOW_LOCAL_TARGETS``) admits ``http://``
and loopback addresses so a test's receiver on 127.0.0.1 works; every other refusal still applies.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

ALLOWED_SCHEMES = ("https",)
LOCAL_SCHEMES = ("https", "http")


def configuration_problem(url: str, *, allow_local: bool = False) -> str | None:
    """Why ``url`` cannot be a webhook URL, or None. Never echoes credentials."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "the webhook url is not a URL"
    schemes = LOCAL_SCHEMES if allow_local else ALLOWED_SCHEMES
    if parts.scheme not in schemes:
        return "the webhook url must start with https://"
    if not parts.hostname:
        return "the webhook url has no host"
    if parts.username is not None or parts.password is not None:
        return "the webhook url must not carry credentials (sign with the secret instead)"
    if parts.fragment:
        return "the webhook url must not have a #fragment"
    if port == 0:
        return "the webhook url's port is not valid"
    try:
        literal = ipaddress.ip_address(parts.hostname)
    except ValueError:
        if not allow_local and parts.hostname.rstrip(".").lower() in ("localhost", "localhost.localdomain"):
            return "the webhook url points at this machine"
        return None
    return address_problem(literal, allow_local=allow_local)


def address_problem(address: ipaddress.IPv4Address | ipaddress.IPv6Address, *, allow_local: bool = False) -> str | None:
    """Why the engine must not connect to ``address``, or None for a public address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if allow_local and address.is_loopback:
        return None
    for refused, name in (
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local"),
        (address.is_private, "private"),
        (address.is_multicast, "multicast"),
        (address.is_reserved, "reserved"),
        (address.is_unspecified, "unspecified"),
        (not address.is_global, "not public"),
    ):
        if refused:
            return f"the webhook host resolves to a {name} address"
    return None
