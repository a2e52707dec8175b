"""Behest v1.5 JWT auth: minting, the platform and tenant keys, and verification.

``claims`` (what a token says and how mint requests are checked), ``identity/jwk.py`` (RSA key
material, RFC 7517 JWKs), ``platform_key`` (the minting key, sealed by the vault),
``verify`` (RS256-only verification, RFC 7519/7515/8725) and ``keyring`` (both key
sources behind one lookup). The tenant signing-key registry is ``identity/signing_keys.py``. The
server uses it from ``server/admission/auth.py`` (data plane) and ``server/routes/behest.py``
(mint, JWKS); the CLI from ``cli/mint.py`` and ``cli/signing_keys_cmd.py``.
"""

from behest_local.identity.jwt.claims import (AUDIENCE, ISSUERS, PLATFORM_ISSUER, ClaimError,
                                          Identity, MintRequest, parse_tier, tier_name)
from behest_local.identity.jwt.keyring import KeyRing, mint
from behest_local.identity.jwt.platform_key import PlatformSigner
from behest_local.identity.jwt.verify import TokenError, looks_like_jwt

__all__ = ["AUDIENCE", "ISSUERS", "PLATFORM_ISSUER", "ClaimError", "Identity", "KeyRing",
           "MintRequest", "PlatformSigner", "TokenError", "looks_like_jwt", "mint", "parse_tier",
           "tier_name"]
