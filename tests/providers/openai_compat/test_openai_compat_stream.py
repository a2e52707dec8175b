"""OpenAI-compatible stream repair: OpenAI, Mistral and OpenRouter chunks → clean chunks."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from behest_local.errors import UpstreamError
from behest_local.providers.openai_compat.stream import Translator
from behest_local.providers.openai_compat.transport import CUSTOM, MISTRAL, OPENAI, OPENROUTER
from behest_local.sse import SSEEvent
from tests.providers.streams import call, check_chunks, cuts_for, recorded, run, summary

OPENAI_TOOLS = recorded("openai_compat/openai_tools.sse")
MISTRAL_TOOLS = recorded("openai_compat/mistral_tools.sse")
OPENROUTER_TEXT = recorded("openai_compat/openrouter_text.sse")
OPENAI_EXPECTED = {
    "content": {0: "Checking."},
    "tools": {(0, 0): {"id": "call_a1", "name": "get_weather", "arguments": '{"city": "Paris"}'},
              (0, 1): {"id": "call_b2", "name": "get_time", "arguments": '{"tz": "Europe/Paris"}'}},
    "finish": {0: "tool_calls"},
    "usage": {"prompt_tokens": 40, "completion_tokens": 22, "total_tokens": 62,
              "prompt_tokens_details": {"cached_tokens": 8},
              "completion_tokens_details": {"reasoning_tokens": 5}},
}
MISTRAL_EXPECTED = {
    "content": {0: "Sure."},
    # Both calls came at upstream index 0; each new id opens the next OpenAI index.
    "tools": {(0, 0): {"id": "a1B2c3D4e", "name": "get_weather", "arguments": '{"city": "Paris"}'},
              (0, 1): {"id": "Z9y8X7w6v", "name": "get_weather", "arguments": '{"city": "Lyon"}'}},
    "finish": {0: "tool_calls"},
    "usage": {"prompt_tokens": 10, "completion_tokens": 30, "total_tokens": 40},
}
CASES = {"openai": (OPENAI, OPENAI_TOOLS, OPENAI_EXPECTED),
         "mistral": (MISTRAL, MISTRAL_TOOLS, MISTRAL_EXPECTED),
         "openrouter": (OPENROUTER, OPENROUTER_TEXT, {
             "content": {0: "Hi there, é ✓"}, "tools": {}, "finish": {0: "stop"},
             "usage": {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13}})}


def make(profile, **request):
    return lambda: Translator(call(**request), profile)


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("include_usage", [True, False])
def test_recorded_streams(name, include_usage):
    profile, payload, expected = CASES[name]
    translator = Translator(call(stream_options={"include_usage": include_usage}), profile)
    chunks = run(lambda: translator, payload)
    check_chunks(chunks, include_usage=include_usage)
    assert summary(chunks) == {**expected, "usage": expected["usage"] if include_usage else None}
    assert translator.usage == expected["usage"]  # known to the gateway either way


@pytest.mark.parametrize("name", CASES)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_any_byte_split_gives_the_same_result(name, data):
    profile, payload, expected = CASES[name]
    cuts = data.draw(cuts_for(payload))
    assert summary(run(make(profile, stream_options={"include_usage": True}), payload, cuts)) \
        == expected


def test_openrouter_comments_never_become_chunks():
    chunks = run(make(OPENROUTER), OPENROUTER_TEXT)
    assert all("OPENROUTER" not in json.dumps(c) for c in chunks)
    assert chunks[0]["provider"] == "Anthropic"  # extras pass through


def test_openai_in_stream_error_raises():
    translator = Translator(call(), OPENAI)
    with pytest.raises(UpstreamError) as caught:
        translator.feed(SSEEvent('{"error":{"message":"The server had an error","type":'
                                 '"server_error"}}'))
    assert caught.value.message == "The server had an error" and caught.value.status == 502


def test_openrouter_finish_reason_error_raises_with_its_message():
    chunk = {"id": "gen-1", "object": "chat.completion.chunk", "created": 1, "model": "m",
             "error": {"code": "server_error", "message": "Provider disconnected unexpectedly"},
             "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}]}
    with pytest.raises(UpstreamError) as caught:
        Translator(call(), OPENROUTER).feed(SSEEvent(json.dumps(chunk)))
    assert caught.value.message == "Provider disconnected unexpectedly"


def test_missing_done_after_every_choice_finished_is_accepted():
    """Some local servers (``custom``) end without ``[DONE]``."""
    payload = OPENROUTER_TEXT.replace(b"data: [DONE]\n\n", b"")
    assert summary(run(make(CUSTOM), payload))["finish"] == {0: "stop"}


def test_missing_done_and_finish_is_a_truncation():
    cut = OPENAI_TOOLS.index(b'"finish_reason":"tool_calls"')
    cut = OPENAI_TOOLS.rindex(b"data: ", 0, cut)
    with pytest.raises(UpstreamError) as caught:
        run(make(OPENAI), OPENAI_TOOLS[:cut])
    assert caught.value.code == "upstream_stream_truncated"


def test_model_length_maps_to_length():
    chunk = {"id": "c", "model": "m", "choices": [{"index": 0, "delta": {"content": "x"},
                                                   "finish_reason": "model_length"}]}
    out = Translator(call(), MISTRAL).feed(SSEEvent(json.dumps(chunk)))
    assert out[0]["choices"][0]["finish_reason"] == "length"
    assert out[0]["object"] == "chat.completion.chunk" and out[0]["created"] > 0
