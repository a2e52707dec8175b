"""The platform signing key: the RS256 key that ``POST /v1/auth/mint`` signs tokens with.

Behest signs minted tokens with "Behest's global key" and publishes it at
``/.well-known/jwks.json`` (reference/behest-api.md §1.1, §1.3). Here that key is made on
first use (the first mint, over HTTP or ``behest-local mint``) and kept in
``<state dir>/platform_signing_key.json`` (0600)::

    {"version": 1, "kid": "plat_<16 hex>", "alg": "RS256", "created_at": "…Z",
     "public_key_pem": "-----BEGIN PUBLIC KEY-----…",
     "sealed_private_key": {"vault_id": "vlt_…", "nonce": "…", "ciphertext": "…"}}

The private half is sealed with the vault's data key (``Vault.seal``, AES-256-GCM bound to
the vault and the kid), so it is never plaintext on disk and a vault rekey keeps it
readable. Verification needs only the public half, read without the vault; a process
unseals the private half once (``load_signer``, blocking: vault unlock, maybe key
generation) and keeps it in memory. If the vault is replaced, the key it sealed can no
longer be opened and a new one (new kid) is made: tokens minted before stop verifying.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from behest_local.atomic import Signature, atomic_write, file_sig, locked
from behest_local.home import private_dir
from behest_local.identity import jwk
from behest_local.vault.store import Vault, VaultError, VaultTampered

# PyJWT and cryptography are imported in the functions that use them: loading them
# costs the gateway's start tens of milliseconds, and most runs never touch a JWT.
if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import rsa

PLATFORM_FILE = "platform_signing_key.json"
KID_PREFIX = "plat_"
FORMAT_VERSION = 1
_log = logging.getLogger(__name__)


def _purpose(kid: str) -> str:
    return f"platform-jwt-signing-key:{kid}"


class PlatformSigner:
    """The unsealed platform key. Signs; never shows its private half (``repr`` is the kid)."""

    __slots__ = ("kid", "_private")

    def __init__(self, kid: str, private: rsa.RSAPrivateKey) -> None:
        self.kid, self._private = kid, private

    def sign(self, claims: dict[str, Any]) -> str:
        """An RS256 JWS compact serialisation (RFC 7515 §7.1) with ``kid`` and ``typ: JWT``."""
        import jwt

        return jwt.encode(claims, self._private, algorithm="RS256",
                          headers={"kid": self.kid, "typ": "JWT"})

    def __repr__(self) -> str:
        return f"PlatformSigner(kid={self.kid!r})"

    def __reduce_ex__(self, protocol: object):
        raise TypeError("a PlatformSigner holds a private key and cannot be pickled")


@dataclass(frozen=True, slots=True)
class PlatformPublic:
    kid: str
    key: rsa.RSAPublicKey
    created_at: str


class PlatformKey:
    """The platform key file of one state dir: public half always, signer once unsealed."""

    def __init__(self, home: Path) -> None:
        self.home = Path(home)
        self.path = self.home / PLATFORM_FILE
        self._lock_path = self.home / (PLATFORM_FILE + ".lock")
        self._sig: Signature | None = None
        self.current: PlatformPublic | None = None
        self.signer: PlatformSigner | None = None
        self.reload()

    def _read(self) -> dict | None:
        try:
            doc = json.loads(self.path.read_bytes())
        except FileNotFoundError:
            return None
        except ValueError as exc:
            raise VaultError(f"{self.path} is not a platform key file ({exc}); remove it to "
                             "make a new key") from None
        if not isinstance(doc, dict) or doc.get("version") != FORMAT_VERSION or \
                not isinstance(doc.get("kid"), str) or not doc["kid"].startswith(KID_PREFIX):
            raise VaultError(f"{self.path} is not a platform key file; remove it to make a new key")
        return doc

    def reload(self) -> bool:
        """Re-read the public half if the file changed (another process made the key)."""
        sig = file_sig(self.path)
        if sig == self._sig:
            return False
        try:
            doc = self._read()
            public = None if doc is None else PlatformPublic(
                doc["kid"], jwk.load_public(doc["public_key_pem"]), doc.get("created_at", ""))
        except (VaultError, ValueError, KeyError, TypeError) as exc:
            _log.warning("ignoring the platform signing key: %s", exc)
            public = None
        self._sig, self.current = sig, public
        if self.signer is not None and (public is None or public.kid != self.signer.kid):
            self.signer = None  # replaced by another process: unseal the new one when needed
        return True

    def public(self, kid: str) -> rsa.RSAPublicKey | None:
        """The verification key for ``kid``, if it is the platform key (one stat on a miss)."""
        if self.current is None or self.current.kid != kid:
            self.reload()
        current = self.current
        return current.key if current is not None and current.kid == kid else None

    def jwk(self) -> dict[str, str] | None:
        self.reload()
        current = self.current
        return None if current is None else jwk.to_jwk(current.key, current.kid)

    def load_signer(self, open_vault: Callable[[], Vault] | None = None) -> PlatformSigner:
        """Unseal the key, making it first if there is none. Blocking (vault unlock, key
        generation): run it in a worker thread. Serialised across processes by a file lock.

        Raises:
            VaultError: the vault is locked or unusable, or the key file was tampered with.
        """
        if self.signer is not None:
            return self.signer
        vault = (open_vault or (lambda: Vault.open(self.home)))()
        with locked(self._lock_path):
            doc = self._read()
            signer = self._unseal(vault, doc) if doc is not None else None
            if signer is None:
                signer = self._create(vault)
        self.reload()
        self.signer = signer
        return signer

    def _unseal(self, vault: Vault, doc: dict) -> PlatformSigner | None:
        kid = doc["kid"]
        try:
            private = jwk.load_private(vault.unseal(_purpose(kid), doc["sealed_private_key"]))
        except VaultTampered:
            raise VaultTampered(str(self.path)) from None
        except VaultError as exc:  # sealed by a vault that no longer exists
            _log.warning("the platform signing key %s cannot be opened (%s); making a new one: "
                         "tokens minted with %s stop verifying", kid, exc, kid)
            return None
        except (KeyError, ValueError) as exc:
            raise VaultError(f"{self.path}: unreadable private key ({exc}); remove the file to "
                             "make a new key") from None
        if jwk.public_pem(private.public_key()) != jwk.public_pem(
                jwk.load_public(doc["public_key_pem"])):
            raise VaultTampered(str(self.path))
        return PlatformSigner(kid, private)

    def _create(self, vault: Vault) -> PlatformSigner:
        private = jwk.generate()
        kid = jwk.new_kid(KID_PREFIX)
        sealed = vault.seal(_purpose(kid), jwk.private_pem(private).reveal().encode("ascii"))
        now = datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
        doc = {"version": FORMAT_VERSION, "kid": kid, "alg": "RS256", "created_at": now,
               "public_key_pem": jwk.public_pem(private.public_key()),
               "sealed_private_key": sealed}
        private_dir(self.home)
        atomic_write(self.path, json.dumps(doc, indent=2).encode() + b"\n")
        _log.info("made the platform JWT signing key %s (sealed by the vault)", kid)
        return PlatformSigner(kid, private)
