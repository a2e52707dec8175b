"""The official cohere SDK (v2 client) against the fake Cohere API, and the adapter reading
the same answers."""

from __future__ import annotations

import json

import cohere
import httpx
import pytest
from cohere.errors import TooManyRequestsError, UnauthorizedError

from tests.fakes.conftest import KEY
from tests.fakes.test_fake_roundtrip import chat
from tests.fakes.upstream_client import exchange
from tests.providers.streams import summary

MODEL = "command-a-03-2025"
WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
MESSAGES = [{"role": "system", "content": "You are terse."}]


@pytest.fixture
async def transport():
    """The SDK's HTTP client, owned here so it is closed (no socket left to the GC)."""
    async with httpx.AsyncClient() as http:
        yield http


@pytest.fixture
async def client(fake, transport):
    upstream = await fake("cohere")
    client = cohere.AsyncClientV2(api_key=KEY, base_url=upstream.base_url, httpx_client=transport)
    client.upstream = upstream
    return client


async def test_text_and_usage_match_what_the_adapter_reads(client, session):
    response = await client.chat(model=MODEL, messages=MESSAGES + [
        {"role": "user", "content": "Hi [cached 2]"}])
    ours = await exchange(session, "cohere", chat("cohere", "Hi [cached 2]"), KEY,
                          client.upstream.base_url)
    assert response.message.content[0].text == ours["choices"][0]["message"]["content"]
    assert response.finish_reason == "COMPLETE" and ours["choices"][0]["finish_reason"] == "stop"
    assert ours["usage"]["prompt_tokens"] == response.usage.tokens.input_tokens
    assert ours["usage"]["completion_tokens"] == response.usage.tokens.output_tokens
    assert ours["usage"]["prompt_tokens_details"]["cached_tokens"] == response.usage.cached_tokens


async def test_streamed_text(client, session):
    text, kinds = "", []
    async for event in client.chat_stream(model=MODEL, messages=MESSAGES + [
            {"role": "user", "content": "Hello"}]):
        kinds.append(event.type)
        if event.type == "content-delta":
            text += event.delta.message.content.text
    ours = summary(await exchange(session, "cohere", chat("cohere", "Hello", stream=True), KEY,
                                  client.upstream.base_url))
    assert text == ours["content"][0]
    assert kinds[0] == "message-start" and kinds[-1] == "message-end"


async def test_parallel_tool_calls(client, session):
    response = await client.chat(model=MODEL, tools=[WEATHER], messages=MESSAGES + [
        {"role": "user", "content": "Weather? [tools 2]"}])
    assert response.finish_reason == "TOOL_CALL"
    sdk_args = [json.loads(c.function.arguments) for c in response.message.tool_calls]
    ours = summary(await exchange(session, "cohere", chat(
        "cohere", "Weather? [tools 2]", tools=[WEATHER], stream=True), KEY,
        client.upstream.base_url))
    assert [json.loads(t["arguments"]) for _, t in sorted(ours["tools"].items())] == sdk_args
    assert ours["finish"] == {0: "tool_calls"}


async def test_error_statuses_map_to_sdk_classes(client, transport):
    no_retry = {"max_retries": 0}  # the SDK retries 429s with back-off by default
    with pytest.raises(TooManyRequestsError) as caught:
        await client.chat(model=MODEL, messages=[{"role": "user", "content": "[error 429]"}],
                          request_options=no_retry)
    assert caught.value.status_code == 429
    other = cohere.AsyncClientV2(api_key="nope", base_url=client.upstream.base_url,
                                 httpx_client=transport)
    with pytest.raises(UnauthorizedError):
        await other.chat(model=MODEL, messages=[{"role": "user", "content": "Hi"}],
                         request_options=no_retry)
