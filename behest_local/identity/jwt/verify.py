"""Verifying a Behest JWT: from the compact serialisation to a trusted ``Identity``.

The data plane calls :func:`verify` once per request that carries a JWT (minted by
``POST /v1/auth/mint``, signed by an SDK in sign mode, or by the legacy v1.x helpers). The
rules, in the order they are applied:

1. Size and shape: at most ``MAX_TOKEN`` bytes, three base64url parts (RFC 7515 §7.1).
2. Header: ``alg`` must be exactly ``RS256``. ``none``, ``HS256`` (the "public key as HMAC
   secret" confusion) and every other value are refused before any key is touched
   (RFC 8725 §2.1, §3.1). ``crit`` is refused (RFC 7515 §4.1.11: we understand no
   extensions); ``typ``, when present, must be ``JWT`` (RFC 8725 §3.11). Key-carrying
   headers (``jwk``, ``jku``, ``x5u``, ``x5c``) are ignored: keys come from our registry only.
3. ``kid`` (RFC 7515 §4.1.4) must name the platform key or a registered tenant key;
   unknown or revoked kids are refused.
4. Signature (RS256, RFC 7518 §3.3), ``aud`` = ``behest`` (§4.1.3, RFC 8725 §3.9), then
   ``exp``, ``nbf``, ``iat``: each a NumericDate (§2), a JSON number of seconds from 0 to
   the end of year 9999 (not a string, a boolean, NaN or a number no date can hold), then
   checked against the clock with ``LEEWAY_S`` of skew (§4.1.4-4.1.6); ``iss`` among the
   accepted issuers (§4.1.1, RFC 8725 §3.8).
5. Behest claims (``tid``, ``pid``, ``uid``…), and for a tenant key: its tenant and
   project must be the token's (a key of project A cannot speak for project B).

Every refusal is a ``TokenError`` with Behest's code: ``token_expired`` for an expired
token, ``invalid_token`` for everything else (reference/behest-api.md §3.3).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from behest_local.identity.jwt.claims import (AUDIENCE, ISSUERS, LEEWAY_S, ClaimError, Identity,
                                          identity_from)

# PyJWT and cryptography are imported in the functions that use them: loading them
# costs the gateway's start tens of milliseconds, and most runs never touch a JWT.
if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import rsa

MAX_TOKEN = 8192
"""Bytes. Behest tokens are under 1 KiB; a cap keeps parsing cheap for garbage input."""
REQUIRED = ["exp", "iat", "iss", "aud"]
TIME_CLAIMS = ("exp", "nbf", "iat")
NUMERIC_DATE_MAX = 253_402_300_799
"""9999-12-31T23:59:59Z. PyJWT takes any ``int()``-able value (``"1796662455"``, ``true``,
``1e300``: a token that never expires); these claims are checked here instead."""


class TokenError(Exception):
    """A token was refused. ``code`` is Behest's error code; the message says why."""

    def __init__(self, message: str, *, code: str = "invalid_token", status: int = 401) -> None:
        super().__init__(message)
        self.message, self.code, self.status = message, code, status


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """What a kid resolves to: the public key and whose it is."""

    kid: str
    key: rsa.RSAPublicKey
    source: str
    """``platform`` or ``tenant``."""
    tenant: str | None = None
    project: str | None = None
    revoked_at: str | None = None


Resolver = Callable[[str], VerificationKey | None]


def looks_like_jwt(token: str) -> bool:
    """Cheap test used to tell a JWT from an API key: ``eyJ`` and two dots."""
    return token.startswith("eyJ") and token.count(".") == 2


def _header(token: str) -> dict:
    import jwt

    if len(token) > MAX_TOKEN:
        raise TokenError(f"The token is {len(token)} bytes long; the limit is {MAX_TOKEN}.")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.DecodeError:
        raise TokenError("Malformed JWT: expected three base64url parts, header.payload."
                         "signature (RFC 7515 §7.1).") from None
    except jwt.InvalidTokenError as exc:  # e.g. PyJWT's own 'crit' check
        raise TokenError(f"Invalid JWT header: {exc} (RFC 7515 §4.1.11).") from None
    alg = header.get("alg")
    if alg != "RS256":
        raise TokenError(f"JWT algorithm {alg!r} is not accepted: Behest tokens are signed "
                         "with RS256 only (RFC 8725 §3.1).")
    if "crit" in header:
        raise TokenError("JWT header has 'crit' extensions this gateway does not understand "
                         "(RFC 7515 §4.1.11).")
    typ = header.get("typ")
    if typ is not None and (not isinstance(typ, str) or typ.upper() != "JWT"):
        raise TokenError(f"JWT header typ {typ!r} is not accepted; expected 'JWT'.")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise TokenError("JWT header has no 'kid': Behest tokens name their signing key.")
    return header


