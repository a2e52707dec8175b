"""``byok``: a gateway with one provider's key in the vault, pointed at that provider's fake.

``await byok("anthropic")`` starts the fake Anthropic API, stores its key in a fresh vault,
builds a gateway whose ``[providers.anthropic] base_url`` is the fake, and returns a
``Byok`` with the openai SDK on the gateway (``sdk``), the provider's own SDK on the fake
(``native``, see ``parity_support``) and the fake's state. ``ollama`` is a custom
OpenAI-compatible server (``prefixes = ["llama"]``, no key), served by the Ollama-flavoured
fake.

``byok("openai", "google", …)`` serves several providers from one gateway (the first is
the one ``native``/``model`` are about); ``vault_key`` stores another key for the first
than the one its fake accepts; ``extra`` adds provider configs with a vault key but no
fake (an unreachable ``base_url``, say); other keyword arguments go to every started
provider's ``ProviderConfig``.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, replace
from types import MappingProxyType

import openai
import pytest

from behest_local.config import ProviderConfig
from behest_local.fakes import BASE_PATHS, PROVIDERS
from behest_local.fakes.base import FakeState, STATE
from behest_local.vault.store import Vault
from tests.conftest import TEST_SETTINGS, Recorder
from tests.e2e.parity_support import GatewayClient, native_client, openai_sdk

# Keys of each provider's shape (the vault checks it), accepted by that provider's fake.
KEYS = {"openai": "sk-proj-" + "k3y" * 16, "anthropic": "sk-ant-api03-" + "k3y" * 16,
        "google": "AIza" + "k3y_-" * 7, "mistral": "mistral-key-0123456789",
        "cohere": "cohere-key-0123456789", "openrouter": "sk-or-v1-" + "0f" * 32,
        "ollama": "ollama"}
# Behest provider name → (fake upstream, a model routing sends to that provider).
UPSTREAMS = {
    "openai": ("openai", "gpt-4o-mini"),
    "anthropic": ("anthropic", "claude-sonnet-4-6"),
    # not gemini-2.5-flash: that is the platform's default model, always emulated
    "google": ("gemini", "gemini-2.5-pro"),
    "mistral": ("mistral", "mistral-small-latest"),
    "cohere": ("cohere", "command-a-03-2025"),
    "openrouter": ("openrouter", "anthropic/claude-sonnet-4.5"),
    "ollama": ("ollama", "llama3.2"),
}


@dataclass
class Byok:
    provider: str
    model: str
    client: object
    """The aiohttp test client of the gateway (``.key``: the project's auth header)."""
    sdk: openai.AsyncOpenAI
    """The openai SDK on the gateway (no retries)."""
    native: object
    """The provider's own SDK on the fake (``parity_support.Native*``)."""
    ours: GatewayClient
    """The openai SDK on the gateway, as a parity driver."""
    state: FakeState
    base_url: str
    """The fake's base URL as the adapter and the provider's SDK take it."""
    recorder: Recorder
    states: dict[str, FakeState]
    """Every started fake's state by provider name (``more`` providers included)."""

    @property
    def gateway(self):
        return self.client.gateway


@pytest.fixture
async def byok(aiohttp_server, make_gateway_client, tmp_path):
    async with AsyncExitStack() as stack:

        async def start(provider: str, *more: str, vault_key: str | None = None,
                        extra: Mapping[str, ProviderConfig] = MappingProxyType({}),
                        **config) -> Byok:
            home = tmp_path / f"home-{provider}"
            vault = Vault.open(home, scrypt_n=2**4)
            configs, states, urls = dict(extra), {}, {}
            for name in extra:
                vault.set(name, KEYS[name])
            for name in (provider, *more):
                fake_name = UPSTREAMS[name][0]
                app = PROVIDERS[fake_name](key=KEYS[name])
                server = await aiohttp_server(app, host="127.0.0.1")
                origin = str(server.make_url("")).rstrip("/")
                urls[name] = (origin, origin + BASE_PATHS[fake_name])
                states[name] = app[STATE]
                if name == "ollama":  # a custom server: routed by prefix, no key
                    configs[name] = ProviderConfig(base_url=urls[name][1], **{
                        "prefixes": ("llama",), **config})
                else:
                    vault.set(name, (vault_key if name == provider else None) or KEYS[name])
                    configs[name] = ProviderConfig(base_url=urls[name][1], **config)
            settings = replace(TEST_SETTINGS, providers=MappingProxyType(configs))
            client = await make_gateway_client(settings, home=home)
            recorder = Recorder()
            client.gateway.store.subscribe(recorder)
            sdk = openai_sdk(client.key["Authorization"].split()[1],
                             str(client.make_url("/v1")), stack)
            model = UPSTREAMS[provider][1]
            origin, base_url = urls[provider]
            native = native_client(provider, base_url, origin, KEYS[provider], model, stack)
            return Byok(provider, model, client, sdk, native, GatewayClient(sdk, model),
                        states[provider], base_url, recorder, states)

        yield start


ALL = list(UPSTREAMS)
