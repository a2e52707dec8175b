"""What a Behest JWT says: the claim set, its validation rules, and the verified identity.

Owns the vocabulary shared by minting (``POST /v1/auth/mint``, ``behest-local mint``) and
verification (``identity/jwt/verify.py``): accepted issuers and audience, roles, tiers, reserved user
ids, TTL bounds, and the claim order Behest's mint service uses
(reference/behest-api.md §2.4: ``tid, pid, uid, role, scp, iss, aud, iat, nbf, exp, jti,
sid, tier``). Mint requests are checked here (``MintRequest.parse``) so the HTTP route and
the CLI refuse the same things with the same words. No I/O, no keys.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

PLATFORM_ISSUER = "https://api.behest.app"
"""``iss`` of platform-minted tokens, kept "for backward compatibility" (§2.4)."""
ISSUERS = frozenset({PLATFORM_ISSUER, "https://api.behest.ai", "behest"})
"""Accepted ``iss`` (RFC 7519 §4.1.1): minted, v1.5 sign mode's default, legacy v1.x signing."""
AUDIENCE = "behest"
"""The one accepted ``aud`` (RFC 7519 §4.1.3); every Behest SDK sends it."""
ROLES = ("user", "admin", "dashboard-service")
"""Mint roles (reference §1.2). Tenant-signed tokens are always ``user`` (Kong forces it)."""
RESERVED_USER_IDS = frozenset({"dashboard-service", "admin", "system"})
"""Reference §1.2 (the cloud's list is cut after ``sys…``; ``system`` is the evident end)."""
TIERS = {"free": 1, "pro": 2, "max": 3}
"""Tier names and numbers (reference §3.1); JWTs carry the number."""
TTL_MIN, TTL_MAX, TTL_DEFAULT = 60, 86_400, 3_600
MAX_ID = 255
LEEWAY_S = 30
"""Clock skew allowed on ``exp``/``nbf``/``iat`` (RFC 7519 §4.1.4: "some small leeway")."""


class ClaimError(ValueError):
    """A mint parameter or token claim is invalid. ``param`` names the field at fault."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message, self.param = message, param


def parse_tier(value: Any, *, param: str = "tier") -> int | None:
    """A tier as its number: 1-3, ``"free"|"pro"|"max"``, or a digit string. None stays None."""
    if value is None:
        return None
    if isinstance(value, str):
        name = value.strip().lower()
        if name in TIERS:
            return TIERS[name]
        if name.isdigit():
            value = int(name)
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= len(TIERS):
        return value
    raise ClaimError(f"{param} must be 1, 2 or 3 or one of {', '.join(TIERS)}; got {value!r}",
                     param)


def tier_name(tier: int | None) -> str | None:
    return None if tier is None else next(n for n, t in TIERS.items() if t == tier)


def _identifier(value: Any, param: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ClaimError(f"{param} is required: a string of 1-{MAX_ID} characters", param)
    if len(value) > MAX_ID:
        raise ClaimError(f"{param} is {len(value)} characters long; the limit is {MAX_ID}", param)
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise ClaimError(f"{param} must not contain control characters", param)
    return value


@dataclass(frozen=True, slots=True)
class MintRequest:
    """A validated mint: who the token is for and how long it lives."""

    user_id: str
    role: str = "user"
    ttl: int = TTL_DEFAULT
    tier: int | None = None
    session_id: str | None = None

    @classmethod
    def parse(cls, body: Any) -> MintRequest:
        """Validate a mint body (reference §1.1/§1.2). Raises ClaimError naming the field."""
        if not isinstance(body, dict):
            raise ClaimError('the body must be a JSON object such as {"user_id": "user_123"}')
        user_id = _identifier(body.get("user_id"), "user_id")
        if user_id.strip().lower() in RESERVED_USER_IDS:
            raise ClaimError(f"user_id {user_id!r} is reserved; reserved ids are "
                             f"{', '.join(sorted(RESERVED_USER_IDS))}", "user_id")
        role = body.get("role") if body.get("role") is not None else "user"
        if role not in ROLES:
            raise ClaimError(f"role must be one of {', '.join(ROLES)}; got {role!r}", "role")
        ttl = body.get("ttl") if body.get("ttl") is not None else TTL_DEFAULT
        if not isinstance(ttl, int) or isinstance(ttl, bool) or not TTL_MIN <= ttl <= TTL_MAX:
            raise ClaimError(f"ttl must be an integer number of seconds from {TTL_MIN} to "
                             f"{TTL_MAX}; got {ttl!r}", "ttl")
        session = body.get("session_id")
        session = None if session in (None, "") else _identifier(session, "session_id")
        return cls(user_id, role, ttl, parse_tier(body.get("tier")), session)

    def claims(self, *, tenant: str, project: str, issuer: str = PLATFORM_ISSUER,
               now: int | None = None) -> dict[str, Any]:
        """The claim set to sign, in Behest's order; ``sid`` is generated when not given."""
        iat = int(time.time()) if now is None else now
        out: dict[str, Any] = {
            "tid": tenant, "pid": project, "uid": self.user_id, "role": self.role, "scp": [],
            "iss": issuer, "aud": AUDIENCE, "iat": iat, "nbf": iat, "exp": iat + self.ttl,
            "jti": str(uuid.uuid4()), "sid": self.session_id or str(uuid.uuid4())}
        if self.tier is not None:
            out["tier"] = self.tier
        return out


@dataclass(frozen=True, slots=True)
class Identity:
    """A verified token's identity: what the data plane attaches to the request."""

    tenant: str
    project: str
    user: str
    role: str
    tier: int | None
    session: str | None
    kid: str
    source: str
    """``platform`` (minted here) or ``tenant`` (signed with a registered signing key)."""
    issuer: str
    expires_at: int
    jti: str | None = None

    @property
    def credential(self) -> str:
        """A non-secret description for traces: which key signed it, how, role and tier."""
        how = "minted" if self.source == "platform" else "signed locally"
        tier = "" if self.tier is None else f", tier {tier_name(self.tier)}"
        return f"JWT {self.kid} ({how}; role {self.role}{tier})"


def identity_from(claims: dict[str, Any], *, kid: str, source: str) -> Identity:
    """Check the Behest claims of a signature-verified token. Raises ClaimError."""
    tenant = _identifier(claims.get("tid"), "tid")
    project = _identifier(claims.get("pid"), "pid")
    user = _identifier(claims.get("uid"), "uid")
    role = claims.get("role", "user")
    if source == "tenant":
        role = "user"  # "Kong forces role=user for all sk_* tokens" (reference §2.4)
    elif role not in ROLES:
        raise ClaimError(f"role {role!r} is not one of {', '.join(ROLES)}", "role")
    session = claims.get("sid")
    if session is not None and not isinstance(session, str):
        raise ClaimError("sid must be a string", "sid")
    jti = claims.get("jti")
    return Identity(tenant, project, user, role, parse_tier(claims.get("tier")), session or None,
                    kid, source, claims["iss"], int(claims["exp"]),
                    jti if isinstance(jti, str) else None)
