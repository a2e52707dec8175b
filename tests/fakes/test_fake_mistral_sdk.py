"""The official mistralai SDK against the fake Mistral API (strict fields, 9-character tool
ids, usage on the finish chunk), and the adapter reading the same answers."""

from __future__ import annotations

import json

import pytest
from mistralai.client import Mistral
from mistralai.client.errors import SDKError

from tests.fakes.conftest import KEY
from tests.fakes.test_fake_roundtrip import chat
from tests.fakes.upstream_client import exchange
from tests.providers.streams import summary

MODEL = "mistral-small-latest"
WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
MESSAGES = [{"role": "system", "content": "You are terse."}]


@pytest.fixture
async def client(fake):
    upstream = await fake("mistral")
    # The SDK appends /v1/… itself: its server_url is the origin.
    async with Mistral(api_key=KEY, server_url=upstream.origin) as sdk:
        sdk.upstream = upstream
        yield sdk


async def test_text_and_usage_match_what_the_adapter_reads(client, session):
    response = await client.chat.complete_async(model=MODEL, messages=MESSAGES + [
        {"role": "user", "content": "Hi"}])
    ours = await exchange(session, "mistral", chat("mistral", "Hi"), KEY,
                          client.upstream.base_url)
    assert response.choices[0].message.content == ours["choices"][0]["message"]["content"]
    assert response.usage.prompt_tokens == ours["usage"]["prompt_tokens"]
    assert response.usage.completion_tokens == ours["usage"]["completion_tokens"]


async def test_streamed_text_with_usage_on_the_last_chunk(client, session):
    text, usage = "", None
    stream = await client.chat.stream_async(model=MODEL, messages=MESSAGES + [
        {"role": "user", "content": "Hello"}])
    async for event in stream:
        text += event.data.choices[0].delta.content or ""
        usage = event.data.usage or usage
    ours = summary(await exchange(session, "mistral", chat(
        "mistral", "Hello", stream=True, stream_options={"include_usage": True}), KEY,
        client.upstream.base_url))
    assert text == ours["content"][0]
    assert usage.total_tokens == ours["usage"]["total_tokens"]


async def test_tool_calls_have_nine_character_ids(client, session):
    response = await client.chat.complete_async(model=MODEL, tools=[WEATHER], messages=[
        {"role": "user", "content": "Weather? [tools 2]"}])
    calls = response.choices[0].message.tool_calls
    assert all(len(c.id) == 9 and c.id.isalnum() for c in calls)
    assert response.choices[0].finish_reason == "tool_calls"
    ours = await exchange(session, "mistral", chat("mistral", "Weather? [tools 2]",
                                                   tools=[WEATHER]), KEY, client.upstream.base_url)
    assert [json.loads(c["function"]["arguments"]) for c in
            ours["choices"][0]["message"]["tool_calls"]] == [json.loads(c.function.arguments)
                                                             for c in calls]


async def test_openai_style_tool_ids_and_error_statuses(client):
    """What an untranslated OpenAI history gets from Mistral, and a 429."""
    with pytest.raises(SDKError) as caught:
        await client.chat.complete_async(model=MODEL, messages=[
            {"role": "user", "content": "x"},
            {"role": "assistant", "content": "", "tool_calls": [{"id": "call_abc123", "function": {
                "name": "get_weather", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "call_abc123", "content": "18C"}])
    assert caught.value.status_code == 400 and "length of 9" in caught.value.body
    with pytest.raises(SDKError) as caught:
        await client.chat.complete_async(model=MODEL, messages=[
            {"role": "user", "content": "[error 429]"}])
    assert caught.value.status_code == 429
