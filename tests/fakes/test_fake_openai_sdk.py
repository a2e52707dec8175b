"""The official openai SDK against the fake OpenAI and OpenRouter APIs (usage chunk, tool
argument fragments, SSE comments, in-stream errors), and the adapter reading the same."""

from __future__ import annotations

import json

import openai
import pytest

from tests.fakes.conftest import KEY
from tests.fakes.test_fake_roundtrip import chat
from tests.fakes.upstream_client import exchange
from tests.providers.streams import summary

WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
MESSAGES = [{"role": "system", "content": "You are terse."}]


@pytest.fixture(params=["openai", "openrouter"])
async def client(request, fake):
    upstream = await fake(request.param)
    async with openai.AsyncOpenAI(api_key=KEY, base_url=upstream.base_url, max_retries=0) as sdk:
        sdk.upstream = upstream
        yield sdk


def model(client) -> str:
    return {"openai": "gpt-4o-mini", "openrouter": "openai/gpt-4o-mini"}[client.upstream.provider]


async def test_text_and_usage_match_what_the_adapter_reads(client, session):
    provider = client.upstream.provider
    response = await client.chat.completions.create(model=model(client), messages=MESSAGES + [
        {"role": "user", "content": "Hi [cached 2] [think 3]"}])
    ours = await exchange(session, provider, chat(provider, "Hi [cached 2] [think 3]"), KEY,
                          client.upstream.base_url)
    assert response.choices[0].message.content == ours["choices"][0]["message"]["content"]
    assert response.usage.model_dump(exclude_none=True) == ours["usage"]


async def test_stream_with_usage_chunk_and_comments(client, session):
    provider = client.upstream.provider
    stream = await client.chat.completions.create(
        model=model(client), stream=True, stream_options={"include_usage": True},
        messages=MESSAGES + [{"role": "user", "content": "Hello"}])
    text, usage = "", None
    async for chunk in stream:
        usage = chunk.usage or usage
        text += "".join(c.delta.content or "" for c in chunk.choices)
    ours = summary(await exchange(session, provider, chat(
        provider, "Hello", stream=True, stream_options={"include_usage": True}), KEY,
        client.upstream.base_url))
    assert text == ours["content"][0] and usage.model_dump(exclude_none=True) == ours["usage"]


async def test_streamed_parallel_tool_calls(client, session):
    provider = client.upstream.provider
    stream = await client.chat.completions.create(
        model=model(client), stream=True, tools=[WEATHER],
        messages=[{"role": "user", "content": "Weather? [tools 2]"}])
    calls: dict[int, str] = {}
    finish = None
    async for chunk in stream:
        for choice in chunk.choices:
            finish = choice.finish_reason or finish
            for tc in choice.delta.tool_calls or []:
                calls[tc.index] = calls.get(tc.index, "") + (tc.function.arguments or "")
    assert finish == "tool_calls"
    assert [json.loads(calls[i]) for i in sorted(calls)] == [{"city": "Paris"}] * 2
    ours = summary(await exchange(session, provider, chat(
        provider, "Weather? [tools 2]", tools=[WEATHER], stream=True), KEY,
        client.upstream.base_url))
    assert {i: t["arguments"] for (_, i), t in ours["tools"].items()} == calls


@pytest.mark.parametrize(("prompt", "error"), [
    ("[error 429]", openai.RateLimitError), ("[error 500]", openai.InternalServerError),
    ("[error 400]", openai.BadRequestError)])
async def test_error_statuses_map_to_sdk_classes(client, prompt, error):
    with pytest.raises(error):
        await client.chat.completions.create(model=model(client), messages=[
            {"role": "user", "content": prompt}])


async def test_wrong_key(client):
    async with openai.AsyncOpenAI(api_key="nope", base_url=client.upstream.base_url,
                                  max_retries=0) as other:
        with pytest.raises(openai.AuthenticationError):
            await other.models.list()


async def test_mid_stream_error_raises_api_error(client):
    stream = await client.chat.completions.create(model=model(client), stream=True, messages=[
        {"role": "user", "content": "Hello [fail 3]"}])
    with pytest.raises(openai.APIError):
        async for _ in stream:
            pass
