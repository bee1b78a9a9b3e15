"""Starting, stopping, and the generated certificates."""

from __future__ import annotations

import asyncio
import ipaddress
from pathlib import Path

from cryptography import x509
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
        ("127.0.0.1", {ipaddress.ip_address("127.0.0.1")}),
        ("0.0.0.0", {ipaddress.ip_address("127.0.0.1")}),  # noqa: S104
        (
            "10.1.2.3",
            {ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("10.1.2.3")},
        ),
        ("emulator.test", {ipaddress.ip_address("127.0.0.1"), "emulator.test"}),
    ],
)
def test_server_certificate_names(host: str, names: set[object]) -> None:
    certificates = Certificates(host)
    try:
        cert = x509.load_pem_x509_certificate(Path(certificates.cert_path).read_bytes())
    finally:
        certificates.cleanup()
    alternative = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert {name.value for name in alternative.value} == names
