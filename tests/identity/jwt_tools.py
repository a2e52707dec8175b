"""Forging JWTs for the auth tests: honest ones, and the classic attacks on verifiers.

``forge`` builds a compact JWS by hand (RFC 7515 §7.1) so a test can put anything in
the header (``alg: none``, ``HS256`` keyed with the public PEM, a foreign ``kid``) that
PyJWT would refuse to produce.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def claims(**over) -> dict:
    """A valid v1.5 sign-mode claim set for tenant/project ``local`` (overrides win;
    ``None`` removes a claim)."""
    now = int(time.time())
    out = {"tid": "local", "pid": "local", "uid": "alice", "role": "user", "scp": [],
           "iss": "https://api.behest.ai", "aud": "behest", "iat": now, "nbf": now,
           "exp": now + 600, "jti": str(uuid.uuid4()), "sid": "sess-1"}
    out.update(over)
    return {k: v for k, v in out.items() if v is not None}


def forge(header: dict, payload: dict, *, key: rsa.RSAPrivateKey | None = None,
          hmac_secret: bytes | None = None, signature: bytes | None = None) -> str:
    signing_input = (b64url(json.dumps(header).encode()) + "." +
                     b64url(json.dumps(payload).encode())).encode("ascii")
    if signature is None:
        if key is not None:
            signature = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        elif hmac_secret is not None:
            signature = hmac.new(hmac_secret, signing_input, hashlib.sha256).digest()
        else:
            signature = b""
    return signing_input.decode("ascii") + "." + b64url(signature)


def rs256(key: rsa.RSAPrivateKey, kid: str, **over) -> str:
    """An honest RS256 token signed with ``key`` under ``kid``."""
    return forge({"alg": "RS256", "kid": kid, "typ": "JWT"}, claims(**over), key=key)
