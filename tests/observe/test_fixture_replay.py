"""Save a recorded stream as a fixture, then replay it through the emulated provider."""

from __future__ import annotations

import asyncio

from behest_local import sse
from behest_local.observe.fixtures import save_fixture
from behest_local.observe.record import build_record

CHAT = "/v1/chat/completions"


async def read_stream(resp) -> tuple[str, list[float]]:
    loop = asyncio.get_running_loop()
    text, arrivals = "", []
    async for line in resp.content:
        if line.startswith(b"data: {"):
            arrivals.append(loop.time())
            for chunk in sse.parse_json_events(line + b"\n"):
                for choice in chunk.get("choices") or []:
                    text += choice["delta"].get("content") or ""
    return text, arrivals


async def test_a_saved_stream_replays_with_its_text_and_timing(gateway_client):
    gateway = gateway_client.gateway
    body = {"stream": True, "messages": [{"role": "user", "content": "Tell me about rivers"}]}
    resp = await gateway_client.post(CHAT, json=body, headers={
        **gateway_client.headers_auth, "x-behest-emulate": "tokens_per_second=40"})
    original, first = await read_stream(resp)
    exchange = gateway.store.find(resp.headers["X-Request-Id"])
    await asyncio.sleep(0)  # let the exchange record its end
    save_fixture(build_record(exchange), gateway.home / "fixtures", "rivers")

    replay = await gateway_client.post(CHAT, json={**body, "model": "gpt-4o"}, headers={
        **gateway_client.headers_auth, "x-behest-emulate": "replay=rivers"})
    assert replay.status == 200
    replayed, second = await read_stream(replay)
    assert replayed == original
    # The recorded pace is kept: the replay lasts about as long as the original did.
    assert second[-1] - second[0] >= 0.7 * (first[-1] - first[0])


async def test_an_unknown_fixture_is_a_clear_400(gateway_client):
    resp = await gateway_client.post(CHAT, json={
        "stream": True, "messages": [{"role": "user", "content": "Hi"}]}, headers={
        **gateway_client.headers_auth, "x-behest-emulate": "replay=nope"})
    assert resp.status == 400
    error = (await resp.json())["error"]
    assert error["param"] == "x-behest-emulate" and "no such fixture" in error["message"]
