"""The certificate rich notifications are encrypted for, and their decryption.

Graph encrypts each rich notification's resource data with a fresh symmetric key and
wraps that key with the public key of the certificate given at subscription. The steps
are Microsoft's ("Set up change notifications that include resource data"): unwrap
``dataKey`` with RSA-OAEP (SHA-1, MGF1), check ``dataSignature`` (HMAC-SHA256 over the
encrypted ``data``) before anything else is done with it, then AES-256-CBC with PKCS7
padding and the key's first 16 bytes as IV.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
import hashlib
import hmac
from typing import Final, Self
import uuid

from cryptography import x509
from cryptography.hazmat.primitives import hashes, padding as symmetric_padding
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)
from cryptography.x509.oid import NameOID

KEY_SIZE: Final = 2048
"""Graph takes RSA keys of 2048 to 4096 bits."""
CERTIFICATE_LIFETIME: Final = timedelta(days=365)
ROTATION_MARGIN: Final = timedelta(days=30)
"""Rotate this long before expiry: a renewal carries the new certificate in time."""
MAX_CERTIFICATE_ID_LENGTH: Final = 128
_COMMON_NAME: Final = "Teams Presence Keeper change notifications"
_IV_LENGTH: Final = 16
_OAEP: Final = padding.OAEP(
    mgf=padding.MGF1(algorithm=hashes.SHA1()),  # noqa: S303 - Graph's documented cipher suite
    algorithm=hashes.SHA1(),  # noqa: S303
    label=None,
)


class DecryptionFailure(StrEnum):
    """Why an encrypted resource could not be trusted or read."""

    UNKNOWN_CERTIFICATE = "unknown_certificate"
    """Encrypted for a certificate we don't hold (or its thumbprint differs)."""
    DATA_KEY = "data_key"
    """The wrapped key does not unwrap with our private key."""
    DATA_SIGNATURE = "data_signature"
    """The HMAC of the encrypted data is wrong: tampered, never decrypted."""
    DECRYPTION = "decryption"
    """The signed data does not decrypt (a wrong length or padding)."""


class DecryptionError(Exception):
    """An encrypted resource failed one of the documented checks."""

    def __init__(self, failure: DecryptionFailure) -> None:
        """Keep which check failed."""
        super().__init__(failure.value)
        self.failure = failure


@dataclass(frozen=True, slots=True)
class EncryptedContent:
    """A notification's ``encryptedContent``, its base64 fields still encoded."""

    data: str
    data_key: str
    data_signature: str
    certificate_id: str
    certificate_thumbprint: str | None

    @classmethod
    def from_graph(cls, data: object) -> EncryptedContent:
        """Build from Graph's JSON; ``ValueError`` when a part is missing."""
        fields = data if isinstance(data, dict) else {}
        parts = [
            fields.get(name)
            for name in ("data", "dataKey", "dataSignature", "encryptionCertificateId")
        ]
        if not all(isinstance(part, str) and part for part in parts):
            raise ValueError("encryptedContent lacks data, its key or its signature")
        data_text, data_key, signature, certificate_id = map(str, parts)
        thumbprint = fields.get("encryptionCertificateThumbprint")
        return cls(
            data_text,
            data_key,
            signature,
            certificate_id,
            thumbprint if isinstance(thumbprint, str) else None,
        )


