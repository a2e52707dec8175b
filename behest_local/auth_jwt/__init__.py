"""Behest v1.5 JWT auth: minting, the platform and tenant keys, and verification.

``claims`` (what a token says and how mint requests are checked), ``behest_local.jwk`` (RSA key
material, RFC 7517 JWKs), ``platform_key`` (the minting key, sealed by the vault),
``verify`` (RS256-only verification, RFC 7519/7515/8725) and ``keyring`` (both key
sources behind one lookup). The tenant signing-key registry is ``signing_keys.py``. The
server uses it from ``server/auth.py`` (data plane) and ``server/behest_routes.py``
(mint, JWKS); the CLI from ``mint_cli.py`` and ``signing_keys_cli.py``.
"""

from behest_local.auth_jwt.claims import (AUDIENCE, ISSUERS, PLATFORM_ISSUER, ClaimError,
                                          Identity, MintRequest, parse_tier, tier_name)
from behest_local.auth_jwt.keyring import KeyRing, mint
from behest_local.auth_jwt.platform_key import PlatformSigner
from behest_local.auth_jwt.verify import TokenError, looks_like_jwt

__all__ = ["AUDIENCE", "ISSUERS", "PLATFORM_ISSUER", "ClaimError", "Identity", "KeyRing",
           "MintRequest", "PlatformSigner", "TokenError", "looks_like_jwt", "mint", "parse_tier",
           "tier_name"]
