"""One POST to a tenant's webhook URL, to an address that was checked (SSRF, DNS rebinding).

The host is resolved once; every address it resolves to must pass ``address_problem`` (one
private answer among public ones refuses the lot: which one a client picks is not ours to
choose), then the connection goes to a checked address — never a second lookup that could answer
differently. TLS still verifies the certificate against the host *name* (SNI and Host header are
the name). Redirects are not followed; the answer's body is read up to a cap and thrown away.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from shared.url_safety import address_problem, configuration_problem

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
# (host, port) -> the addresses the host resolves to; tests inject one to answer private addresses.
Resolver = Callable[[str, int], Sequence[str]]
RESPONSE_BODY_LIMIT = 64 * 1024


class TargetRefused(Exception):
    """The URL or an address its host resolves to is not one the engine may call (never retried)."""


class TargetUnreachable(Exception):
    """No answer this time: the name did not resolve, the connection failed or timed out (retried)."""


@dataclass(frozen=True)
class TargetResponse:
    status: int
    retry_after: str | None  # the raw Retry-After header, when the target sent one


def system_resolver(host: str, port: int) -> list[str]:
    # An IPv4 or IPv6 socket address starts with the address as text (typeshed also allows the
    # (int, bytes) of other families, which a TCP lookup never returns).
    return [str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


def post(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    timeout_seconds: float,
    allow_local: bool,
    resolver: Resolver = system_resolver,
    tls_context: ssl.SSLContext | None = None,
) -> TargetResponse:
    """``tls_context``: only tests pass one (trusting their own CA); the default verifies
    certificates against the system's CAs and the host name."""
    problem = configuration_problem(url, allow_local=allow_local)
    if problem:
        raise TargetRefused(problem)
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses = _checked_addresses(host, port, resolver, allow_local=allow_local)
    connection = _pinned_connection(parts.scheme, host, port, addresses, timeout_seconds, tls_context)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    # The socket timeout bounds each read; the watchdog bounds the whole exchange, so a target
    # that trickles its answer a byte at a time cannot hold a worker past the budget either.
    watchdog = _Watchdog(connection, timeout_seconds)
    try:
        connection.request("POST", target, body=body, headers=dict(headers))
        response = connection.getresponse()
        response.read(RESPONSE_BODY_LIMIT)
        return TargetResponse(status=response.status, retry_after=response.getheader("Retry-After"))
    except (OSError, http.client.HTTPException) as error:
        if watchdog.fired or isinstance(error, TimeoutError):
            raise TargetUnreachable("the webhook target did not answer in time") from None
        raise TargetUnreachable(f"the webhook target could not be reached ({type(error).__name__})") from None
    finally:
        watchdog.cancel()
        connection.close()


class _Watchdog:
    """Shuts the connection's socket down when the budget runs out, ending any read in progress."""

    def __init__(self, connection: http.client.HTTPConnection, seconds: float):
        self._connection = connection
        self.fired = False
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        self.fired = True
        sock = self._connection.sock
        if sock is not None:
            with contextlib.suppress(OSError):  # already closed: nothing in progress
                sock.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        self._timer.cancel()


def _checked_addresses(host: str, port: int, resolver: Resolver, *, allow_local: bool) -> list[Address]:
    try:
        answers = resolver(host, port)
    except (OSError, UnicodeError):
        raise TargetUnreachable("the webhook host name did not resolve") from None
    addresses: list[Address] = []
    for answer in answers:
        address = ipaddress.ip_address(answer.split("%", 1)[0])  # an IPv6 zone suffix is not the address
        problem = address_problem(address, allow_local=allow_local)
        if problem:
            raise TargetRefused(problem)
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise TargetUnreachable("the webhook host name did not resolve")
    return addresses


def _open_socket(addresses: Sequence[Address], port: int, timeout: float | None) -> socket.socket:
    """A connection to the first checked address that accepts one."""
    last: OSError | None = None
    for address in addresses:
        try:
            sock = socket.create_connection((str(address), port), timeout)
        except OSError as error:
            last = error
            continue
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock
    raise last or OSError("no address to connect to")


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, addresses: Sequence[Address], timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._addresses = addresses

    def connect(self) -> None:
        self.sock = _open_socket(self._addresses, self.port, self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, addresses: Sequence[Address], timeout: float, context: ssl.SSLContext):
        super().__init__(host, port, timeout=timeout, context=context)
        self._addresses = addresses
        self._tls = context

    def connect(self) -> None:
        sock = _open_socket(self._addresses, self.port, self.timeout)
        # The certificate is checked against the name the tenant configured, not the address.
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)


def _pinned_connection(
    scheme: str, host: str, port: int, addresses: Sequence[Address], timeout: float, tls: ssl.SSLContext | None
) -> http.client.HTTPConnection:
    if scheme == "https":
        return _PinnedHTTPSConnection(host, port, addresses, timeout, tls or ssl.create_default_context())
    return _PinnedHTTPConnection(host, port, addresses, timeout)
