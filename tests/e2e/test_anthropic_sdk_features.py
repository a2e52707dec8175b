"""Tools, thinking, stop sequences, images and cache_control on ``/v1/messages``, through
the ``anthropic`` SDK and the emulated model (which answers in Anthropic's dialect)."""

from __future__ import annotations

import json
import uuid

import anthropic
import httpx
import pytest

from behest_local import sse

MODEL = "claude-sonnet-4-5"
TOOLS = [{"name": "get_weather", "description": "Get the weather for a city",
          "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
                           "required": ["city"]}}]
WEATHER = [{"role": "user", "content": "What's the weather in Paris?"}]
PIXEL = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJ"
         "RU5ErkJggg==")


@pytest.fixture
def client(live) -> anthropic.Anthropic:
    with anthropic.Anthropic(api_key=live.key, base_url=live.url, max_retries=0) as sdk:
        yield sdk


def test_tools_round_trip_from_tool_use_to_an_answer_from_the_result(client):
    called = client.messages.create(model=MODEL, max_tokens=1024, tools=TOOLS, messages=WEATHER)
    assert called.stop_reason == "tool_use"
    use = next(b for b in called.content if b.type == "tool_use")
    assert use.name == "get_weather" and use.input == {"city": "Paris"}
    answer = client.messages.create(model=MODEL, max_tokens=1024, tools=TOOLS, messages=[
        *WEATHER, {"role": "assistant", "content": called.content},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id,
                                      "content": "18C and sunny"}]}])
    assert answer.stop_reason == "end_turn"
    assert "18C and sunny" in answer.content[0].text


def test_streamed_tool_use_arrives_as_input_json_deltas_the_sdk_parses(client, live):
    with client.messages.stream(model=MODEL, max_tokens=1024, tools=TOOLS,
                                messages=WEATHER) as stream:
        final = stream.get_final_message()
    use = next(b for b in final.content if b.type == "tool_use")
    assert final.stop_reason == "tool_use" and use.input == {"city": "Paris"}
    raw = httpx.post(live.url + "/v1/messages", headers={"x-api-key": live.key}, json={
        "model": MODEL, "max_tokens": 1024, "tools": TOOLS, "messages": WEATHER,
        "stream": True}).content
    events = [json.loads(e.data) for e in sse.decode_all(raw)]
    fragments = [e["delta"]["partial_json"] for e in events
                 if e["type"] == "content_block_delta"
                 and e["delta"]["type"] == "input_json_delta"]
    assert len(fragments) > 1 and json.loads("".join(fragments)) == {"city": "Paris"}
    starts = [e for e in events if e["type"] == "content_block_start"]
    assert [s["index"] for s in starts] == list(range(len(starts)))
    assert starts[-1]["content_block"]["input"] == {}


@pytest.mark.parametrize(("choice", "kinds"), [
    ({"type": "any"}, ["tool_use"]),
    ({"type": "tool", "name": "get_weather"}, ["tool_use"]),
    ({"type": "none"}, ["text"]),
    ({"type": "auto", "disable_parallel_tool_use": True}, ["text"]),
])
def test_tool_choice_variants(client, choice, kinds):
    reply = client.messages.create(model=MODEL, max_tokens=1024, tools=TOOLS, tool_choice=choice,
                                   messages=[{"role": "user", "content": "Hello there"}])
    assert [b.type for b in reply.content] == kinds


def test_thinking_leads_with_a_signed_block_streamed_or_not(client):
    ask = dict(model=MODEL, max_tokens=4096, thinking={"type": "enabled", "budget_tokens": 2048},
               messages=[{"role": "user", "content": "What is 2+2?"}])
    whole = client.messages.create(**ask)
    assert [b.type for b in whole.content] == ["thinking", "text"]
    assert whole.content[0].thinking and whole.content[0].signature
    with client.messages.stream(**ask) as stream:
        kinds = [e.delta.type for e in stream if e.type == "content_block_delta"]
        final = stream.get_final_message()
    assert kinds[0] == "thinking_delta" and "signature_delta" in kinds
    assert final.content[0].thinking == whole.content[0].thinking
    assert final.content[0].signature == whole.content[0].signature
    assert final.content[1].text == whole.content[1].text
    # The thinking block goes back in the history, unchanged, as the API requires.
    again = client.messages.create(**{**ask, "messages": [
        *ask["messages"], {"role": "assistant", "content": whole.content},
        {"role": "user", "content": "And 3+3?"}]})
    assert "6" in again.content[-1].text


