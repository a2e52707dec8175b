"""The Messages dialect's translators, pure: request → chat, chat → Message and events."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from behest_local.dialects.messages_cache import PromptCache, breakpoints, total_chars
from behest_local.dialects.messages_reply import StopWatch, first_match, from_chat_completion
from behest_local.dialects.messages_request import validate_messages_request
from behest_local.dialects.messages_stream import MessagesStreamTranslator
from behest_local.dialects.messages_to_chat import reminders_as_system, to_chat_request
from behest_local.dialects.messages_wire import ERROR_STATUS, error_body, error_type
from behest_local.providers.tokens import count_tokens
from behest_local.sse import decode_all


def chunk(delta: dict | None = None, finish: str | None = None, usage: dict | None = None):
    out: dict = {"choices": [] if delta is None else [
        {"index": 0, "delta": delta, "finish_reason": finish}]}
    if usage:
        out["usage"] = usage
    return out


def events(frames: list[bytes]) -> list[dict]:
    return [json.loads(e.data) for e in decode_all(b"".join(frames))]


def test_tool_results_come_first_as_tool_messages_then_the_users_text():
    chat = to_chat_request({"model": "m", "max_tokens": 5, "system": [
        {"type": "text", "text": "A"}, {"type": "text", "text": "B"}], "messages": [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "hm", "signature": "s"},
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "toolu_1", "name": "w", "input": {"c": "P"}}]},
        {"role": "user", "content": [
            {"type": "text", "text": "thanks"},
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": [
                {"type": "text", "text": "sunny"}], "is_error": True}]}]})
    assert chat["messages"] == [
        {"role": "system", "content": "A\n\nB"},
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": "Checking.", "tool_calls": [{
            "id": "toolu_1", "type": "function",
            "function": {"name": "w", "arguments": '{"c": "P"}'}}]},
        {"role": "tool", "tool_call_id": "toolu_1", "content": "Error: sunny"},
        {"role": "user", "content": "thanks"}]


def test_tools_choice_and_options_map_to_chat():
    chat = to_chat_request({
        "model": "m", "max_tokens": 7, "temperature": 0.2, "top_k": 3, "stream": True,
        "stop_sequences": ["x"], "metadata": {"user_id": "u"},
        "tools": [{"name": "f", "input_schema": {"type": "object"}},
                  {"type": "web_search_20250305", "name": "web_search"}],
        "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
        "messages": [{"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                         "data": "AA=="}}]}]})
    assert chat["tools"] == [{"type": "function", "function": {
        "name": "f", "parameters": {"type": "object"}}}]
    assert chat["tool_choice"] == "required" and chat["parallel_tool_calls"] is False
    assert chat["max_tokens"] == 7 and chat["temperature"] == 0.2 and chat["stream"] is True
    assert "top_k" not in chat and "stop" not in chat and chat["user"] == "u"
    assert chat["messages"][0]["content"] == [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}}]


@given(st.text("ab=", max_size=30), st.lists(st.integers(1, 5), max_size=10))
def test_stopwatch_finds_the_same_match_however_the_text_is_cut(text, cuts):
    sequences = ["ab=", "=b", "bb"]
    watch, sent, start = StopWatch(sequences), "", 0
    for size in [*cuts, len(text)]:
        sent += watch.feed(text[start:start + size])
        start += size
        if watch.matched:
            break
    if not watch.matched:
        sent += watch.flush()
    at, matched = first_match(text, sequences)
    assert watch.matched == matched and sent == text[:at]


def test_stream_blocks_are_dense_one_open_at_a_time_and_end_with_usage():
    translator = MessagesStreamTranslator(message_id="msg_1", model="m", input_tokens=9,
                                          count=count_tokens)
    frames = translator.start()
    for part in (chunk({"role": "assistant", "content": ""}), chunk({"content": "Hi"}),
                 chunk({"tool_calls": [{"index": 0, "id": "t1", "function": {
                     "name": "f", "arguments": ""}}]}),
                 chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"a":'}}]}),
                 chunk({"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]}),
                 chunk({}, "tool_calls"),
                 chunk(usage={"prompt_tokens": 9, "completion_tokens": 4})):
        frames += translator.feed(part)
    frames += translator.finish()
    out = events(frames)
    assert [e["type"] for e in out] == [
        "message_start", "content_block_start", "ping", "content_block_delta",
        "content_block_stop", "content_block_start", "content_block_delta",
        "content_block_delta", "content_block_stop", "message_delta", "message_stop"]
    assert [e["index"] for e in out if "index" in e] == [0, 0, 0, 1, 1, 1, 1]
    assert out[-2]["delta"] == {"stop_reason": "tool_use", "stop_sequence": None}
    assert out[-2]["usage"]["output_tokens"] == 4 and out[-2]["usage"]["input_tokens"] == 9


def test_upstream_reasoning_becomes_a_thinking_block_only_when_asked():
    for want, kinds in ((True, ["thinking", "text"]), (False, ["text"])):
        translator = MessagesStreamTranslator(message_id="msg_1", model="m", input_tokens=1,
                                              want_reasoning=want, count=count_tokens)
        frames = translator.start() + translator.feed(chunk({"reasoning_content": "hmm"})) \
            + translator.feed(chunk({"content": "ok"}, "stop")) + translator.finish()
        starts = [e["content_block"]["type"] for e in events(frames)
                  if e["type"] == "content_block_start"]
        assert starts == kinds


def test_whole_reply_matches_what_the_stream_accumulates():
    completion = {"choices": [{"message": {"content": "Hello", "tool_calls": [
        {"id": "t", "function": {"name": "f", "arguments": ""}}]}, "finish_reason": "tool_calls"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 3,
                  "prompt_tokens_details": {"cached_tokens": 4}}}
    reply = from_chat_completion(completion, message_id="msg_1", model="m", thinking="")
    assert reply["content"] == [{"type": "text", "text": "Hello", "citations": None},
                                {"type": "tool_use", "id": "t", "name": "f", "input": {}}]
    assert reply["stop_reason"] == "tool_use" and reply["stop_sequence"] is None
    assert reply["usage"]["input_tokens"] == 6 and reply["usage"]["cache_read_input_tokens"] == 4


def test_error_envelope_and_types_by_status():
    assert error_body(529, "busy", "req_1") == {
        "type": "error", "error": {"type": "overloaded_error", "message": "busy"},
        "request_id": "req_1"}
    assert error_type(503) == "api_error" and error_type(422) == "invalid_request_error"
    assert ERROR_STATUS["rate_limit_error"] == 429


def test_claude_codes_mid_conversation_system_turns_and_reminders():
    body = {"model": "m", "max_tokens": 5, "messages": [
        {"role": "user", "content": [
            {"type": "text", "text": "<system-reminder>\nctx\n</system-reminder>"},
            {"type": "text", "text": "What is 2+2?"}]},
        {"role": "system", "content": [{"type": "text", "text": "Be brief."}]}]}
    chat = to_chat_request(validate_messages_request(body))
    assert chat["messages"][1] == {"role": "system", "content": "Be brief."}
    assert reminders_as_system(chat)["messages"][:2] == [
        {"role": "system", "content": "ctx"}, {"role": "user", "content": "What is 2+2?"}]


def test_prompt_cache_reads_the_longest_live_prefix_and_expires_by_ttl():
    body = {"model": "m", "system": [{"type": "text", "text": "s" * 100,
                                      "cache_control": {"type": "ephemeral"}}],
            "messages": [{"role": "user", "content": "hi"}], "cache_control": {"type": "ephemeral"}}
    points = breakpoints(body)
    assert len(points) == 2 and points[0].chars < points[1].chars == total_chars(body)
    cache = PromptCache()
    assert cache.use(points, 0) == (0, points[1].chars)
    assert cache.use(points, 299) == (points[1].chars, 0)
    longer = breakpoints({**body, "messages": [{"role": "user", "content": "bye"}]})
    assert cache.use(longer, 300) == (points[0].chars, longer[1].chars - points[0].chars)
    assert cache.use(points, 10_000) == (0, points[1].chars)  # five minutes are long gone
    assert breakpoints({"model": "m", "messages": [{"role": "user", "content": "x"}]}) == []
