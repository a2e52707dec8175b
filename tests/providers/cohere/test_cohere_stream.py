"""Cohere v2 stream translation: kebab-case named events → OpenAI chunks."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from behest_local.errors import UpstreamError
from behest_local.providers.cohere.stream import Translator
from behest_local.sse import SSEEvent
from tests.providers.streams import call, check_chunks, cuts_for, recorded, run, summary

TOOLS = recorded("cohere/cohere_tools.sse")
TEXT = recorded("cohere/cohere_text.sse")
EXPECTED_TOOLS = {
    "content": {0: ""},  # the tool plan is not the answer
    "tools": {(0, 0): {"id": "get_weather_x1", "name": "get_weather",
                       "arguments": '{"city": "Paris"}'},
              (0, 1): {"id": "get_time_y2", "name": "get_time",
                       "arguments": '{"tz": "Europe/Paris"}'}},
    "finish": {0: "tool_calls"},
    # The ``tokens`` bucket, not ``billed_units`` (pitfall 12).
    "usage": {"prompt_tokens": 70, "completion_tokens": 20, "total_tokens": 90,
              "prompt_tokens_details": {"cached_tokens": 3}},
}


def make(**request):
    return lambda: Translator(call(**request))


def test_recorded_tool_stream():
    chunks = run(make(stream_options={"include_usage": True}), TOOLS)
    check_chunks(chunks, include_usage=True)
    assert summary(chunks) == EXPECTED_TOOLS
    assert chunks[0]["id"] == "5c1f"


def test_recorded_text_stream_without_done():
    chunks = run(make(), TEXT)
    check_chunks(chunks, include_usage=False)
    assert summary(chunks)["content"] == {0: "Hello wörld"}
    assert summary(chunks)["finish"] == {0: "length"}


@settings(max_examples=150, deadline=None)
@given(cuts=cuts_for(TOOLS))
def test_any_byte_split_gives_the_same_result(cuts):
    assert summary(run(make(stream_options={"include_usage": True}), TOOLS, cuts)) == \
        EXPECTED_TOOLS


@pytest.mark.parametrize(("reason", "status"), [("ERROR", 502), ("TIMEOUT", 504)])
def test_failed_message_end_raises(reason, status):
    translator = Translator(call())
    translator.feed(SSEEvent('{"type":"message-start","id":"x"}', "message-start"))
    with pytest.raises(UpstreamError) as caught:
        translator.feed(SSEEvent('{"type":"message-end","delta":{"finish_reason":"%s",'
                                 '"error":"internal server error"}}' % reason, "message-end"))
    assert caught.value.status == status
    if reason == "ERROR":
        assert caught.value.message == "internal server error"


def test_stream_cut_before_message_end_is_a_truncation():
    with pytest.raises(UpstreamError) as caught:
        run(make(), TOOLS[:TOOLS.index(b"event: message-end")])
    assert caught.value.code == "upstream_stream_truncated"


def test_thinking_content_is_skipped():
    events = [('message-start', '{"type":"message-start","id":"t"}'),
              ('content-start', '{"type":"content-start","index":0,"delta":{"message":'
                                '{"content":{"type":"thinking","thinking":""}}}}'),
              ('content-delta', '{"type":"content-delta","index":0,"delta":{"message":'
                                '{"content":{"text":"hmm"}}}}'),
              ('content-delta', '{"type":"content-delta","index":1,"delta":{"message":'
                                '{"content":{"text":"Yes"}}}}'),
              ('message-end', '{"type":"message-end","delta":{"finish_reason":"COMPLETE"}}')]
    translator = Translator(call())
    chunks = [c for name, data in events for c in translator.feed(SSEEvent(data, name))]
    assert summary(chunks + translator.finish())["content"] == {0: "Yes"}