def test_thinking_budget_must_be_below_max_tokens(client):
    with pytest.raises(anthropic.BadRequestError) as info:
        client.messages.create(model=MODEL, max_tokens=1024, messages=WEATHER,
                               thinking={"type": "enabled", "budget_tokens": 2048})
    assert "budget_tokens" in info.value.message


def test_stop_sequences_cut_the_text_and_name_the_match(client):
    ask = dict(model=MODEL, max_tokens=100, stop_sequences=["never", "="],
               messages=[{"role": "user", "content": "What is 2+2?"}])
    whole = client.messages.create(**ask)
    assert whole.stop_reason == "stop_sequence" and whole.stop_sequence == "="
    assert whole.content[0].text == "The result is 4 (2 + 2 "
    with client.messages.stream(**ask) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "stop_sequence" and final.stop_sequence == "="
    assert final.content[0].text == whole.content[0].text
    assert final.usage.output_tokens == whole.usage.output_tokens
    unmatched = client.messages.create(**{**ask, "stop_sequences": ["zebra"]})
    assert unmatched.stop_reason == "end_turn" and unmatched.stop_sequence is None


def test_images_and_cache_control_blocks_are_accepted(client):
    content = [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PIXEL}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
        {"type": "text", "text": "Describe this image.", "cache_control": {"type": "ephemeral"}}]
    reply = client.messages.create(model=MODEL, max_tokens=100,
                                   messages=[{"role": "user", "content": content}])
    assert reply.content[0].text


def test_cache_control_prefixes_are_written_then_read_by_the_emulated_model(client):
    system = [{"type": "text", "text": f"You are terse. Session {uuid.uuid4()}. " * 40,
               "cache_control": {"type": "ephemeral", "ttl": "1h"}}]
    ask = dict(model=MODEL, max_tokens=100, system=system,
               tools=[{**TOOLS[0], "cache_control": {"type": "ephemeral"}}],
               messages=[{"role": "user", "content": "Hi"}])
    first = client.messages.create(**ask).usage
    assert first.cache_read_input_tokens == 0 and first.cache_creation_input_tokens > 0
    with client.messages.stream(**ask) as stream:
        second = stream.get_final_message().usage
    assert second.cache_read_input_tokens == first.cache_creation_input_tokens
    assert second.cache_creation_input_tokens == 0
    whole = first.input_tokens + first.cache_creation_input_tokens
    assert second.input_tokens + second.cache_read_input_tokens == whole
    assert second.input_tokens < whole
    # Another system prompt after the same tool: only the tool's prefix is read.
    other = client.messages.create(**{**ask, "system": "You are terse."}).usage
    assert 0 < other.cache_read_input_tokens < first.cache_creation_input_tokens


def test_server_tools_and_unknown_fields_are_accepted(client):
    reply = client.messages.create(
        model=MODEL, max_tokens=100, messages=[{"role": "user", "content": "Hello"}],
        tools=[{"type": "web_search_20250305", "name": "web_search", "max_uses": 2}],
        extra_body={"context_management": {"edits": []}, "metadata": {"user_id": "u_1"}})
    assert reply.stop_reason == "end_turn"


def test_system_as_text_blocks_and_consecutive_user_turns(client):
    reply = client.messages.create(model=MODEL, max_tokens=100,
                                   system=[{"type": "text", "text": "Be brief."}],
                                   messages=[{"role": "user", "content": "Hello"},
                                             {"role": "user", "content": "What is 3+4?"}])
    assert "7" in reply.content[0].text


def test_mid_stream_emulated_failure_is_an_error_event(client):
    with pytest.raises(anthropic.APIStatusError) as info:
        with client.messages.stream(model=MODEL, max_tokens=100,
                                    messages=[{"role": "user", "content": "Tell me a story"}],
                                    extra_headers={"x-behest-emulate": "error_after=3"}) as stream:
            for _ in stream:
                pass
    assert info.value.body["error"]["type"] == "api_error"
