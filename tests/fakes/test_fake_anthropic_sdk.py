"""The official anthropic SDK against the fake Anthropic API: proof the fake is faithful,
and that the adapter reads the same answer the SDK reads."""

from __future__ import annotations

import json

import anthropic
import pytest

from tests.fakes.conftest import KEY
from tests.fakes.test_fake_roundtrip import chat
from tests.fakes.upstream_client import exchange
from tests.providers.streams import summary

MODEL = "claude-sonnet-4-6"
WEATHER = {"name": "get_weather", "description": "Weather for a city", "input_schema": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


@pytest.fixture
async def client(fake):
    upstream = await fake("anthropic")
    async with anthropic.AsyncAnthropic(api_key=KEY, base_url=upstream.base_url,
                                        max_retries=0) as sdk:
        sdk.upstream = upstream
        yield sdk


async def test_text_matches_what_the_adapter_reads(client, session):
    message = await client.messages.create(model=MODEL, max_tokens=100, system="You are terse.",
                                           messages=[{"role": "user", "content": "Hi [cached 2]"}])
    ours = await exchange(session, "anthropic", chat("anthropic", "Hi [cached 2]"), KEY,
                          client.upstream.base_url)
    assert message.content[0].text == ours["choices"][0]["message"]["content"]
    assert message.stop_reason == "end_turn" and ours["choices"][0]["finish_reason"] == "stop"
    u = message.usage
    assert ours["usage"]["prompt_tokens"] == (u.input_tokens + u.cache_read_input_tokens
                                              + u.cache_creation_input_tokens)
    assert ours["usage"]["completion_tokens"] == u.output_tokens
    assert ours["usage"]["prompt_tokens_details"]["cached_tokens"] == u.cache_read_input_tokens


async def test_streamed_text_with_pings(client, session):
    async with client.messages.stream(model=MODEL, max_tokens=100, system="You are terse.",
                                      messages=[{"role": "user", "content": "Hi"}]) as stream:
        text = "".join([t async for t in stream.text_stream])
        final = await stream.get_final_message()
    ours = summary(await exchange(session, "anthropic", chat("anthropic", "Hi", stream=True),
                                  KEY, client.upstream.base_url))
    assert text == ours["content"][0] == "Hello from the fake anthropic upstream. You said: Hi"
    assert final.stop_reason == "end_turn"


async def test_tool_call(client, session):
    async with client.messages.stream(
            model=MODEL, max_tokens=100, tools=[WEATHER],
            messages=[{"role": "user", "content": "Weather? [tool]"}]) as stream:
        final = await stream.get_final_message()
    tool_use = [b for b in final.content if b.type == "tool_use"]
    assert final.stop_reason == "tool_use" and tool_use[0].input == {"city": "Paris"}
    ours = await exchange(session, "anthropic", chat("anthropic", "Weather? [tool]", tools=[{
        "type": "function", "function": {"name": "get_weather",
                                         "parameters": WEATHER["input_schema"]}}]),
        KEY, client.upstream.base_url)
    call = ours["choices"][0]["message"]["tool_calls"][0]
    assert json.loads(call["function"]["arguments"]) == tool_use[0].input
    assert ours["choices"][0]["finish_reason"] == "tool_calls"


@pytest.mark.parametrize(("prompt", "error"), [
    ("[error 529]", anthropic.OverloadedError), ("[error 429]", anthropic.RateLimitError),
    ("[error 400]", anthropic.BadRequestError)])
async def test_error_statuses_map_to_sdk_classes(client, prompt, error):
    with pytest.raises(error) as caught:
        await client.messages.create(model=MODEL, max_tokens=10,
                                     messages=[{"role": "user", "content": prompt}])
    assert caught.value.body["error"]["message"]


async def test_wrong_key_and_missing_max_tokens(client):
    async with anthropic.AsyncAnthropic(api_key="nope", base_url=client.upstream.base_url,
                                        max_retries=0) as other:
        with pytest.raises(anthropic.AuthenticationError):
            await other.messages.create(model=MODEL, max_tokens=10,
                                        messages=[{"role": "user", "content": "x"}])
    with pytest.raises(anthropic.BadRequestError):
        await client.messages.create(model=MODEL, max_tokens=10, extra_body={"temperature": 1.5},
                                     messages=[{"role": "user", "content": "x"}])


async def test_mid_stream_error_event(client):
    with pytest.raises(anthropic.APIStatusError) as caught:
        async with client.messages.stream(model=MODEL, max_tokens=100, messages=[
                {"role": "user", "content": "Hi [fail 4]"}]) as stream:
            async for _ in stream:
                pass
    assert "Overloaded" in str(caught.value)
