"""Adapters against the fakes: each provider's native wire, translated both ways.

These run the round trip the gateway's relay will run (``upstream_client.exchange``): the
adapter builds the native request, the fake checks it as the real API would (auth, field
names, tool-result placement, schema keywords, tool-call id format), and the answer comes
back as OpenAI chat completions, streamed or not.
"""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from behest_local.errors import UpstreamError
from behest_local.providers.base import ChatCall
from behest_local.providers.registry import ADAPTERS
from behest_local.sse import SSEDecoder
from tests.fakes.conftest import KEY
from tests.fakes.upstream_client import exchange
from tests.providers.streams import check_chunks, summary

MODELS = {"openai": "gpt-4o-mini", "mistral": "mistral-small-latest",
          "openrouter": "openai/gpt-4o-mini", "anthropic": "claude-sonnet-4-6",
          "gemini": "gemini-2.5-flash", "cohere": "command-a-03-2025"}
PROVIDERS = list(MODELS)
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city", "strict": True,
    "parameters": {"type": "object", "additionalProperties": False,
                   "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


def chat(provider: str, content: str, **extra) -> ChatCall:
    body = {"model": MODELS[provider], "messages": [
        {"role": "system", "content": "You are terse."}, {"role": "user", "content": content}],
        **extra}
    return ChatCall(body, MODELS[provider])


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_streamed_reply_equals_unstreamed_reply(fake, session, provider):
    upstream = await fake(provider)
    whole = await exchange(session, provider, chat(provider, "Hi there"), KEY, upstream.base_url)
    chunks = await exchange(session, provider, chat(provider, "Hi there", stream=True,
                                                    stream_options={"include_usage": True}),
                            KEY, upstream.base_url)
    check_chunks(chunks, include_usage=True)
    text = whole["choices"][0]["message"]["content"]
    assert text == f"Hello from the fake {provider} upstream. You said: Hi there"
    assert summary(chunks) == {"content": {0: text}, "tools": {}, "finish": {0: "stop"},
                               "usage": whole["usage"]}
    assert whole["usage"]["total_tokens"] == (whole["usage"]["prompt_tokens"]
                                              + whole["usage"]["completion_tokens"])
    seen = upstream.state.requests[-1]
    assert seen.auth_ok and KEY not in json.dumps(seen.headers)


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("stream", [False, True])
async def test_parallel_tool_calls_and_their_results_round_trip(fake, session, provider, stream):
    upstream = await fake(provider)
    first = await exchange(session, provider, chat(provider, "Weather in Paris? [tools 2]",
                                                   tools=[WEATHER], stream=stream),
                           KEY, upstream.base_url)
    if stream:
        check_chunks(first, include_usage=False)
        result = summary(first)
        assert result["finish"] == {0: "tool_calls"}
        calls = [{"id": t["id"], "type": "function", "function": {
            "name": t["name"], "arguments": t["arguments"]}} for _, t in sorted(result["tools"].items())]
        assert sorted(result["tools"]) == [(0, 0), (0, 1)]
    else:
        assert first["choices"][0]["finish_reason"] == "tool_calls"
        calls = first["choices"][0]["message"]["tool_calls"]
    assert [json.loads(c["function"]["arguments"]) for c in calls] == [{"city": "Paris"}] * 2
    assert len({c["id"] for c in calls}) == 2
    history = chat(provider, "Weather in Paris? [tools 2]").request["messages"] + [
        {"role": "assistant", "content": None, "tool_calls": calls},
        {"role": "tool", "tool_call_id": calls[0]["id"], "content": "18C"},
        {"role": "tool", "tool_call_id": calls[1]["id"], "content": "19C"}]
    second = await exchange(session, provider, ChatCall(
        {"model": MODELS[provider], "messages": history, "tools": [WEATHER]}, MODELS[provider]),
        KEY, upstream.base_url)
    assert second["choices"][0]["finish_reason"] == "stop"
    assert "18C" in second["choices"][0]["message"]["content"]


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("status", [429, 500])
async def test_native_errors_keep_status_and_message(fake, session, provider, status):
    upstream = await fake(provider)
    with pytest.raises(UpstreamError) as caught:
        await exchange(session, provider, chat(provider, f"[error {status}]"), KEY,
                       upstream.base_url)
    assert caught.value.status == status and caught.value.message


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_wrong_key_is_a_401(fake, session, provider):
    upstream = await fake(provider)
    with pytest.raises(UpstreamError) as caught:
        await exchange(session, provider, chat(provider, "hi"), "wrong", upstream.base_url)
    assert caught.value.status == 401  # Gemini's 400 API_KEY_INVALID included
    assert upstream.state.requests[-1].auth_ok is False


async def test_anthropic_overload_is_529(fake, session):
    upstream = await fake("anthropic")
    with pytest.raises(UpstreamError) as caught:
        await exchange(session, "anthropic", chat("anthropic", "[error 529]"), KEY,
                       upstream.base_url)
    assert (caught.value.status, caught.value.code) == (529, "overloaded_error")


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_mid_stream_failure_raises_after_some_chunks(fake, session, provider):
    upstream = await fake(provider)
    with pytest.raises(UpstreamError):
        await exchange(session, provider, chat(provider, "Tell me [fail 4]", stream=True), KEY,
                       upstream.base_url)


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_truncated_stream_is_an_error_never_a_clean_end(fake, session, provider):
    upstream = await fake(provider)
    with pytest.raises((UpstreamError, aiohttp.ClientPayloadError)):
        await exchange(session, provider, chat(provider, "Tell me [truncate 4]", stream=True),
                       KEY, upstream.base_url)


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_token_limit_gives_length(fake, session, provider):
    upstream = await fake(provider)
    whole = await exchange(session, provider, chat(provider, "Hi there", max_tokens=3), KEY,
                           upstream.base_url)
    assert whole["choices"][0]["finish_reason"] == "length"
    assert whole["usage"]["completion_tokens"] == 3


@pytest.mark.parametrize(("provider", "cached", "reasoning"), [
    ("openai", 4, 5), ("anthropic", 4, None), ("gemini", 4, 5), ("cohere", 4, None)])
async def test_cached_and_reasoning_tokens_reach_openai_usage(fake, session, provider, cached,
                                                              reasoning):
    upstream = await fake(provider)
    whole = await exchange(session, provider, chat(provider, "Hi [cached 4] [think 5]"), KEY,
                           upstream.base_url)
    usage = whole["usage"]
    assert usage["prompt_tokens_details"]["cached_tokens"] == cached
    if reasoning is not None:
        assert usage["completion_tokens_details"]["reasoning_tokens"] == reasoning


@pytest.mark.parametrize("provider", ["anthropic", "gemini", "cohere", "openai"])
async def test_client_disconnect_mid_stream_is_seen_by_the_fake(fake, session, provider):
    """The fake holds after 2 frames; the client reads what came and hangs up."""
    upstream = await fake(provider)
    call = chat(provider, "Tell me a story [hold 2]", stream=True)
    up = ADAPTERS[provider].request("chat", call, KEY, base_url=upstream.base_url)
    response = await session.post(up.url, headers=up.headers, json=up.json)
    decoder, translator = SSEDecoder(), ADAPTERS[provider].translator(call)
    first = b""
    while not decoder.feed(first):  # wait for a first whole event, however it is split
        first = await response.content.readany()
    await upstream.state.stream_started.wait()
    response.close()
    await asyncio.wait_for(upstream.state.disconnected.wait(), 5)
    assert translator is not None


@pytest.mark.parametrize("provider", ["openai", "mistral", "gemini", "cohere"])
async def test_embeddings(fake, session, provider):
    from behest_local.providers.registry import EmbedCall
    upstream = await fake(provider)
    model = {"openai": "text-embedding-3-small", "mistral": "mistral-embed",
             "gemini": "gemini-embedding-001", "cohere": "embed-v4.0"}[provider]
    result = await exchange(session, provider, EmbedCall(
        {"input": ["alpha", "beta"], "encoding_format": "float", "dimensions": 4}, model),
        KEY, upstream.base_url, op="embed")
    assert [d["index"] for d in result["data"]] == [0, 1]
    assert all(len(d["embedding"]) == 4 for d in result["data"])


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_models_list(fake, session, provider):
    upstream = await fake(provider)
    result = await exchange(session, provider, None, KEY, upstream.base_url, op="models")
    assert result["object"] == "list" and result["data"]
    assert all(m["object"] == "model" and m["id"] for m in result["data"])


async def test_custom_profile_talks_to_an_openai_compatible_server(fake, session):
    upstream = await fake("openai")
    whole = await exchange(session, "custom", chat("openai", "Hi"), KEY, upstream.base_url)
    assert whole["choices"][0]["message"]["content"].endswith("You said: Hi")