@dataclass(frozen=True, slots=True)
class NotificationCertificate:
    """A self-signed certificate and its private key, as rich notifications need.

    ``id`` is the ``encryptionCertificateId`` Graph echoes in each notification, so
    the right key is found while an old and a new certificate overlap.
    """

    id: str
    certificate: x509.Certificate
    private_key: rsa.RSAPrivateKey

    @classmethod
    def generate(
        cls, *, lifetime: timedelta = CERTIFICATE_LIFETIME, now: datetime | None = None
    ) -> Self:
        """Create a new key pair and certificate.

        CPU-bound (an RSA key takes tens to hundreds of milliseconds): run it in an
        executor, never on the event loop.
        """
        # Read at each call: under a frozen clock it is the fake class, which
        # cryptography then takes.
        start = now or datetime.now(UTC)
        key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, _COMMON_NAME)])
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start - timedelta(minutes=5))
            .not_valid_after(start + lifetime)
            .sign(key, hashes.SHA256())
        )
        return cls(str(uuid.uuid4()), certificate, key)

    @property
    def public_base64(self) -> str:
        """The certificate (public key only) as ``encryptionCertificate`` wants it."""
        return base64.b64encode(self.certificate.public_bytes(Encoding.DER)).decode()

    @property
    def thumbprint(self) -> str:
        """The SHA-1 thumbprint in hex, as Graph names it in each notification."""
        return self.certificate.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303

    @property
    def expires_at(self) -> datetime:
        """When the certificate stops being valid."""
        return self.certificate.not_valid_after_utc

    def needs_rotation(
        self, now: datetime, margin: timedelta = ROTATION_MARGIN
    ) -> bool:
        """Whether to replace it now: it expires within ``margin``."""
        return now >= self.expires_at - margin

    def to_storage(self) -> dict[str, str]:
        """Serialise for a JSON store (the private key unencrypted, PEM)."""
        return {
            "id": self.id,
            "certificate": self.certificate.public_bytes(Encoding.PEM).decode(),
            "private_key": self.private_key.private_bytes(
                Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
            ).decode(),
        }

    @classmethod
    def from_storage(cls, data: dict[str, str]) -> Self:
        """Load what ``to_storage`` wrote; ``ValueError`` if it is not that.

        Loading checks the RSA key (milliseconds of CPU): run it in an executor.
        """
        try:
            certificate = x509.load_pem_x509_certificate(data["certificate"].encode())
            key = load_pem_private_key(data["private_key"].encode(), password=None)
            certificate_id = data["id"]
        except (KeyError, TypeError, AttributeError) as err:
            raise ValueError(f"Not a stored certificate: {err}") from err
        if (
            not isinstance(key, rsa.RSAPrivateKey)
            or certificate.public_key() != key.public_key()
        ):
            raise ValueError("The stored key is not the certificate's RSA key")
        return cls(certificate_id, certificate, key)

    def decrypt(self, content: EncryptedContent) -> bytes:
        """Return the decrypted resource, checked as documented.

        Raises ``DecryptionError`` naming the failed check; nothing is decrypted
        unless the signature over the encrypted data is right.
        """
        if content.certificate_id != self.id or (
            content.certificate_thumbprint is not None
            and content.certificate_thumbprint.upper() != self.thumbprint
        ):
            raise DecryptionError(DecryptionFailure.UNKNOWN_CERTIFICATE)
        try:
            key = self.private_key.decrypt(_decode(content.data_key), _OAEP)
        except ValueError as err:
            raise DecryptionError(DecryptionFailure.DATA_KEY) from err
        if len(key) != 32:
            raise DecryptionError(DecryptionFailure.DATA_KEY)
        try:
            data = _decode(content.data)
            signature = _decode(content.data_signature)
        except ValueError as err:
            raise DecryptionError(DecryptionFailure.DATA_SIGNATURE) from err
        expected = hmac.new(key, data, hashlib.sha256).digest()
        if not hmac.compare_digest(expected, signature):
            raise DecryptionError(DecryptionFailure.DATA_SIGNATURE)
        try:
            return _aes_cbc_decrypt(key, data)
        except ValueError as err:
            raise DecryptionError(DecryptionFailure.DECRYPTION) from err


def _decode(text: str) -> bytes:
    """Decode standard base64, strictly; ``ValueError`` otherwise."""
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error as err:
        raise ValueError(str(err)) from err


def _aes_cbc_decrypt(key: bytes, data: bytes) -> bytes:
    """AES-256-CBC with PKCS7 padding, the IV being the key's first 16 bytes."""
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:_IV_LENGTH])).decryptor()
    padded = decryptor.update(data) + decryptor.finalize()
    unpadder = symmetric_padding.PKCS7(algorithms.AES.block_size).unpadder()
    return unpadder.update(padded) + unpadder.finalize()
