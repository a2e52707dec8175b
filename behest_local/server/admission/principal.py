"""Who is calling: the identity the auth middleware attaches to a request.

API-key requests (v1.x) carry the user named by ``X-End-User-Id``; JWT requests (v1.5)
carry the token's ``uid``, ``role``, ``tier`` and ``sid`` (``identity/jwt.Identity``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from behest_local.config import ProjectConfig, Settings


@dataclass(frozen=True, slots=True)
class Principal:
    tenant: str
    project: ProjectConfig
    credential: str
    """A non-secret description of the credential (an API key's prefix, a JWT's kid)."""
    settings: Settings
    """The settings snapshot this request runs with, start to finish."""
    user: str | None = None
    session: str | None = None
    role: str = "user"
    tier: int | None = None
    """Behest tier number (1 free, 2 pro, 3 max) from the token; None when not stated."""
    kind: str = "api_key"
    """``api_key``, ``jwt``, or ``batch``: a batch's line, sent by the gateway itself as the
    caller who made the batch (``InternalCaller``)."""


class InternalCaller(NamedTuple):
    """Who a batch's lines run as: the batch's project and the identity of the caller that
    made it. The batch runner sends each line to the gateway with a random per-batch token
    (memory only, never logged) that ``auth.authenticate`` maps to this."""

    batch_id: str
    project: str
    user: str | None
    role: str
    tier: int | None
