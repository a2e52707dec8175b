"""The catalog's routing of embeddings models and its choice of which providers list models."""

from __future__ import annotations

import pytest

from behest_local.config import EmulatorConfig, ProviderConfig, Settings, TenantConfig
from behest_local.errors import GatewayError
from behest_local.config.models import provider_for_model
from behest_local.providers.catalog import route_embeddings, usable
from behest_local.policy.routing import EMULATED

OLLAMA = ProviderConfig(base_url="http://127.0.0.1:11434/v1", prefixes=("nomic",))


def settings(*, plan: str = "pro", lenient: bool = True) -> Settings:
    return Settings(tenant=TenantConfig(plan=plan),
                    emulator=EmulatorConfig(emulate_unconfigured=lenient),
                    providers={"ollama": OLLAMA})


@pytest.mark.parametrize(("model", "owner"), [
    ("text-embedding-3-small", "openai"), ("text-embedding-ada-002", "openai"),
    ("text-embedding-004", "google"),  # Gemini's: the longer prefix wins over OpenAI's
    ("gemini-embedding-001", "google"), ("mistral-embed", "mistral"),
    ("embed-english-v3.0", "cohere"), ("embed-v4.0", "cohere"),
    ("nomic-embed-text", "ollama"), ("voyage-3", None),
])
def test_embeddings_models_have_owners(model, owner):
    assert provider_for_model(model, settings().providers) == owner


def has(*names):
    return lambda provider: provider in names


@pytest.mark.parametrize(("model", "keys", "provider", "why"), [
    ("text-embedding-3-small", has("openai"), "openai", "openai key from the vault"),
    ("text-embedding-3-small", has(), EMULATED, "no openai key"),
    ("embed-english-v3.0", has("cohere"), "cohere", "cohere key"),
    ("nomic-embed-text", has(), "ollama", "custom provider ollama"),
    ("anthropic/some-embedder", has("openrouter"), EMULATED, "openrouter has no embeddings API"),
    ("voyage-3", has("openai"), EMULATED, "no provider serves"),
])
def test_embeddings_go_to_a_keyed_provider_with_an_embeddings_api(model, keys, provider, why):
    target = route_embeddings(model, model, settings(), keys)
    assert target.provider == provider and why in target.reason
    assert target.model == model


def test_no_model_is_the_emulated_default_even_when_strict():
    target = route_embeddings(None, "text-embedding-3-small", settings(lenient=False), has())
    assert target.provider == EMULATED


@pytest.mark.parametrize(("plan", "keys", "status", "code"), [
    ("pro", has(), 422, "PROVIDER_NOT_CONFIGURED"),
    ("free", has("openai"), 403, "BYOAK_REQUIRES_PRO"),
])
def test_strict_routing_fails_as_the_cloud_does(plan, keys, status, code):
    with pytest.raises(GatewayError) as caught:
        route_embeddings("text-embedding-3-small", "text-embedding-3-small",
                         settings(plan=plan, lenient=False), keys)
    assert (caught.value.status, caught.value.code) == (status, code)


def test_the_free_plan_emulates_byok_embeddings():
    target = route_embeddings("mistral-embed", "mistral-embed", settings(plan="free"),
                              has("mistral"))
    assert target.provider == EMULATED and "BYOAK_REQUIRES_PRO" in target.reason


@pytest.mark.parametrize(("name", "plan", "keys", "listed"), [
    ("openai", "pro", has("openai"), True), ("openai", "pro", has(), False),
    ("openai", "free", has("openai"), False),  # BYOK is not served on the free plan
    ("ollama", "free", has(), True),  # a configured keyless server
    ("cohere", "pro", has("openai"), False),
])
def test_which_providers_list_their_models(name, plan, keys, listed):
    assert usable(name, settings(plan=plan), keys) is listed
