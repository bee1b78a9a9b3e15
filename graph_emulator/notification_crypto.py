"""The cryptography of rich notifications, done as Graph and Entra ID do it.

Graph encrypts each notification's resource for the subscriber's certificate, and
Entra ID signs the validation tokens that come with it; its public keys are what the
discovery endpoint (`/{tenant}/discovery/v2.0/keys`) publishes. Written from
Microsoft's description, not from the integration's decryption, so that the two
check each other.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, padding as symmetric_padding
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
import jwt

MIN_KEY_SIZE = 2048
MAX_KEY_SIZE = 4096
_SYMMETRIC_KEY_SIZE = 32
_IV_SIZE = 16


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _b64url_integer(value: int) -> str:
    return _b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


class SigningKey:
    """Entra ID's token-signing key, made at first use (an RSA key costs CPU)."""

    def __init__(self) -> None:
        """Create nothing yet: most emulators never sign a token."""
        self._key: rsa.RSAPrivateKey | None = None

    @property
    def _private_key(self) -> rsa.RSAPrivateKey:
        if self._key is None:
            self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return self._key

    @property
    def key_id(self) -> str:
        """The key's id (`kid`): a thumbprint of the public key, as Entra ID's are."""
        public = self._private_key.public_key().public_bytes(
            Encoding.DER, PublicFormat.SubjectPublicKeyInfo
        )
        return _b64url(hashlib.sha1(public).digest())  # noqa: S324 - an id, not a hash of secrets

    def jwks(self) -> dict[str, Any]:
        """Return the key set as Entra ID's discovery endpoint publishes it."""
        numbers = self._private_key.public_key().public_numbers()
        return {
            "keys": [
                {
                    "kty": "RSA",
                    "use": "sig",
                    "kid": self.key_id,
                    "x5t": self.key_id,
                    "n": _b64url_integer(numbers.n),
                    "e": _b64url_integer(numbers.e),
                }
            ]
        }

    def sign(self, claims: dict[str, Any]) -> str:
        """Return a JWT of `claims`, signed RS256 and naming this key."""
        return jwt.encode(
            claims,
            self._private_key,
            algorithm="RS256",
            headers={"kid": self.key_id, "x5t": self.key_id},
        )


def load_certificate(text: str) -> x509.Certificate:
    """Read an `encryptionCertificate`: base64 DER, an RSA key of 2048-4096 bits.

    Raises ValueError with the reason Graph would give.
    """
    try:
        certificate = x509.load_der_x509_certificate(
            base64.b64decode(text, validate=True)
        )
    except (binascii.Error, ValueError) as err:
        raise ValueError(
            "encryptionCertificate is not a base64-encoded X.509 certificate."
        ) from err
    key = certificate.public_key()
    if (
        not isinstance(key, rsa.RSAPublicKey)
        or not MIN_KEY_SIZE <= key.key_size <= MAX_KEY_SIZE
    ):
        raise ValueError(
            "The key of encryptionCertificate must be RSA, of 2048 to 4096 bits."
        )
    return certificate


def encrypt_resource(
    resource: dict[str, Any], certificate: x509.Certificate, certificate_id: str
) -> dict[str, Any]:
    """Return the `encryptedContent` of a rich notification about `resource`.

    A fresh 256-bit key encrypts the JSON with AES-CBC and PKCS7 padding, its first
    16 bytes being the IV; the key signs the encrypted data (HMAC-SHA256) and is
    itself encrypted for the certificate with RSA-OAEP, SHA-1 and MGF1.
    """
    key = os.urandom(_SYMMETRIC_KEY_SIZE)
    padder = symmetric_padding.PKCS7(algorithms.AES.block_size).padder()
    padded = padder.update(json.dumps(resource).encode()) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:_IV_SIZE])).encryptor()
    data = encryptor.update(padded) + encryptor.finalize()
    public_key = certificate.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise TypeError("load_certificate accepts RSA keys only")
    wrapped = public_key.encrypt(
        key,
        padding.OAEP(
            mgf=padding.MGF1(algorithm=hashes.SHA1()),  # noqa: S303 - as documented
            algorithm=hashes.SHA1(),  # noqa: S303
            label=None,
        ),
    )
    return {
        "data": base64.b64encode(data).decode(),
        "dataSignature": base64.b64encode(
            hmac.new(key, data, hashlib.sha256).digest()
        ).decode(),
        "dataKey": base64.b64encode(wrapped).decode(),
        "encryptionCertificateId": certificate_id,
        "encryptionCertificateThumbprint": certificate.fingerprint(hashes.SHA1())  # noqa: S303
        .hex()
        .upper(),
    }
