"""Which ``ChatProvider`` serves each provider name that routing can produce.

Routing (``routing.py``) names providers the way Behest does (``openai``, ``anthropic``,
``google``, ``mistral``, ``cohere``, ``openrouter``, plus custom OpenAI-compatible
servers by their ``[providers.NAME]`` table); this module maps each name to an adapter
(``registry.ADAPTERS``: Google is the ``gemini`` adapter, custom servers the ``custom``
profile) and builds one ``UpstreamProvider`` per name for the current settings. The
runtime rebuilds the catalog when ``[providers]`` changes; exchanges in flight keep the
provider objects they started with.
"""

from __future__ import annotations

from collections.abc import Callable

from behest_local.config.schema import BUILTIN_PROVIDERS, Settings
from behest_local.providers.base import ChatProvider
from behest_local.providers.http import HttpPool
from behest_local.providers.registry import ADAPTERS
from behest_local.providers.upstream import UpstreamProvider
from behest_local.secret import Secret

# Behest's provider names whose adapter is named differently.
ADAPTER_OF = {"google": "gemini"}


def build_upstreams(settings: Settings, pool: HttpPool,
                    key_for: Callable[[str], Secret | None]) -> dict[str, ChatProvider]:
    """One provider per built-in name and per configured custom provider."""
    names = list(BUILTIN_PROVIDERS) + [n for n in settings.providers if n not in BUILTIN_PROVIDERS]
    out: dict[str, ChatProvider] = {}
    for name in names:
        adapter = ADAPTERS.get(ADAPTER_OF.get(name, name)) or ADAPTERS["custom"]
        out[name] = UpstreamProvider(name, adapter, pool=pool, key_for=key_for,
                                     config=settings.providers.get(name))
    return out
