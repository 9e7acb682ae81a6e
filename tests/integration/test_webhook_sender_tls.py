"""HTTPS to a tenant's webhook: the connection goes to the checked address, yet TLS is about the
configured name (SNI, Host, the certificate's name verified). A real TLS server on 127.0.0.1 with
a certificate from a CA made for the test; the name resolves there through an injected resolver."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from shared.tenant_webhooks import target
from tests.fixtures.webhook_receiver import WebhookReceiver

NAME = "hooks.tenant.example"


def _certificate(subject: str, issuer_key, issuer_name: x509.Name, key, *, ca: bool, names: list[str]):
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A test CA, and a server certificate from it for NAME (files, as ssl wants them)."""
    folder = tmp_path_factory.mktemp("tls")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "webhook test CA")])
    ca = _certificate("webhook test CA", ca_key, ca_name, ca_key, ca=True, names=[])
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = _certificate(NAME, ca_key, ca_name, server_key, ca=False, names=[NAME])
    files = {"ca": folder / "ca.pem", "cert": folder / "server.pem", "key": folder / "server.key"}
    files["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files["cert"].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    files["key"].write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return files


@pytest.fixture
def tls_receiver(authority: dict[str, Path]) -> Iterator[tuple[WebhookReceiver, list[str]]]:
    server_names: list[str] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(authority["cert"], authority["key"])
    context.sni_callback = lambda _sock, name, _ctx: server_names.append(name)
    with WebhookReceiver(tls=context) as receiver:
        yield receiver, server_names


def _trusting(authority: dict[str, Path]) -> ssl.SSLContext:
    """The default client context (verification on, names checked) that also trusts the test CA."""
    context = ssl.create_default_context(cafile=str(authority["ca"]))
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    return context


def _loopback(host: str, port: int) -> list[str]:
    return [str(ipaddress.ip_address("127.0.0.1"))]


def _post(url: str, context: ssl.SSLContext) -> target.TargetResponse:
    return target.post(url, b"{}", {}, timeout_seconds=5, allow_local=True, resolver=_loopback, tls_context=context)


def test_https_goes_to_the_checked_address_with_the_configured_name(tls_receiver, authority):
    receiver, server_names = tls_receiver
    response = _post(f"https://{NAME}:{receiver.port}/hooks", _trusting(authority))

    assert response.status == 200
    assert server_names == [NAME]
    (request,) = receiver.requests()
    assert request.headers["host"] == f"{NAME}:{receiver.port}"


def test_a_certificate_for_another_name_is_refused(tls_receiver, authority):
    receiver, _ = tls_receiver
    with pytest.raises(target.TargetUnreachable):
        _post(f"https://other.tenant.example:{receiver.port}/hooks", _trusting(authority))
    assert receiver.requests() == []


def test_a_certificate_from_an_unknown_authority_is_refused(tls_receiver):
    receiver, _ = tls_receiver
    with pytest.raises(target.TargetUnreachable):
        _post(f"https://{NAME}:{receiver.port}/hooks", ssl.create_default_context())
    assert receiver.requests() == []
