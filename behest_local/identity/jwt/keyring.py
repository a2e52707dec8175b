"""The key ring: every key a Behest JWT may be signed with, and minting with the platform key.

One ``KeyRing`` per process state dir joins the platform key (``identity/jwt/platform_key.py``) and the
tenant signing keys (``identity/signing_keys.py``). The data plane asks it to ``verify`` tokens (a
kid lookup across both, then ``verify.verify``); ``GET /.well-known/jwks.json`` renders
``jwks``; the mint route and ``behest-local mint`` call ``mint`` with the unsealed
platform signer. Unsealing is blocking (vault unlock, first-use key generation): the
server goes through :meth:`KeyRing.signer`, which runs it once in a worker thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from behest_local.identity import jwk
from behest_local.identity.jwt.claims import Identity, MintRequest
from behest_local.identity.jwt.platform_key import KID_PREFIX, PlatformKey, PlatformSigner
from behest_local.identity.jwt.verify import VerificationKey, verify
from behest_local.identity.signing_keys import SigningKeyStore
from behest_local.vault.store import Vault


class KeyRing:
    """Platform key + tenant signing keys of the state dir ``home``."""

    def __init__(self, home: Path, *, open_vault: Callable[[], Vault] | None = None) -> None:
        self.home = Path(home)
        self.platform = PlatformKey(self.home)
        self.tenant = SigningKeyStore(self.home)
        self._open_vault = open_vault
        self._lock: asyncio.Lock | None = None

    def resolve(self, kid: str) -> VerificationKey | None:
        """The verification key named ``kid`` (revoked tenant keys included, marked so)."""
        if kid.startswith(KID_PREFIX):
            key = self.platform.public(kid)
            return None if key is None else VerificationKey(kid, key, "platform")
        found = self.tenant.lookup(kid)
        if found is None:
            return None
        return VerificationKey(found.kid, found.public_key, "tenant", found.tenant,
                               found.project, found.revoked_at)

    def verify(self, token: str) -> Identity:
        """See ``verify.verify``. Raises ``TokenError``."""
        return verify(token, self.resolve)

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """The RFC 7517 §5 JWK Set: the platform key (once made) and every active tenant key."""
        keys = [k for k in [self.platform.jwk()] if k is not None]
        keys += [jwk.to_jwk(k.public_key, k.kid) for k in self.tenant.list()]
        return {"keys": keys}

    def load_signer(self) -> PlatformSigner:
        """Blocking: unseal (or make) the platform key. For the CLI and worker threads."""
        return self.platform.load_signer(self._open_vault)

    async def signer(self) -> PlatformSigner:
        """The platform signer, unsealed once per process off the event loop.

        Raises:
            VaultError: the vault is locked (passphrase not set) or unusable.
        """
        signer = self.platform.signer
        if signer is not None:
            return signer
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            return self.platform.signer or await asyncio.to_thread(self.load_signer)


def mint(signer: PlatformSigner, request: MintRequest, *, tenant: str,
         project: str) -> dict[str, Any]:
    """Sign a token for ``request`` and answer with the union of the documented mint
    responses (reference §1.1/§1.2/§7.2): v1.5 SDKs read ``jwt``/``ttl``/``session_id``,
    the legacy docs and example apps ``access_token``/``expires_in``."""
    claims = request.claims(tenant=tenant, project=project)
    token = signer.sign(claims)
    return {"jwt": token, "access_token": token, "token_type": "Bearer", "project_id": project,
            "ttl": request.ttl, "expires_in": request.ttl, "session_id": claims["sid"],
            "expires_at": claims["exp"]}
