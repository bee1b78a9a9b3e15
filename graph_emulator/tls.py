"""A certificate authority and server certificate for the HTTPS listener.

msal only talks to https authorities, so the sign-in server needs a certificate that
clients can trust by pointing them at `ca_path`. Throwaway by default; kept in a
folder, a restarted emulator serves the certificate its clients already trust.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from pathlib import Path
import ssl
import tempfile

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _validity() -> tuple[dt.datetime, dt.datetime]:
    """Return fixed, wide bounds: certificates stay valid whatever tests do to clocks.

    Built at each call from whatever ``datetime.datetime`` is then: under a frozen
    clock it is the fake class, and cryptography refuses any other.
    """
    return (
        dt.datetime(2000, 1, 1, tzinfo=dt.UTC),
        dt.datetime(2099, 12, 31, tzinfo=dt.UTC),
    )


def _builder(
    subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey
) -> x509.CertificateBuilder:
    not_before, not_after = _validity()
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False
        )
    )


def _meet_the_real_datetime() -> None:
    """Sign one certificate at import, with the real ``datetime.datetime``.

    cryptography (50 and later) keeps the first datetime class it meets: met first
    under a frozen clock, it would keep the fake class and refuse every real
    datetime after the test. Imports happen before any test freezes the clock.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "import")])
    _builder(name, name, key.public_key()).sign(key, hashes.SHA256())


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _subject_names(host: str) -> list[x509.GeneralName]:
    """Name the listener as clients address it; loopback always works, by name too."""
    names: list[x509.GeneralName] = [
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.DNSName("localhost"),
    ]
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        names.append(x509.DNSName(host))
    else:
        if not address.is_unspecified and str(address) != "127.0.0.1":
            names.append(x509.IPAddress(address))
    return names


class Certificates:
    """A CA and a server certificate it signed, as PEM files.

    In a temporary folder that `cleanup` deletes, or in `folder`, kept: there the
    files of an earlier run for the same host are used again.
    """

    def __init__(self, host: str, folder: Path | None = None) -> None:
        """Generate (or find in `folder`) the certificates for a listener on `host`."""
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        if folder is None:
            self._dir = tempfile.TemporaryDirectory(prefix="graph-emulator-tls-")
            folder = Path(self._dir.name)
        self.ca_path = str(folder / "ca.pem")
        self.cert_path = str(folder / "server.pem")
        self.key_path = str(folder / "server-key.pem")
        if self._dir is None and self._issued_for(host):
            return
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        Path(self.ca_path).unlink(missing_ok=True)  # a set is complete once written
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name(
            [x509.NameAttribute(NameOID.COMMON_NAME, "Graph emulator test CA")]
        )
        ca_cert = (
            _builder(ca_name, ca_name, ca_key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(cert_sign=True), critical=True)
            .sign(ca_key, hashes.SHA256())
        )
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            _builder(
                x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]),
                ca_name,
                key.public_key(),
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
            .add_extension(_key_usage(cert_sign=False), True)
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False
            )
            .add_extension(x509.SubjectAlternativeName(_subject_names(host)), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                False,
            )
            .sign(ca_key, hashes.SHA256())
        )
        pem = serialization.Encoding.PEM
        key_file = os.open(self.key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(key_file, "wb") as file:
            file.write(
                key.private_bytes(
                    pem,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
        Path(self.cert_path).write_bytes(cert.public_bytes(pem))
        Path(self.ca_path).write_bytes(ca_cert.public_bytes(pem))

    def _issued_for(self, host: str) -> bool:
        """Whether the folder holds a complete set issued for `host` (the CA last).

        A set from an older emulator that named the listener otherwise is issued again.
        """
        paths = (Path(self.key_path), Path(self.cert_path), Path(self.ca_path))
        if not all(path.exists() for path in paths):
            return False
        cert = x509.load_pem_x509_certificate(paths[1].read_bytes())
        names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        alternatives = cert.extensions.get_extension_for_class(
            x509.SubjectAlternativeName
        ).value
        return [name.value for name in names] == [host] and list(alternatives) == (
            _subject_names(host)
        )

    def server_context(self) -> ssl.SSLContext:
        """Build the TLS context the HTTPS listener serves with."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_path, self.key_path)
        return context

    def cleanup(self) -> None:
        """Delete the files, unless they are kept in a folder."""
        if self._dir is not None:
            self._dir.cleanup()


_meet_the_real_datetime()
