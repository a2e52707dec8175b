"""``gateway``: the app on an in-loop test client, on a hand-driven wall clock.

``await gateway(settings, clock=…, home=…)`` returns the client with ``.key`` (project
``local``'s auth header), ``.clock``, ``.gateway`` and ``await .wait_end(exchange_id)``,
which returns once the exchange's end has been published (and so billed)."""

from __future__ import annotations

import asyncio

import pytest

from behest_local.exchange.bus import TraceStore
from behest_local.exchange.events import ExchangeFailed, ExchangeFinished
from behest_local.identity.api_keys import KeyStore
from behest_local.runtime.build import build_gateway
from behest_local.server.app import make_app
from tests.conftest import TEST_SETTINGS
from tests.finops.usage_support import Clock


@pytest.fixture
def gateway(aiohttp_client, tmp_path):
    async def make(settings=TEST_SETTINGS, *, clock: Clock | None = None, home=None):
        clock = clock or Clock()
        home = home or tmp_path / "home"
        keys = KeyStore(home, scrypt_n=2**4)
        gw = build_gateway(settings, home, keys=keys, store=TraceStore(wall_clock=clock))
        client = await aiohttp_client(make_app(gw))
        key, _ = keys.create("local")
        client.key, client.clock, client.gateway = {"Authorization": f"Bearer {key}"}, clock, gw
        client.ended = {}

        def on_event(event, exchange) -> None:
            if isinstance(event, (ExchangeFinished, ExchangeFailed)):
                client.ended.setdefault(exchange.id, asyncio.Event()).set()

        gw.store.subscribe(on_event)

        async def wait_end(exchange_id: str) -> None:
            await asyncio.wait_for(client.ended.setdefault(exchange_id, asyncio.Event()).wait(),
                                   10)

        client.wait_end = wait_end
        return client

    return make
