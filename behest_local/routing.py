"""Model routing: which model and provider serve a request.

Behest's rules (reference/behest-api.md §4): a missing, empty or ``"default"`` model means
the project's ``provider_model``, else the platform default ``gemini-2.5-flash``. Until
real providers are configured every model is served by the emulated provider, so routing
here only decides the model name and records why; provider inference from the model name
arrives with the adapters.
"""

from __future__ import annotations

from dataclasses import dataclass

from behest_local.config import DEFAULT_MODEL, ProjectConfig

EMULATED = "emulated"


@dataclass(frozen=True, slots=True)
class Target:
    provider: str
    model: str
    reason: str


def resolve(requested: object, project: ProjectConfig | None) -> Target:
    """Pick the model and provider for ``requested`` (the body's ``model`` value)."""
    configured = project.provider_model if project else None
    if requested is None or requested == "" or requested == "default":
        if configured:
            return Target(EMULATED, configured, "no model requested: the project's provider_model")
        return Target(EMULATED, DEFAULT_MODEL, "no model requested: the platform default")
    return Target(EMULATED, str(requested), "requested model, served by the emulated provider")
