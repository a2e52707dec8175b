"""``/v1/embeddings`` and ``/v1/models`` with provider keys in the vault.

Embeddings go to the model's provider when it has an embeddings API and a key (OpenAI,
Gemini, Mistral, Cohere, a custom server), else to the emulated embeddings; the routing
is recorded on the exchange. The fakes' vectors are deterministic (``fake_vector``), so
what the openai SDK decodes, from floats or from base64 (its default), can be checked
exactly. ``/v1/models`` lists every keyed provider's own models (fetched once, then
cached), then the emulated ones; an unreachable provider is logged and skipped.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

import openai
import pytest

from behest_local.config import EmulatorConfig, ProviderConfig
from behest_local.exchange.events import Routed
from behest_local.fakes.openai import fake_vector
from behest_local.providers.emulated.embeddings import EMBEDDING_MODELS
from behest_local.providers.emulated.provider import CHAT_MODELS

EMBEDDERS = {"openai": "text-embedding-3-small", "google": "gemini-embedding-001",
             "mistral": "mistral-embed", "cohere": "embed-english-v3.0",
             "ollama": "llama-embed"}
TEXTS = ["The cat sat on the mat.", "A dog barked."]
FAKE_MODELS = {
    "openai": {"gpt-4o-mini", "gpt-4o", "text-embedding-3-small"},
    "anthropic": {"claude-sonnet-4-6", "claude-haiku-4-5"},
    "google": {"gemini-2.5-flash", "gemini-2.5-pro", "gemini-embedding-001"},
    "mistral": {"mistral-small-latest", "mistral-large-latest", "mistral-embed"},
    "cohere": {"command-a-03-2025", "command-r-plus", "embed-v4.0"},
    "openrouter": {"anthropic/claude-sonnet-4.5", "openai/gpt-4o-mini"},
    "ollama": {"llama3.2:latest", "nomic-embed-text:latest"},
}


def _routed(up) -> Routed:
    return [e for e in up.recorder.events if isinstance(e, Routed)][-1]


@pytest.mark.parametrize("provider", sorted(EMBEDDERS))
@pytest.mark.parametrize("encoding", ["float", "base64"])
async def test_embeddings_reach_the_models_provider(byok, provider, encoding):
    up = await byok(provider)
    model = EMBEDDERS[provider]
    extra = {} if encoding == "base64" else {"encoding_format": "float"}  # SDK default: base64
    result = await up.sdk.embeddings.create(model=model, input=TEXTS, **extra)
    assert [d.embedding for d in result.data] == [
        pytest.approx(fake_vector(t, 8), abs=1e-6) for t in TEXTS]
    assert [d.index for d in result.data] == [0, 1]
    routed = _routed(up)
    assert (routed.provider, routed.model) == (provider, model)
    sent = up.state.requests[-1]
    assert sent.auth_ok and sent.method == "POST"
    if provider != "google":  # batchEmbedContents reports no usage; the others do
        assert result.usage.prompt_tokens > 0


@pytest.mark.parametrize("provider", ["openai", "google", "mistral", "cohere"])
async def test_dimensions_reach_the_provider_in_its_own_terms(byok, provider):
    up = await byok(provider)
    result = await up.sdk.embeddings.create(model=EMBEDDERS[provider], input="hello",
                                            dimensions=4, user="end-user-1")
    assert result.data[0].embedding == pytest.approx(fake_vector("hello", 4), abs=1e-6)
    body = up.state.requests[-1].body
    if provider == "mistral":  # EmbeddingRequest: output_dimension, and no `user` (422)
        assert body["output_dimension"] == 4 and "user" not in body


async def test_embeddings_without_the_providers_key_are_emulated(byok):
    up = await byok("openai")
    for model, reason in (("mistral-embed", "no mistral key"),
                          ("claude-embed", "anthropic has no embeddings API"),
                          ("my-own-embedder", "no provider serves")):
        result = await up.sdk.embeddings.create(model=model, input="hello",
                                                encoding_format="float")
        assert len(result.data[0].embedding) == EMBEDDING_MODELS.get(model, 1536)
        routed = _routed(up)
        assert routed.provider == "emulated" and reason in routed.reason
    assert not [r for r in up.state.requests if r.path.endswith("/embeddings")]


async def test_strict_routing_refuses_a_keyless_embeddings_model(byok, make_gateway_client):
    up = await byok("openai")
    settings = replace(up.gateway.settings, emulator=EmulatorConfig(emulate_unconfigured=False))
    client = await make_gateway_client(settings, home=up.gateway.home)  # same vault
    resp = await client.post("/v1/embeddings", headers=client.key,
                             json={"model": "mistral-embed", "input": "hi"})
    assert resp.status == 422
    assert (await resp.json())["error"]["code"] == "PROVIDER_NOT_CONFIGURED"
    resp = await client.post("/v1/embeddings", headers=client.key,
                             json={"model": "text-embedding-3-small", "input": "hi"})
    assert resp.status == 200  # the openai key is in the vault


async def test_models_list_every_keyed_provider_then_the_emulated_ones(byok):
    up = await byok("openai", "anthropic", "google", "mistral", "cohere", "openrouter", "ollama")
    listed = {m.id: m for m in (await up.sdk.models.list()).data}
    for provider, ids in FAKE_MODELS.items():
        assert ids <= set(listed), provider
    assert set(CHAT_MODELS) <= set(listed)
    assert listed["claude-haiku-4-5"].owned_by == "anthropic"
    assert listed["gpt-4o-mini"].owned_by == "openai"  # the provider's entry wins
    assert listed["gemini-2.5-flash"].owned_by == "google"
    assert (await up.sdk.models.retrieve("anthropic/claude-sonnet-4.5")).owned_by == "openrouter"
    await up.sdk.models.list()
    for name, state in up.states.items():  # fetched once, then served from the cache
        fetches = [r for r in state.requests if r.method == "GET"]
        assert len(fetches) == 1, name
        assert fetches[0].auth_ok


async def test_a_provider_without_a_key_is_not_asked(byok):
    up = await byok("anthropic")
    up.gateway.provider_keys.providers = frozenset()  # the key was removed from the vault
    listed = {m.id for m in (await up.sdk.models.list()).data}
    assert "claude-haiku-4-5" not in listed and set(CHAT_MODELS) <= listed
    assert not up.state.requests


async def test_an_unreachable_provider_is_logged_and_skipped(byok, caplog):
    caplog.set_level(logging.WARNING, logger="behest_local.providers")
    up = await byok("anthropic", extra={"openai": ProviderConfig(
        base_url="http://127.0.0.1:9/v1", connect_timeout_s=1)})
    listed = {m.id for m in (await up.sdk.models.list()).data}
    assert {"claude-sonnet-4-6", "gpt-4o"} <= listed  # anthropic's, and the emulated ones
    assert "models list of openai unavailable" in caplog.text
    caplog.clear()
    await up.sdk.models.list()
    assert "openai" not in caplog.text  # not retried at once: no new attempt, no new line
    with pytest.raises(openai.NotFoundError):
        await up.sdk.models.retrieve("no-such-model")


async def test_concurrent_lists_share_one_fetch(byok):
    up = await byok("cohere")
    lists = await asyncio.gather(*(up.sdk.models.list() for _ in range(4)))
    assert all({"command-a-03-2025", "embed-v4.0"} <= {m.id for m in page.data}
               for page in lists)
    assert len(up.state.requests) == 1
    assert up.state.requests[0].query == {"page_size": "1000"}  # one page holds them all
