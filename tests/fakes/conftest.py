"""Fixtures for the fake upstreams: a fake on an ephemeral loopback port, by provider name."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp
import pytest

from behest_local.fakes import BASE_PATHS, PROVIDERS, STATE, FakeState

KEY = "fake-key-for-tests-0001"


@dataclass
class Fake:
    provider: str
    origin: str
    """``http://127.0.0.1:PORT``"""
    state: FakeState

    @property
    def base_url(self) -> str:
        """What the provider's SDK (and the adapter) take as ``base_url``."""
        return self.origin + BASE_PATHS[self.provider]


@pytest.fixture
async def fake(aiohttp_server):
    """``await fake("anthropic")``: that provider's fake, accepting only ``KEY``. The
    ``aiohttp_server`` fixture runs it with handler cancellation on, so disconnects show."""

    async def start(provider: str) -> Fake:
        app = PROVIDERS[provider](key=KEY)
        server = await aiohttp_server(app, host="127.0.0.1")
        return Fake(provider, str(server.make_url("")).rstrip("/"), app[STATE])

    return start


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as s:
        yield s
