"""Which ``ChatProvider`` serves each provider name, each embeddings model, each listed model.

Routing (``policy/routing.py``) names providers the way Behest does (``openai``, ``anthropic``,
``google``, ``mistral``, ``cohere``, ``openrouter``, plus custom OpenAI-compatible
servers by their ``[providers.NAME]`` table); this module maps each name to an adapter
(``registry.ADAPTERS``: Google is the ``gemini`` adapter, custom servers the ``custom``
profile) and builds one ``UpstreamProvider`` per name for the current settings. The
runtime rebuilds the catalog when ``[providers]`` changes; exchanges in flight keep the
provider objects they started with.

Two data-plane questions are answered here too, next to the table they depend on:

* ``route_embeddings``: ``POST /v1/embeddings`` goes to the model's provider when that
  provider has an embeddings API and a usable key (OpenAI, Gemini, Mistral, Cohere, custom
  servers), else to the emulated embeddings (offline first), with the same plan/key rules
  chat routing applies;
* ``list_models``: ``GET /v1/models`` is every usable provider's own list (fetched through
  its adapter, cached, an unreachable one skipped) followed by the emulated models.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping

from behest_local.config.models import is_unspecified, provider_for_model
from behest_local.config.schema import BUILTIN_PROVIDERS, Settings
from behest_local.providers.base import ChatProvider, ModelSource
from behest_local.providers.http import HttpPool
from behest_local.providers.registry import ADAPTERS, Adapter
from behest_local.providers.proxy import unverified_warning
from behest_local.providers.upstream import UpstreamProvider
from behest_local.policy.routing import EMULATED, Target, keyed
from behest_local.secret import Secret

log = logging.getLogger("behest_local")

# Behest's provider names whose adapter is named differently.
ADAPTER_OF = {"google": "gemini"}


def adapter_for(name: str) -> Adapter:
    """The adapter of a Behest provider name (custom providers: the ``custom`` profile)."""
    return ADAPTERS.get(ADAPTER_OF.get(name, name)) or ADAPTERS["custom"]


def build_upstreams(settings: Settings, pool: HttpPool,
                    key_for: Callable[[str], Secret | None]) -> dict[str, ChatProvider]:
    """One provider per built-in name and per configured custom provider."""
    names = list(BUILTIN_PROVIDERS) + [n for n in settings.providers if n not in BUILTIN_PROVIDERS]
    out: dict[str, ChatProvider] = {}
    for name in names:
        config = settings.providers.get(name)
        if config is not None and not config.tls_verify:  # at every start and reload
            log.warning(unverified_warning(name))
        out[name] = UpstreamProvider(name, adapter_for(name), pool=pool, key_for=key_for,
                                     config=config)
    return out


def route_embeddings(requested: object, model: str, settings: Settings,
                     has_key: Callable[[str], bool]) -> Target:
    """Who embeds with ``model`` (``requested`` is the body's ``model`` as sent).

    Raises:
        GatewayError: only when ``emulator.emulate_unconfigured`` is false and the model's
            provider needs a key: 403 BYOAK_REQUIRES_PRO on the free plan, 422
            PROVIDER_NOT_CONFIGURED without a vault key (chat routing's rules).
    """
    if is_unspecified(requested):
        return Target(EMULATED, model, "no model requested: the emulated embeddings")
    provider = provider_for_model(model, settings.providers)
    if provider is None:
        return Target(EMULATED, model, f"no provider serves {model!r}: emulated embeddings",
                      unknown=True)
    if "embed" not in adapter_for(provider).operations:
        return Target(EMULATED, model, f"{provider} has no embeddings API: emulated", provider)
    return keyed(model, "requested model", provider, settings, has_key,
                 fallback="emulated embeddings")


def usable(name: str, settings: Settings, has_key: Callable[[str], bool]) -> bool:
    """Whether routing would send a model of ``name`` upstream (so its models are listed)."""
    if not settings.requires_key(name):
        return name in settings.providers  # a keyless server the config names
    return settings.tenant.plan != "free" and has_key(name)


async def list_models(providers: Mapping[str, ChatProvider], settings: Settings,
                      has_key: Callable[[str], bool]) -> list[dict]:
    """OpenAI model objects: each usable provider's own list, then the emulated models
    not already listed (first listing of an id wins). Providers are asked concurrently;
    each fetch is bounded and failures are logged and skipped by the provider itself."""
    sources = [p for name, p in providers.items()
               if name != EMULATED and isinstance(p, ModelSource) and usable(name, settings, has_key)]
    listed = await asyncio.gather(*(p.fetch_models() for p in sources))
    emulated = providers.get(EMULATED)
    listed.append(emulated.models() if emulated is not None else [])
    seen: dict[str, dict] = {}
    for models in listed:
        for model in models:
            seen.setdefault(model["id"], model)
    return list(seen.values())