def verify(token: str, resolve: Resolver, *, leeway: float = LEEWAY_S) -> Identity:
    """Verify ``token`` with the keys ``resolve`` knows. Raises TokenError."""
    kid = _header(token)["kid"]
    entry = resolve(kid)
    if entry is None:
        raise TokenError(f"Unknown signing key {kid!r}: no platform or registered signing key "
                         "has this kid (`behest-local signing-keys list`).")
    if entry.revoked_at is not None:
        raise TokenError(f"Signing key {kid!r} was revoked at {entry.revoked_at}.")
    import jwt

    try:
        claims = jwt.decode(token, entry.key, algorithms=["RS256"], audience=AUDIENCE,
                            options={"require": REQUIRED, "verify_iss": False,
                                     "verify_exp": False, "verify_nbf": False,
                                     "verify_iat": False})
    except jwt.InvalidAudienceError:
        raise TokenError(f"The token's audience is wrong: expected aud {AUDIENCE!r}.") from None
    except jwt.MissingRequiredClaimError as exc:
        raise TokenError(f"The token lacks the {exc.claim!r} claim.") from None
    except jwt.InvalidSignatureError:
        raise TokenError(f"The token's signature does not verify with key {kid!r}.") from None
    except jwt.InvalidTokenError as exc:
        raise TokenError(f"Invalid token: {exc}.") from None
    check_times(claims, leeway=leeway)
    if not isinstance(claims["iss"], str) or claims["iss"] not in ISSUERS:
        raise TokenError(f"The token's issuer {claims['iss']!r} is not accepted; expected one "
                         f"of {', '.join(sorted(ISSUERS))}.")
    try:
        identity = identity_from(claims, kid=kid, source=entry.source)
    except ClaimError as exc:
        raise TokenError(f"Invalid token claims: {exc.message}.") from None
    if entry.source == "tenant" and (identity.tenant != entry.tenant
                                     or identity.project != entry.project):
        raise TokenError(f"Signing key {kid!r} belongs to project {entry.project!r} of tenant "
                         f"{entry.tenant!r}; the token names project {identity.project!r} of "
                         f"tenant {identity.tenant!r}.", code="forbidden", status=403)
    return identity


def check_times(claims: dict, *, leeway: float = LEEWAY_S, now: float | None = None) -> None:
    """``exp``, ``nbf`` and ``iat`` of a signature-verified token: NumericDates in range,
    then not expired and not yet to come (with ``leeway``). Raises TokenError."""
    exp, nbf, iat = (numeric_date(claims, name) for name in TIME_CLAIMS)
    now = time.time() if now is None else now
    if exp is not None and exp <= now - leeway:
        raise TokenError("The token has expired: mint a new one (POST /v1/auth/mint).",
                         code="token_expired")
    if (nbf is not None and nbf > now + leeway) or (iat is not None and iat > now + leeway):
        raise TokenError("The token is not valid yet (nbf/iat in the future; check the clock).")


def numeric_date(claims: dict, name: str) -> float | None:
    """Claim ``name`` as seconds since 1970, or None when absent. Raises TokenError for
    anything but a JSON number from 0 to ``NUMERIC_DATE_MAX`` (NaN fails both bounds)."""
    if name not in claims:
        return None
    value = claims[name]
    if isinstance(value, (int, float)) and not isinstance(value, bool) \
            and 0 <= value <= NUMERIC_DATE_MAX:
        return value
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
    raise TokenError(f"The token's {name!r} claim must be a number of seconds since 1970 up "
                     f"to the year 9999 (RFC 7519 NumericDate); got {shown}.")
