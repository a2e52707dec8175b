"""BYOK end to end: the openai SDK → behest-local → a provider's native fake upstream.

The provider key lives only in the encrypted vault; the gateway decrypts it for each
upstream request. The canary test proves the promise of issue 3: the fake receives exactly
the stored key, and the key appears in no log line, trace event, headless log, error body
or file other than the (encrypted) vault.
"""

from __future__ import annotations

import asyncio
import io
import logging
from dataclasses import replace
from types import MappingProxyType

import openai
import pytest

from behest_local.config import ProviderConfig
from behest_local.fakes import anthropic as fake_anthropic
from behest_local.fakes import openai as fake_openai
from behest_local.fakes.base import STATE
from behest_local.observe.headless import LineLogger
from behest_local.vault.store import Vault
from tests.conftest import TEST_SETTINGS, Recorder

OPENAI_CANARY = "sk-proj-CANARY" + "c4n4ry" * 8
ANTHROPIC_CANARY = "sk-ant-api03-CANARY" + "x9" * 20


@pytest.fixture
async def byok(aiohttp_server, make_gateway_client, tmp_path):
    oai = await aiohttp_server(fake_openai.make_app(key=OPENAI_CANARY))
    ant = await aiohttp_server(fake_anthropic.make_app(key=ANTHROPIC_CANARY))
    home = tmp_path / "byok-home"
    vault = Vault.open(home, scrypt_n=2**4)
    vault.set("openai", OPENAI_CANARY)
    vault.set("anthropic", ANTHROPIC_CANARY)
    settings = replace(TEST_SETTINGS, providers=MappingProxyType({
        "openai": ProviderConfig(base_url=str(oai.make_url("/v1"))),
        "anthropic": ProviderConfig(base_url=str(ant.make_url("")).rstrip("/")),
    }))
    client = await make_gateway_client(settings, home=home)
    recorder = Recorder()
    log_lines = io.StringIO()
    client.gateway.store.subscribe(recorder)
    client.gateway.store.subscribe(LineLogger(log_lines))
    sdk = openai.AsyncOpenAI(api_key=client.key["Authorization"].split()[1],
                             base_url=str(client.make_url("/v1")), max_retries=0)
    yield client, sdk, oai.app[STATE], ant.app[STATE], recorder, log_lines, home
    await sdk.close()


async def test_openai_text_stream_tools_and_errors_through_the_fake(byok):
    client, sdk, oai, _ant, recorder, _log, _home = byok
    response = await sdk.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "Hello there"}])
    assert "Hello from the fake openai upstream" in response.choices[0].message.content
    assert oai.requests[-1].auth_ok
    stream = await sdk.chat.completions.create(
        model="gpt-4o", stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "Hello there"}])
    text, usage = "", None
    async for chunk in stream:
        text += "".join(c.delta.content or "" for c in chunk.choices)
        usage = chunk.usage or usage
    assert text == response.choices[0].message.content
    assert usage is not None and usage.completion_tokens > 0
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
    called = await sdk.chat.completions.create(
        model="gpt-4o", tools=tools, messages=[{"role": "user", "content": "weather [tool]"}])
    assert called.choices[0].finish_reason == "tool_calls"
    assert called.choices[0].message.tool_calls[0].function.name == "get_weather"
    with pytest.raises(openai.RateLimitError) as info:
        await sdk.chat.completions.create(model="gpt-4o",
                                          messages=[{"role": "user", "content": "[error 429]"}])
    assert info.value.status_code == 429


async def test_anthropic_via_openai_sdk(byok):
    client, sdk, _oai, ant, _rec, _log, _home = byok
    response = await sdk.chat.completions.create(
        model="claude-sonnet-4-20250514", max_tokens=200,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}])
    assert "Hello from the fake anthropic upstream" in response.choices[0].message.content
    assert response.usage.prompt_tokens > 0
    assert ant.requests[-1].auth_ok
    with pytest.raises(openai.APIStatusError) as info:
        await sdk.chat.completions.create(model="claude-sonnet-4-20250514", max_tokens=50,
                                          messages=[{"role": "user", "content": "[error 529]"}])
    assert info.value.status_code == 529


async def test_client_disconnect_cancels_the_upstream(byok):
    client, _sdk, oai, _ant, _rec, _log, _home = byok
    resp = await client.post("/v1/chat/completions", headers=client.key, json={
        "model": "gpt-4o", "stream": True,
        "messages": [{"role": "user", "content": "tell me [hold 2]"}]})
    assert resp.status == 200
    await resp.content.readline()
    resp.close()  # the client goes away mid-stream
    await asyncio.wait_for(oai.disconnected.wait(), timeout=5)


async def test_unreachable_upstream_is_502_in_openai_shape(make_gateway_client, tmp_path):
    home = tmp_path / "dead-home"
    Vault.open(home, scrypt_n=2**4).set("openai", OPENAI_CANARY)
    settings = replace(TEST_SETTINGS, providers=MappingProxyType({
        "openai": ProviderConfig(base_url="http://127.0.0.1:9/v1", connect_timeout_s=2)}))
    client = await make_gateway_client(settings, home=home)
    resp = await client.post("/v1/chat/completions", headers=client.key, json={
        "model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}]})
    assert resp.status == 502
    body = await resp.json()
    assert body["error"]["code"] == "upstream_unreachable"
    assert OPENAI_CANARY not in str(body)


async def test_the_canary_key_appears_nowhere_but_the_vault(byok, caplog):
    client, sdk, oai, _ant, recorder, log_lines, home = byok
    caplog.set_level(logging.DEBUG)
    bodies = []
    for content in ("Hello", "[error 401]", "[fail 2]", "[error 500]"):
        resp = await client.post("/v1/chat/completions", headers=client.key, json={
            "model": "gpt-4o", "stream": content == "[fail 2]",
            "messages": [{"role": "user", "content": content}]})
        bodies.append(await resp.text())
    assert any(r.auth_ok for r in oai.requests)
    haystacks = bodies + [log_lines.getvalue()] + [r.getMessage() for r in caplog.records]
    haystacks += [repr(e) for e in recorder.events]
    haystacks += [repr(client.gateway.providers["openai"]), repr(client.gateway.vault)]
    for path in home.rglob("*"):
        if path.is_file():
            haystacks.append(path.read_bytes().decode("latin-1"))
    for text in haystacks:
        assert OPENAI_CANARY not in text
        assert OPENAI_CANARY[-24:] not in text
