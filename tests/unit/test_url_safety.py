"""The SSRF rule: which webhook URLs and addresses the engine may call, at configuration and delivery."""

from __future__ import annotations

import ipaddress
import socket
import threading

import pytest

from shared.tenant_webhooks import target
from shared.url_safety import address_problem, configuration_problem
from tests.fixtures.webhook_receiver import WebhookReceiver

REFUSED = [
    "10.0.0.1",
    "10.255.255.254",
    "172.16.0.1",
    "172.31.255.1",
    "192.168.1.10",
    "127.0.0.1",
    "127.8.9.10",
    "169.254.169.254",  # the instance metadata service
    "0.0.0.0",
    "100.64.0.1",  # carrier-grade NAT: not public
    "224.0.0.1",
    "::1",
    "fc00::1",
    "fd12:3456::1",
    "fe80::1",
    "::ffff:10.0.0.1",
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "2002:a00:1::1",  # 6to4 of 10.0.0.1
    "::",
]
PUBLIC = ["93.184.216.34", "8.8.8.8", "2606:2800:220:1:248:1893:25c8:1946", "::ffff:93.184.216.34"]


@pytest.mark.parametrize("address", REFUSED)
def test_private_loopback_link_local_and_mapped_addresses_are_refused(address):
    assert address_problem(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass(address):
    assert address_problem(ipaddress.ip_address(address)) is None


def test_allow_local_admits_loopback_only():
    assert address_problem(ipaddress.ip_address("127.0.0.1"), allow_local=True) is None
    assert address_problem(ipaddress.ip_address("::1"), allow_local=True) is None
    for other in ("10.0.0.1", "169.254.169.254", "192.168.0.1", "fe80::1"):
        assert address_problem(ipaddress.ip_address(other), allow_local=True) is not None


@pytest.mark.parametrize(
    ("url", "allow_local"),
    [
        ("http://hooks.example.com/in", False),
        ("ftp://hooks.example.com/in", True),
        ("https://user:pw@hooks.example.com/in", False),
        ("https:///no-host", False),
        ("https://hooks.example.com/in#part", False),
        ("https://localhost/in", False),
        ("https://10.1.2.3/in", False),
        ("https://[::ffff:192.168.0.1]/in", False),
        ("https://hooks.example.com:99999/in", False),
    ],
)
def test_urls_of_the_wrong_shape_are_refused(url, allow_local):
    assert configuration_problem(url, allow_local=allow_local) is not None


def test_urls_of_the_right_shape_pass():
    assert configuration_problem("https://hooks.example.com/in?tenant=1") is None
    assert configuration_problem("http://127.0.0.1:8080/in", allow_local=True) is None


class _Resolver:
    def __init__(self, *answers: str):
        self.answers = list(answers)
        self.asked: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append((host, port))
        return self.answers


@pytest.fixture
def receiver():
    with WebhookReceiver() as running:
        yield running


def _post(url: str, resolver: _Resolver, *, allow_local: bool) -> target.TargetResponse:
    return target.post(
        url, b"{}", {"Content-Type": "application/json"}, timeout_seconds=2, allow_local=allow_local, resolver=resolver
    )


@pytest.mark.parametrize("address", REFUSED)
def test_a_name_resolving_to_a_refused_address_is_not_called(receiver, address):
    resolver = _Resolver(address)
    with pytest.raises(target.TargetRefused):
        _post(f"https://tenant.example:{receiver.port}/hooks", resolver, allow_local=False)
    assert resolver.asked == [("tenant.example", receiver.port)]
    assert receiver.requests() == []


def test_one_private_answer_among_public_ones_refuses_the_name(receiver):
    resolver = _Resolver("93.184.216.34", "10.0.0.7")
    with pytest.raises(target.TargetRefused, match="private"):
        _post("https://tenant.example/hooks", resolver, allow_local=False)


def test_http_is_refused_unless_local_targets_are_allowed(receiver):
    resolver = _Resolver("127.0.0.1")
    with pytest.raises(target.TargetRefused, match="https"):
        _post(receiver.url(), resolver, allow_local=False)
    assert resolver.asked == []
    assert _post(receiver.url(), resolver, allow_local=True).status == 200


def test_the_connection_goes_to_the_checked_address_under_the_configured_name(receiver):
    """One lookup only (no second answer could differ: DNS rebinding); Host stays the name."""
    resolver = _Resolver("127.0.0.1")
    response = _post(f"http://tenant.example:{receiver.port}/hooks?x=1", resolver, allow_local=True)
    assert response.status == 200
    assert resolver.asked == [("tenant.example", receiver.port)]
    (request,) = receiver.requests()
    assert request.headers["host"] == f"tenant.example:{receiver.port}"
    assert request.path == "/hooks"


def test_a_name_that_does_not_resolve_is_unreachable_not_refused():
    def failing(host: str, port: int) -> list[str]:
        raise OSError("no such name")

    with pytest.raises(target.TargetUnreachable):
        target.post("https://tenant.example/hooks", b"{}", {}, timeout_seconds=1, allow_local=False, resolver=failing)


def test_https_verifies_the_certificate_against_the_name(receiver):
    """The test receiver speaks plain HTTP: a TLS handshake with it fails, and is not skipped."""
    with pytest.raises(target.TargetUnreachable):
        _post(f"https://tenant.example:{receiver.port}/hooks", _Resolver("127.0.0.1"), allow_local=True)
    assert receiver.requests() == []


def test_a_target_trickling_its_answer_is_cut_off_at_the_budget():
    """Each byte comes well within the socket timeout; only a bound on the whole exchange stops it."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def trickle() -> None:
        connection, _ = server.accept()
        with connection:
            connection.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n":
                if stop.wait(0.3):
                    return
                try:
                    connection.sendall(bytes([byte]))
                except OSError:
                    return

    worker = threading.Thread(target=trickle, daemon=True)
    worker.start()
    port = server.getsockname()[1]
    try:
        with pytest.raises(target.TargetUnreachable, match="in time"):
            target.post(
                f"http://127.0.0.1:{port}/hooks",
                b"{}",
                {},
                timeout_seconds=1,
                allow_local=True,
                resolver=_Resolver("127.0.0.1"),
            )
    finally:
        stop.set()
        worker.join()
        server.close()
