"""Authentication's cost on the event loop: a key's slow hash runs off the loop, once.

``auth.authenticate_async`` and the mint route run the first check of an API key (scrypt,
~70 ms) in a worker thread; every later request is a ``KeyStore.cached`` hit and a
``PrincipalCache`` hit.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import replace

import pytest

from behest_local import keys as keys_module
from behest_local.keys import KeyStore
from behest_local.runtime import build_gateway
from behest_local.server.app import make_app
from tests.conftest import TEST_SETTINGS

SLOW_S = 0.4


async def _client(aiohttp_client, tmp_path):
    keys = KeyStore(tmp_path / "gw-home", scrypt_n=2**4)
    gateway = build_gateway(TEST_SETTINGS, tmp_path / "gw-home", keys=keys)
    client = await aiohttp_client(make_app(gateway))
    key, _ = keys.create("local")
    return client, gateway, key


@pytest.fixture
def slow_checks(monkeypatch):
    """The slow hash takes SLOW_S (sleeping releases the GIL, as scrypt does); counts calls."""
    real, calls, started = keys_module.check_key, [], threading.Event()

    def slow(presented: str, encoded: str) -> bool:
        calls.append(threading.current_thread().name)
        started.set()
        time.sleep(SLOW_S)
        return real(presented, encoded)

    monkeypatch.setattr(keys_module, "check_key", slow)
    return calls, started


@pytest.mark.parametrize("method, path, body", [("GET", "/v1/models", None),
                                               ("POST", "/v1/auth/mint", {})])
async def test_a_keys_first_check_does_not_block_the_loop(aiohttp_client, tmp_path,
                                                         slow_checks, method, path, body):
    client, _, key = await _client(aiohttp_client, tmp_path)
    calls, started = slow_checks
    first = asyncio.create_task(client.request(method, path, json=body,
                                               headers={"Authorization": f"Bearer {key}"}))
    while not started.is_set():
        await asyncio.sleep(0.005)
    began = time.monotonic()
    health = await client.get("/healthz")  # served while the key is being checked
    assert health.status == 200 and time.monotonic() - began < SLOW_S / 2
    assert not first.done()
    response = await first
    assert response.status != 401
    assert calls and threading.main_thread().name not in calls


async def test_later_requests_are_cache_hits_until_the_key_is_revoked(aiohttp_client, tmp_path,
                                                                      slow_checks):
    client, gateway, key = await _client(aiohttp_client, tmp_path)
    calls, _ = slow_checks
    auth = {"Authorization": f"Bearer {key}", "X-End-User-Id": "alice"}
    for _ in range(3):
        assert (await client.get("/v1/models", headers=auth)).status == 200
    assert len(calls) == 1
    gateway.keys.revoke(gateway.keys.list()[0].id)
    assert (await client.get("/v1/models", headers=auth)).status == 401
    assert len(calls) == 1  # a revoked key is refused without its slow hash


async def test_a_settings_change_applies_to_cached_principals(aiohttp_client, tmp_path):
    client, gateway, key = await _client(aiohttp_client, tmp_path)
    auth = {"Authorization": f"Bearer {key}"}
    assert (await client.get("/v1/models", headers=auth)).status == 200
    strict = tuple(replace(p, strict_v15=True) if p.id == "local" else p
                   for p in gateway.settings.projects)
    gateway.settings = replace(gateway.settings, projects=strict)
    response = await client.get("/v1/models", headers=auth)
    assert response.status == 401 and "strict_v15" in (await response.json())["error"]["message"]
