"""Authentication's cost on the event loop: a key's slow hash runs off the loop, once.

``auth.authenticate_async`` and the mint route run the first check of an API key (scrypt,
~70 ms) in a worker thread; every later request is a ``PrincipalCache`` hit by its raw
``Authorization`` header (no parsing, no SHA-256), valid for one ``KeyStore.generation``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import replace

import pytest

from behest_local.identity import api_keys as keys_module
from behest_local.identity.api_keys import KeyStore
from behest_local.server.admission.auth import PRINCIPALS, PrincipalCache
from behest_local.server.admission.principal import Principal
from behest_local.runtime.build import build_gateway
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


async def test_cache_hits_skip_the_lookup_digest(aiohttp_client, tmp_path, monkeypatch):
    client, _, key = await _client(aiohttp_client, tmp_path)
    auth = {"Authorization": f"Bearer {key}"}
    assert (await client.get("/v1/models", headers=auth)).status == 200
    digests = []
    real = keys_module._lookup
    monkeypatch.setattr(keys_module, "_lookup", lambda k: digests.append(1) or real(k))
    for _ in range(3):
        assert (await client.get("/v1/models", headers=auth)).status == 200
    assert digests == []
    other = {"Authorization": f"bearer  {key}"}  # another spelling: looked up, then cached
    assert (await client.get("/v1/models", headers=other)).status == 200
    assert (await client.get("/v1/models", headers=other)).status == 200
    assert len(digests) == 1


async def test_a_revocation_by_another_process_refuses_the_very_next_request(aiohttp_client,
                                                                               tmp_path):
    client, gateway, key = await _client(aiohttp_client, tmp_path)
    auth = {"Authorization": f"Bearer {key}"}
    for _ in range(2):
        assert (await client.get("/v1/models", headers=auth)).status == 200
    KeyStore(tmp_path / "gw-home", scrypt_n=2**4).revoke(key)  # the CLI, say
    assert gateway.keys.reload()  # what KeyStore.watch does when the file changes
    response = await client.get("/v1/models", headers=auth)
    assert response.status == 401
    assert key not in await response.text()


def test_an_index_replaced_during_a_lookup_is_not_cached():
    cache, settings = PrincipalCache(), TEST_SETTINGS
    assert cache.get(settings, 1, "Bearer k", None, None) is None
    principal = Principal("t", settings.projects[0], "behest_sk_live_0…", settings)
    cache.put(0, "Bearer k", principal)  # looked up under generation 0, reloaded since
    assert cache.get(settings, 1, "Bearer k", None, None) is None
    cache.put(1, "Bearer k", principal)
    assert cache.get(settings, 1, "Bearer k", None, None) is principal
    assert cache.get(settings, 2, "Bearer k", None, None) is None  # a reload empties it
    assert "Bearer" not in repr(cache)


async def test_the_cache_never_shows_a_key(aiohttp_client, tmp_path):
    client, _, key = await _client(aiohttp_client, tmp_path)
    assert (await client.get("/v1/models",
                             headers={"Authorization": f"Bearer {key}"})).status == 200
    assert key not in repr(client.app[PRINCIPALS]) and key not in repr(client.app)
