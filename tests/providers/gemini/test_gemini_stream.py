"""Gemini stream translation: CRLF-framed ``alt=sse`` events → OpenAI chunks."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings

from behest_local.errors import UpstreamError
from behest_local.providers.gemini.stream import Translator
from behest_local.sse import SSEEvent
from tests.providers.streams import call, check_chunks, cuts_for, recorded, run, summary

TOOLS = recorded("gemini/gemini_tools.sse")
EXPECTED = {
    "content": {0: "Let me look. ☀"},  # the thought part is not content
    "tools": {(0, 0): {"id": "<id>", "name": "get_weather", "arguments": '{"city": "Paris"}'},
              (0, 1): {"id": "<id>", "name": "get_time", "arguments": '{"tz": "Europe/Paris"}'}},
    "finish": {0: "tool_calls"},  # Gemini said STOP (pitfall 3)
    # The last snapshot wins; thought tokens count as completion tokens (pitfall 10).
    "usage": {"prompt_tokens": 50, "completion_tokens": 22, "total_tokens": 72,
              "prompt_tokens_details": {"cached_tokens": 20},
              "completion_tokens_details": {"reasoning_tokens": 7}},
}


def make(**request):
    return lambda: Translator(call(**request))


def test_recorded_tool_stream():
    chunks = run(make(stream_options={"include_usage": True}), TOOLS)
    check_chunks(chunks, include_usage=True)
    assert summary(chunks, ids=False) == EXPECTED
    calls = [tc for c in chunks for ch in c["choices"] for tc in ch["delta"].get("tool_calls", [])]
    assert calls[0]["extra_content"] == {"google": {"thought_signature": "c2ln"}}
    assert calls[0]["id"] != calls[1]["id"] and calls[0]["id"].startswith("call_")


@settings(max_examples=150, deadline=None)
@given(cuts=cuts_for(TOOLS))
def test_any_byte_split_gives_the_same_result(cuts):
    chunks = run(make(stream_options={"include_usage": True}), TOOLS, cuts)
    assert summary(chunks, ids=False) == EXPECTED


def test_finish_reason_only_on_the_last_chunk():
    chunks = run(make(), TOOLS)
    reasons = [ch["finish_reason"] for c in chunks for ch in c["choices"]]
    assert reasons[:-1] == [None] * (len(reasons) - 1) and reasons[-1] == "tool_calls"


def test_body_ending_without_finish_reason_is_a_truncation():
    cut = TOOLS.rindex(b"data: ")
    with pytest.raises(UpstreamError) as caught:
        run(make(), TOOLS[:cut])
    assert caught.value.code == "upstream_stream_truncated"


def test_raw_json_error_between_events_ends_as_a_truncation():
    """Gemini's mid-stream errors are raw JSON lines, not SSE: the decoder skips them."""
    head = TOOLS[:TOOLS.index(b"data: ", 10)]
    raw = b'{\r\n  "error": {\r\n    "code": 503,\r\n    "status": "UNAVAILABLE"\r\n  }\r\n}\r\n'
    with pytest.raises(UpstreamError):
        run(make(), head + raw)


def test_error_object_in_a_data_event_raises_with_its_code():
    translator = Translator(call())
    with pytest.raises(UpstreamError) as caught:
        translator.feed(SSEEvent(json.dumps({"error": {"code": 429, "message": "Slow down",
                                                      "status": "RESOURCE_EXHAUSTED"}})))
    assert (caught.value.status, caught.value.message) == (429, "Slow down")


@pytest.mark.parametrize(("reason", "finish"), [
    ("STOP", "stop"), ("MAX_TOKENS", "length"), ("SAFETY", "content_filter"),
    ("RECITATION", "content_filter"), ("OTHER", "content_filter")])
def test_finish_reasons(reason, finish):
    event = SSEEvent(json.dumps({"candidates": [{"content": {"parts": [{"text": "x"}]},
                                                 "finishReason": reason}]}))
    translator = Translator(call())
    assert summary(translator.feed(event) + translator.finish())["finish"] == {0: finish}


def test_malformed_function_call_is_an_error_not_a_stop():
    translator = Translator(call())
    with pytest.raises(UpstreamError) as caught:
        translator.feed(SSEEvent('{"candidates":[{"finishReason":"MALFORMED_FUNCTION_CALL"}]}'))
    assert caught.value.code == "malformed_function_call"


def test_blocked_prompt_finishes_with_content_filter():
    translator = Translator(call())
    chunks = translator.feed(SSEEvent('{"promptFeedback":{"blockReason":"SAFETY"}}'))
    chunks += translator.finish()
    check_chunks(chunks, include_usage=False)
    assert summary(chunks)["finish"] == {0: "content_filter"}


def test_candidates_become_choices():
    translator = Translator(call(n=2))
    events = [{"candidates": [{"index": 0, "content": {"parts": [{"text": "a"}]}},
                              {"index": 1, "content": {"parts": [{"text": "b"}]}}]},
              {"candidates": [{"index": 0, "finishReason": "STOP"},
                              {"index": 1, "finishReason": "MAX_TOKENS"}]}]
    chunks = [c for e in events for c in translator.feed(SSEEvent(json.dumps(e)))]
    chunks += translator.finish()
    check_chunks(chunks, include_usage=False)
    result = summary(chunks)
    assert result["content"] == {0: "a", 1: "b"} and result["finish"] == {0: "stop", 1: "length"}
