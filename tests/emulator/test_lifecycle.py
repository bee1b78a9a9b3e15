"""Starting, stopping, and the generated certificates."""

from __future__ import annotations

import asyncio
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
import pytest

from graph_emulator import GraphEmulator
from graph_emulator.tls import Certificates


def test_urls_need_a_started_emulator() -> None:
    emulator = GraphEmulator()
    with pytest.raises(RuntimeError, match="not started"):
        _ = emulator.graph_url
    with pytest.raises(RuntimeError, match="not started"):
        _ = emulator.ca_path


async def test_stop_removes_the_certificates(socket_enabled: None) -> None:
    emulator = GraphEmulator()
    await emulator.start()
    ca_path = Path(emulator.ca_path)
    pem = await asyncio.to_thread(ca_path.read_text)
    assert pem.startswith("-----BEGIN CERTIFICATE-----")
    assert emulator.graph_url.startswith("http://127.0.0.1:")
    assert emulator.login_url.startswith("https://127.0.0.1:")
    await emulator.stop()
    assert not await asyncio.to_thread(ca_path.exists)
    await emulator.stop()


@pytest.mark.parametrize(
    ("host", "names"),
    [
        ("127.0.0.1", set()),
        ("0.0.0.0", set()),  # noqa: S104
        ("10.1.2.3", {ipaddress.ip_address("10.1.2.3")}),
        ("emulator.test", {"emulator.test"}),
    ],
)
def test_server_certificate_names(host: str, names: set[object]) -> None:
    """Loopback always, by address and by name (the demo's front door), and ``host``."""
    certificates = Certificates(host)
    try:
        cert = x509.load_pem_x509_certificate(Path(certificates.cert_path).read_bytes())
    finally:
        certificates.cleanup()
    assert _names(cert) == {ipaddress.ip_address("127.0.0.1"), "localhost", *names}


def test_a_kept_certificate_named_otherwise_is_issued_again(tmp_path: Path) -> None:
    """One an older emulator made without the loopback name is replaced, CA and all."""
    kept = Certificates("127.0.0.1", tmp_path)
    older = _certificate_without_localhost(Path(kept.cert_path))
    Path(kept.cert_path).write_bytes(older)
    again = Certificates("127.0.0.1", tmp_path)
    cert = x509.load_pem_x509_certificate(Path(again.cert_path).read_bytes())
    assert "localhost" in _names(cert)


def _names(cert: x509.Certificate) -> set[object]:
    alternative = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    return {name.value for name in alternative.value}


def _certificate_without_localhost(path: Path) -> bytes:
    """The same certificate, its alternative names as emulators before had them."""
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(cert.subject)
        .issuer_name(cert.issuer)
        .public_key(cert.public_key())
        .serial_number(cert.serial_number)
        .not_valid_before(cert.not_valid_before_utc)
        .not_valid_after(cert.not_valid_after_utc)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    )
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)
