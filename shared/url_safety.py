"""Is a tenant's webhook URL one the engine may call? (issue 13)

Two checks, one module: ``configuration_problem`` when a project's record is written (the URL's
shape), and ``address_problem`` for every address its host resolves to, at delivery time (DNS can
change after configuration, and a name can be made to resolve to a private address): private,
loopback, link-local, multicast, reserved and unspecified addresses are refused, IPv4-mapped IPv6
included, so a tenant cannot make the engine call something inside its own network (SSRF). IPv6
forms that carry an IPv4 address a gateway would reach (NAT64 ``64:ff9b::/96``, 6to4
``2002::/16``) are judged by that IPv4 address.

``allow_local`` (only the local stack sets it: ``WEBHOOK_ALLOW_LOCAL_TARGETS``) admits ``http://``
and loopback addresses so a test's receiver on 127.0.0.1 works; every other refusal still applies.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

ALLOWED_SCHEMES = ("https",)
LOCAL_SCHEMES = ("https", "http")
# The well-known NAT64 prefix (RFC 6052): 64:ff9b::10.0.0.1 reaches 10.0.0.1 through a NAT64 gateway.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


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
    address = _embedded_ipv4(address) or address
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


def _embedded_ipv4(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, 6to4, NAT64), else None."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None
