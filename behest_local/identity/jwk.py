"""RSA key material for Behest JWTs: generation, PEM forms, and JWK rendering.

Shared by the platform key (``identity/jwt/platform_key.py``) and tenant signing keys
(``identity/signing_keys.py``). Public keys are published as RFC 7517 JWKs with the RSA members of
RFC 7518 §6.3.1 (``n``, ``e`` as base64url big-endian integers without padding, RFC 7515
§2); private keys leave this module only as PKCS#8 PEM wrapped in a ``Secret``.
"""

from __future__ import annotations

import base64
import secrets
from typing import TYPE_CHECKING

from behest_local.secret import Secret

# PyJWT and cryptography are imported in the functions that use them: loading them
# costs the gateway's start tens of milliseconds, and most runs never touch a JWT.
if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import rsa

KEY_BITS = 2048
"""RFC 7518 §3.3: RS256 keys must be 2048 bits or larger."""
PUBLIC_EXPONENT = 65537


def new_kid(prefix: str) -> str:
    """A fresh key id: ``prefix`` + 16 hex. Tenant kids use ``sk_``, which the legacy v1.x
    signing helpers require (``key_id must start with 'sk_'``, reference §2.1)."""
    return prefix + secrets.token_hex(8)


def generate() -> rsa.RSAPrivateKey:
    """A new RS256 key pair (CPU-bound, tens of milliseconds: call off the event loop)."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=PUBLIC_EXPONENT, key_size=KEY_BITS)


def private_pem(key: rsa.RSAPrivateKey) -> Secret:
    """The unencrypted PKCS#8 PEM form, which the Behest dashboard hands out."""
    from cryptography.hazmat.primitives import serialization

    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    return Secret(pem.decode("ascii"))


def load_private(pem: bytes | str) -> rsa.RSAPrivateKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = serialization.load_pem_private_key(pem.encode() if isinstance(pem, str) else pem,
                                             password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("not an RSA private key")
    return key


def public_pem(key: rsa.RSAPublicKey) -> str:
    from cryptography.hazmat.primitives import serialization

    return key.public_bytes(serialization.Encoding.PEM,
                            serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")


def load_public(pem: str) -> rsa.RSAPublicKey:
    """An RSA public key from SubjectPublicKeyInfo PEM. Raises ValueError for anything else,
    including keys below ``KEY_BITS``."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = serialization.load_pem_public_key(pem.encode("ascii"))
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("not an RSA public key")
    if key.key_size < KEY_BITS:
        raise ValueError(f"RSA key of {key.key_size} bits; RS256 needs at least {KEY_BITS}")
    return key


def _b64url_uint(n: int) -> str:
    raw = n.to_bytes(max(1, (n.bit_length() + 7) // 8), "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def to_jwk(key: rsa.RSAPublicKey, kid: str) -> dict[str, str]:
    """The public JWK of ``key`` (RFC 7517 §4, RFC 7518 §6.3.1)."""
    numbers = key.public_numbers()
    return {"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
            "n": _b64url_uint(numbers.n), "e": _b64url_uint(numbers.e)}
