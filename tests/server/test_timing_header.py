"""``Server-Timing`` on every response (server/timing_header.py): the gateway's own time.

The hook is added here if ``make_app`` does not add it yet, so these tests hold before
and after it is wired into ``server/app.py``.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

from aiohttp import web

from behest_local.config import ProviderConfig
from behest_local.identity.api_keys import KeyStore
from behest_local.runtime.build import build_gateway
from behest_local.server.app import make_app
from behest_local.server.timing_header import format_server_timing, parse_server_timing
from tests.conftest import TEST_SETTINGS

CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hello"}]}
SLOW_MS = 60


def test_format_and_parse_round_trip():
    value = format_server_timing(0.010433, 0.010021)
    assert value == 'gateway;dur=0.412;desc="behest-local", provider;dur=10.021, total;dur=10.433'
    assert parse_server_timing(value) == {"gateway": 0.412, "provider": 10.021, "total": 10.433}
    assert parse_server_timing(format_server_timing(0.002, None)) == {"gateway": 2.0,
                                                                      "total": 2.0}
    # the provider part never exceeds the total, so the gateway part is never negative
    assert parse_server_timing(format_server_timing(0.001, 0.002))["gateway"] == 0.0


async def _client(aiohttp_client, tmp_path: Path, settings=TEST_SETTINGS):
    keys = KeyStore(tmp_path / "gw-home", scrypt_n=2**4)
    gateway = build_gateway(settings, tmp_path / "gw-home", keys=keys)
    client = await aiohttp_client(make_app(gateway))
    key, _ = keys.create("local")
    return client, {"Authorization": f"Bearer {key}"}


async def test_every_response_carries_the_gateway_time(aiohttp_client, tmp_path):
    client, auth = await _client(aiohttp_client, tmp_path)
    responses = [await client.get("/healthz"),
                 await client.post("/v1/chat/completions", json=CHAT),  # 401, no key
                 await client.get("/no/such/route"),
                 await client.post("/v1/chat/completions", json=CHAT, headers=auth)]
    assert [r.status for r in responses] == [200, 401, 404, 200]
    for response in responses:
        timing = parse_server_timing(response.headers["Server-Timing"])
        assert 0 <= timing["gateway"] <= timing["total"] < 5000


async def test_a_stream_reports_its_time_to_headers(aiohttp_client, tmp_path):
    client, auth = await _client(aiohttp_client, tmp_path)
    response = await client.post("/v1/chat/completions", json={**CHAT, "stream": True},
                                 headers=auth)
    timing = parse_server_timing(response.headers["Server-Timing"])
    await response.read()
    assert "provider" in timing  # the wait for the first event
    assert abs(timing["gateway"] + timing["provider"] - timing["total"]) < 0.002


async def test_the_upstreams_time_is_not_counted_as_the_gateways(aiohttp_client, tmp_path,
                                                                 aiohttp_server):
    async def slow_upstream(request: web.Request) -> web.Response:
        await request.read()
        await asyncio.sleep(SLOW_MS / 1000)
        return web.json_response({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "slow-1",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})

    upstream = web.Application()
    upstream.router.add_post("/v1/chat/completions", slow_upstream)
    server = await aiohttp_server(upstream)
    settings = replace(TEST_SETTINGS, providers={"slow": ProviderConfig(
        base_url=str(server.make_url("/v1")), prefixes=("slow-",), requires_key=False)})
    client, auth = await _client(aiohttp_client, tmp_path, settings)
    response = await client.post("/v1/chat/completions", json={**CHAT, "model": "slow-1"},
                                 headers=auth)
    assert response.status == 200, await response.text()
    timing = parse_server_timing(response.headers["Server-Timing"])
    assert timing["provider"] >= SLOW_MS * 0.9
    assert timing["gateway"] < timing["provider"]
    assert abs(timing["gateway"] + timing["provider"] - timing["total"]) < 0.002
