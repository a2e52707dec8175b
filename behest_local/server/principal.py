"""Who is calling: the identity the auth middleware attaches to a request."""

from __future__ import annotations

from dataclasses import dataclass

from behest_local.config import ProjectConfig, Settings


@dataclass(frozen=True, slots=True)
class Principal:
    tenant: str
    project: ProjectConfig
    credential: str
    """A non-secret description of the credential (an API key's prefix)."""
    settings: Settings
    """The settings snapshot this request runs with, start to finish."""
    user: str | None = None
    session: str | None = None
