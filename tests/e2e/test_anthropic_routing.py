"""``/v1/messages`` with real providers behind: a Claude model relayed natively to the fake
Anthropic API, any other model translated to its provider (the fake OpenAI API here) and
back, streamed and not. The ``anthropic`` SDK is the client in every case, as Claude Code
pointed at behest-local would be."""

from __future__ import annotations

import anthropic
import pytest

TOOLS = [{"name": "get_weather", "description": "Get the weather",
          "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
                           "required": ["city"]}}]


def sdk(setup) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(api_key=setup.client.key["Authorization"].split()[1],
                                    base_url=str(setup.client.make_url("")), max_retries=0)


async def test_claude_model_is_relayed_natively_body_and_headers_untouched(byok):
    setup = await byok("anthropic")
    async with sdk(setup) as client:
        message = await client.messages.create(
            model=setup.model, max_tokens=200, system="Be brief.",
            messages=[{"role": "user", "content": "Hello there"}],
            metadata={"user_id": "user_abc"}, extra_headers={"anthropic-beta": "b1,b2"},
            extra_body={"context_management": {"edits": []}, "service_tier": "standard_only"})
    assert "Hello from the fake anthropic upstream" in message.content[0].text
    sent = setup.state.requests[-1]
    assert sent.auth_ok and sent.path == "/v1/messages"
    # Passed through, not round-tripped through chat: fields chat has no place for survive.
    assert sent.body["service_tier"] == "standard_only"
    assert sent.body["context_management"] == {"edits": []}
    assert sent.body["metadata"] == {"user_id": "user_abc"} and sent.body["system"] == "Be brief."
    assert sent.headers["anthropic-beta"] == "b1,b2"
    assert sent.headers["anthropic-version"] == "2026-10-21"  # the SDK's, forwarded
    exchange = setup.gateway.store.find(setup.recorder.events[-1].exchange_id)
    assert exchange.provider == "anthropic" and exchange.prompt_tokens > 0
    assert exchange.completion_tokens == message.usage.output_tokens


async def test_native_stream_relays_anthropics_events_and_meters_them(byok):
    setup = await byok("anthropic")
    async with sdk(setup) as client:
        async with client.messages.stream(
                model=setup.model, max_tokens=200, tools=TOOLS,
                messages=[{"role": "user", "content": "weather in Paris [tool]"}]) as stream:
            names = [event.type async for event in stream]
            final = await stream.get_final_message()
    assert names[0] == "message_start" and names[-1] == "message_stop"
    assert final.stop_reason == "tool_use"
    use = next(b for b in final.content if b.type == "tool_use")
    assert use.name == "get_weather" and use.input
    assert setup.state.requests[-1].body["stream"] is True
    exchange = setup.gateway.store.find(setup.recorder.events[-1].exchange_id)
    assert exchange.completion_tokens == final.usage.output_tokens


async def test_native_upstream_errors_keep_their_status_and_type(byok):
    setup = await byok("anthropic")
    async with sdk(setup) as client:
        with pytest.raises(anthropic.OverloadedError):
            await client.messages.create(model=setup.model, max_tokens=50, messages=[
                {"role": "user", "content": "[error 529]"}])
        with pytest.raises(anthropic.RateLimitError):
            await client.messages.create(model=setup.model, max_tokens=50, messages=[
                {"role": "user", "content": "[error 429]"}])
        with pytest.raises(anthropic.APIStatusError) as info:
            async with client.messages.stream(model=setup.model, max_tokens=50, messages=[
                    {"role": "user", "content": "tell me a story [fail 3]"}]) as stream:
                async for _ in stream:
                    pass
    assert info.value.body["error"]["type"] == "overloaded_error"


async def test_native_count_tokens_asks_anthropic(byok):
    setup = await byok("anthropic")
    async with sdk(setup) as client:
        count = await client.messages.count_tokens(model=setup.model, messages=[
            {"role": "user", "content": "Hello there"}])
    assert count.input_tokens > 0
    assert setup.state.requests[-1].path == "/v1/messages/count_tokens"


async def test_other_providers_are_translated_streaming_included(byok):
    setup = await byok("openai")
    async with sdk(setup) as client:
        message = await client.messages.create(model=setup.model, max_tokens=200, messages=[
            {"role": "user", "content": "Hello there"}])
        async with client.messages.stream(model=setup.model, max_tokens=200, messages=[
                {"role": "user", "content": "Hello there"}]) as stream:
            final = await stream.get_final_message()
        called = await client.messages.create(model=setup.model, max_tokens=200, tools=TOOLS,
                                              messages=[{"role": "user",
                                                         "content": "weather [tool]"}])
        with pytest.raises(anthropic.RateLimitError):
            await client.messages.create(model=setup.model, max_tokens=50, messages=[
                {"role": "user", "content": "[error 429]"}])
    assert "Hello from the fake openai upstream" in message.content[0].text
    assert final.content[0].text == message.content[0].text
    assert final.usage.output_tokens == message.usage.output_tokens > 0
    chat = setup.state.requests[1].body
    assert chat["messages"] == [{"role": "user", "content": "Hello there"}]
    assert chat["max_tokens"] == 200 and chat["stream"] is True
    assert called.stop_reason == "tool_use"
    assert next(b for b in called.content if b.type == "tool_use").name == "get_weather"
