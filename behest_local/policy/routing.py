"""Model routing: which model a chat request runs on, whose model it is, and who serves it.

Behest's rules (reference/behest-api.md §4, the migration guide's "Common Migration
Gotchas"), applied by ``server/routes/openai.prepare_chat`` with the request's settings
snapshot:

1. A missing, ``""`` or ``"default"`` model means the project's ``provider_model``, else the
   platform default ``gemini-2.5-flash`` (served without a provider key).
2. With a ``provider_model`` configured, a requested model of *another* provider is
   ignored (the configured one runs, and the reason says so); one of the same provider
   is honoured.
3. The provider is inferred from the name: custom providers' ``prefixes`` first, then the
   built-in table (``config/models.py``: ``gpt-`` → openai, ``claude-`` → anthropic …),
   then any ``vendor/model`` → openrouter.
4. A model needing a provider key the vault lacks, or BYOK on the free plan, is served by
   the emulated model when ``emulator.emulate_unconfigured`` is true (the default: offline
   first), else fails as the cloud does: 422 ``PROVIDER_NOT_CONFIGURED`` or 403
   ``BYOAK_REQUIRES_PRO``, in OpenAI's error shape.

A model that passes these rules is served by its provider's adapter
(``providers/catalog.py``), with the key read from the vault for that request only.

A model no provider serves is answered offline all the same, but likely a typo:
``unknown_model_warning`` words the warning (with the closest known name) that the route
puts on the exchange, and so on the response's ``x-behest-warning`` and the log line.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from behest_local.config.models import is_unspecified, provider_for_model
from behest_local.config.schema import DEFAULT_MODEL, ProjectConfig, Settings
from behest_local.errors import GatewayError, InvalidRequestError
from behest_local.printable import printable

EMULATED = "emulated"


@dataclass(frozen=True, slots=True)
class Target:
    provider: str
    """Who serves the request: a key of ``Gateway.providers`` (``"emulated"`` for now)."""
    model: str
    """The model the request runs on (and the ``model`` of the response)."""
    reason: str
    """Why: the routing rule that applied and how the model is served (TUI, logs)."""
    upstream: str | None = None
    """The provider the model belongs to (``openai``, ``anthropic`` …), None if unknown."""
    unknown: bool = False
    """The client named a model no provider serves (emulated anyway, offline first)."""


def resolve(requested: object, project: ProjectConfig | None, settings: Settings | None = None,
            has_key: Callable[[str], bool] = lambda provider: False) -> Target:
    """Route ``requested`` (the body's ``model`` value) for ``project``.

    Args:
        requested: the request's ``model`` (validated to be a string or absent).
        project: the caller's project (its ``provider_model``).
        settings: the request's settings snapshot (plan, providers, emulator knobs).
        has_key: whether the vault holds a key for a provider name.

    Raises:
        GatewayError: only when ``emulator.emulate_unconfigured`` is false: 422
            PROVIDER_NOT_CONFIGURED, 403 BYOAK_REQUIRES_PRO, or 400 model_not_found.
    """
    settings = settings or Settings()
    configured = project.provider_model if project else None
    if is_unspecified(requested):
        model = configured or DEFAULT_MODEL
        why = ("no model requested: the project's provider_model" if configured
               else "no model requested: the platform default")
    elif configured:
        requested = str(requested)
        wanted = provider_for_model(requested, settings.providers)
        have = provider_for_model(configured, settings.providers)
        if wanted == have:
            model, why = requested, f"requested model honoured: same provider ({have}) as the " \
                                    f"project's provider_model {configured}"
        else:
            model = configured
            why = (f"requested {requested} ignored: the project's provider_model is {configured} "
                   f"({have}), and Behest honours only models of the configured provider")
    else:
        model, why = str(requested), "requested model"
    return _serve(model, why, settings, has_key)


def _serve(model: str, why: str, settings: Settings, has_key: Callable[[str], bool]) -> Target:
    provider = provider_for_model(model, settings.providers)
    lenient = settings.emulator.emulate_unconfigured
    if model == DEFAULT_MODEL and provider == "google":
        return Target(EMULATED, model, f"{why}; the platform's model: emulated", provider)
    if provider is None:
        if lenient:
            return Target(EMULATED, model, f"{why}; no provider serves {model!r}: emulated",
                          unknown=True)
        raise InvalidRequestError(
            f"The model `{model}` does not exist: no provider serves it. Use a model such as "
            "gpt-4o, claude-sonnet-4-20250514 or gemini-2.5-pro, or add a custom provider with "
            "prefixes in behest.toml.", param="model", code="model_not_found")
    return keyed(model, why, provider, settings, has_key)


def keyed(model: str, why: str, provider: str, settings: Settings,
          has_key: Callable[[str], bool], *, fallback: str = "emulated") -> Target:
    """The key and plan rules for a model of ``provider`` (chat and embeddings alike).

    Served by the provider when it needs no key or the vault has one; otherwise, offline
    first, by the emulated model (``fallback`` names it in the reason), or, with
    ``emulate_unconfigured = false``, refused as the cloud refuses it.
    """
    lenient = settings.emulator.emulate_unconfigured
    needs_key = settings.requires_key(provider)
    if needs_key and settings.tenant.plan == "free":
        if lenient:
            return Target(EMULATED, model, f"{why}; free plan, BYOK needs Pro "
                                           f"(BYOAK_REQUIRES_PRO in the cloud): {fallback}",
                          provider)
        raise GatewayError("BYOAK requires a Pro subscription", status=403,
                           type="invalid_request_error", code="BYOAK_REQUIRES_PRO", param="model")
    if needs_key and not has_key(provider):
        if lenient:
            return Target(EMULATED, model, f"{why}; no {provider} key: {fallback}", provider)
        raise InvalidRequestError(
            f"Configure your {provider} API key in Provider Settings to use {model}",
            status=422, param="model", code="PROVIDER_NOT_CONFIGURED")
    served = f"{provider} key from the vault" if needs_key else f"custom provider {provider}"
    return Target(provider, model, f"{why}; {served}", provider)


SHOWN_MODEL = 64
"""Characters of an unknown model's name quoted in its warning (a header: the name is the
client's, of any length)."""


def unknown_model_warning(model: str, known: Iterable[str]) -> str:
    """``unknown model 'gtp-4o'; did you mean 'gpt-4o'?``: the closest of ``known`` when one
    is close, else where the known names are listed. ASCII with no control characters
    (``model`` is the client's text, quoted in a response header)."""
    shown = model if len(model) <= SHOWN_MODEL else model[:SHOWN_MODEL] + "..."
    shown = printable(shown.encode("ascii", "backslashreplace").decode("ascii"))
    close = difflib.get_close_matches(model.lower(), list(known), n=1) \
        if len(model) <= SHOWN_MODEL else []
    if close:
        return f"unknown model '{shown}'; did you mean '{close[0]}'?"
    return (f"unknown model '{shown}'; no provider serves it, so the emulated model answered "
            "(GET /v1/models lists the known ones)")
