"""Anthropic stream translation: named events → OpenAI chunks, whatever the byte splits."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from behest_local.errors import UpstreamError
from behest_local.providers.anthropic.stream import Translator
from behest_local.sse import SSEEvent, encode_json
from tests.providers.streams import call, check_chunks, cuts_for, recorded, run, summary

TOOLS = recorded("anthropic/anthropic_tools.sse")
EXPECTED = {
    "content": {0: "Checking. ☀"},
    # Tool indices count tools only: the first tool is Anthropic block 1 (pitfall 1).
    "tools": {(0, 0): {"id": "toolu_01A", "name": "get_weather", "arguments": '{"city": "Paris"}'},
              (0, 1): {"id": "toolu_01B", "name": "get_time",
                       "arguments": '{"tz": "Europe/Paris"}'}},
    "finish": {0: "tool_calls"},
    # input 25 + cache write 4 + cache read 10; output is cumulative, the last value wins.
    "usage": {"prompt_tokens": 39, "completion_tokens": 40, "total_tokens": 79,
              "prompt_tokens_details": {"cached_tokens": 10, "cache_write_tokens": 4}},
}


def make(**request):
    return lambda: Translator(call(**request))


def test_recorded_tool_stream():
    chunks = run(make(stream_options={"include_usage": True}), TOOLS)
    check_chunks(chunks, include_usage=True)
    assert summary(chunks) == EXPECTED
    assert chunks[0]["id"] == "msg_1" and chunks[0]["model"] == "claude-sonnet-4-5"


def test_usage_is_hidden_unless_asked_but_still_known():
    translator = Translator(call())
    chunks = run(lambda: translator, TOOLS)
    check_chunks(chunks, include_usage=False)
    assert summary(chunks)["usage"] is None
    assert translator.usage == EXPECTED["usage"]


@settings(max_examples=150, deadline=None)
@given(cuts=cuts_for(TOOLS))
def test_any_byte_split_gives_the_same_result(cuts):
    assert summary(run(make(stream_options={"include_usage": True}), TOOLS, cuts)) == EXPECTED


def test_error_event_raises_with_the_status_its_type_implies():
    translator = Translator(call())
    translator.feed(SSEEvent('{"type":"message_start","message":{"id":"m","usage":{}}}',
                             "message_start"))
    with pytest.raises(UpstreamError) as caught:
        translator.feed(SSEEvent('{"type":"error","error":{"type":"overloaded_error",'
                                 '"message":"Overloaded"}}', "error"))
    assert caught.value.status == 529 and caught.value.message == "Overloaded"
    assert caught.value.code == "overloaded_error"


def test_stream_cut_before_message_stop_is_a_truncation():
    cut = TOOLS.index(b"event: message_delta")
    with pytest.raises(UpstreamError) as caught:
        run(make(), TOOLS[:cut])
    assert caught.value.status == 502 and caught.value.code == "upstream_stream_truncated"


@pytest.mark.parametrize(("stop_reason", "finish"), [
    ("end_turn", "stop"), ("stop_sequence", "stop"), ("pause_turn", "stop"),
    ("max_tokens", "length"), ("model_context_window_exceeded", "length"),
    ("tool_use", "tool_calls"), ("refusal", "content_filter")])
def test_finish_reason_table(stop_reason, finish):
    events = [{"type": "message_start", "message": {"id": "m", "usage": {"input_tokens": 1}}},
              {"type": "ping"}, {"type": "some_future_event", "x": 1},
              {"type": "message_delta", "delta": {"stop_reason": stop_reason},
               "usage": {"output_tokens": 2}}, {"type": "message_stop"}]
    payload = b"".join(encode_json(e, event=e["type"]) for e in events)
    assert summary(run(make(), payload))["finish"] == {0: finish}


def test_thinking_blocks_are_not_content():
    events = [{"type": "message_start", "message": {"id": "m", "usage": {}}},
              {"type": "content_block_start", "index": 0,
               "content_block": {"type": "thinking", "thinking": ""}},
              {"type": "content_block_delta", "index": 0,
               "delta": {"type": "thinking_delta", "thinking": "hmm"}},
              {"type": "content_block_delta", "index": 0,
               "delta": {"type": "signature_delta", "signature": "sig"}},
              {"type": "content_block_start", "index": 1,
               "content_block": {"type": "text", "text": ""}},
              {"type": "content_block_delta", "index": 1,
               "delta": {"type": "text_delta", "text": "Answer"}},
              {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {}},
              {"type": "message_stop"}]
    payload = b"".join(encode_json(e, event=e["type"]) for e in events)
    assert summary(run(make(), payload))["content"] == {0: "Answer"}
