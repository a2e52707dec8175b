"""Which provider a model name belongs to: the one table of model-name prefixes.

Behest infers the provider from the model's name (reference/behest-api.md §4, the migration
guide's "Common Migration Gotchas"): ``gpt-…`` is OpenAI's, ``claude-…`` Anthropic's, and so
on. Chat routing (``policy/routing.py``), embeddings routing (``providers/catalog.py``), the
management API's model warnings and ``behest.toml``'s ``provider_model`` check all ask
:func:`provider_for_model`, so the answer is the same everywhere. It lives in ``config/``
because the config check needs it and every layer above may read it.

A custom provider's ``prefixes`` (``[providers.NAME] prefixes = […]``) are checked first, in
the order the providers are configured; then the built-in table, longest prefix first (so
``text-embedding-004`` is Google's and ``text-embedding-3-small`` OpenAI's); then any
``vendor/model`` name is OpenRouter's naming.
"""

from __future__ import annotations

from collections.abc import Mapping

from behest_local.config.schema import BUILTIN_PROVIDERS, ProviderConfig

UNSPECIFIED_MODELS = (None, "", "default")
"""A request's ``model`` values that mean "the project's provider_model, else the platform
default" (Behest accepts a missing, empty or ``"default"`` model)."""

MODEL_PREFIXES: Mapping[str, tuple[str, ...]] = {
    "openai": ("gpt-", "o1", "o3", "o4", "chatgpt-", "text-embedding-"),
    "anthropic": ("claude-",),
    "google": ("gemini-", "gemma-", "text-embedding-0", "gemini-embedding-"),
    "mistral": ("mistral-", "codestral", "magistral", "ministral", "pixtral", "devstral",
                "open-mistral"),
    "cohere": ("command", "embed-", "c4ai-"),
    "openrouter": ("openrouter/",),
}
"""Lower-case model-name prefixes of each built-in provider, chat and embeddings models alike."""

assert set(MODEL_PREFIXES) == set(BUILTIN_PROVIDERS), "one prefix list per built-in provider"

# (prefix, provider), longest prefix first: the first match is the most specific one.
_BY_LENGTH = tuple(sorted(((prefix, provider) for provider, prefixes in MODEL_PREFIXES.items()
                           for prefix in prefixes), key=lambda pair: -len(pair[0])))
_ANY_PREFIX = tuple(prefix for prefix, _ in _BY_LENGTH)


def is_unspecified(model: object) -> bool:
    """Whether a request's ``model`` leaves the choice to the project (``UNSPECIFIED_MODELS``)."""
    return model is None or (isinstance(model, str) and model in ("", "default"))


def provider_for_model(model: str, providers: Mapping[str, ProviderConfig]) -> str | None:
    """The provider whose model ``model`` is, or None when no rule matches.

    ``providers`` is the ``[providers.*]`` configuration (``Settings.providers``), for the
    custom prefixes."""
    for name, provider in providers.items():
        if provider.prefixes and model.startswith(provider.prefixes):  # str.startswith(tuple)
            return name
    lowered = model.lower()
    if lowered.startswith(_ANY_PREFIX):
        for prefix, provider_name in _BY_LENGTH:
            if lowered.startswith(prefix):
                return provider_name
    return "openrouter" if "/" in model.strip("/") else None
