"""Cohere v2 request, response and error translation (providers.md §8.5–8.6)."""

from __future__ import annotations

import base64
import json
import struct

import pytest

from behest_local.errors import InvalidRequestError, UpstreamError
from behest_local.providers.base import ChatCall
from behest_local.providers.cohere import transport
from behest_local.providers.cohere.translate import error_from_native, from_native, to_native
from behest_local.providers.shapes import EmbedCall

WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}}}}
TIME = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}}


def native(**request) -> dict:
    return to_native("chat", ChatCall({"model": "c", **request}, "command-a-03-2025"))


def test_renamed_fields_and_system():
    body = native(messages=[{"role": "developer", "content": "Be terse."},
                            {"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
                  top_p=0.5, temperature=0.3, max_tokens=64, stop="END", seed=3,
                  response_format={"type": "json_schema", "json_schema": {
                      "name": "x", "schema": {"type": "object"}}})
    assert body == {"model": "command-a-03-2025", "messages": [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
        "temperature": 0.3, "p": 0.5, "seed": 3, "max_tokens": 64, "stop_sequences": ["END"],
        "response_format": {"type": "json_object", "json_schema": {"type": "object"}}}


def test_tool_round_trip_puts_text_in_tool_plan():
    body = native(messages=[
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": "I will check.", "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}},
            {"id": "call_2", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city":"Lyon"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
        {"role": "tool", "tool_call_id": "call_2", "content": "16C"}], tools=[WEATHER])
    assert body["messages"][1:] == [
        {"role": "assistant", "tool_plan": "I will check.", "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}},
            {"id": "call_2", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city":"Lyon"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
        {"role": "tool", "tool_call_id": "call_2", "content": "16C"}]
    assert body["tools"] == [WEATHER] and "tool_choice" not in body


@pytest.mark.parametrize(("choice", "tools", "native_choice"), [
    ("auto", ["get_weather", "get_time"], None), ("required", ["get_weather", "get_time"],
                                                   "REQUIRED"),
    ("none", [], "NONE"),
    ({"type": "function", "function": {"name": "get_time"}}, ["get_time"], "REQUIRED")])
def test_tool_choice(choice, tools, native_choice):
    body = native(messages=[{"role": "user", "content": "x"}], tools=[WEATHER, TIME],
                  tool_choice=choice)
    assert [t["function"]["name"] for t in body.get("tools", [])] == tools
    assert body.get("tool_choice") == native_choice


@pytest.mark.parametrize(("fields", "param"), [({"n": 3}, "n"), ({"logprobs": True}, "logprobs")])
def test_unsupported_is_a_400(fields, param):
    with pytest.raises(InvalidRequestError) as caught:
        native(messages=[{"role": "user", "content": "x"}], **fields)
    assert caught.value.param == param


def test_tool_call_response():
    result = from_native("chat", {
        "id": "c14c", "finish_reason": "TOOL_CALL",
        "message": {"role": "assistant", "tool_plan": "I will look up the weather.",
                    "tool_calls": [{"id": "get_weather_x1", "type": "function", "function": {
                        "name": "get_weather", "arguments": '{"city":"Paris"}'}}]},
        "usage": {"billed_units": {"input_tokens": 5, "output_tokens": 2},
                  "tokens": {"input_tokens": 70, "output_tokens": 2}, "cached_tokens": 4}},
        ChatCall({}, "command-a"))
    choice = result["choices"][0]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] is None
    assert choice["message"]["tool_calls"][0]["id"] == "get_weather_x1"
    assert result["usage"] == {"prompt_tokens": 70, "completion_tokens": 2, "total_tokens": 72,
                               "prompt_tokens_details": {"cached_tokens": 4}}
    assert result["model"] == "command-a"


@pytest.mark.parametrize(("reason", "finish"), [("COMPLETE", "stop"), ("STOP_SEQUENCE", "stop"),
                                                ("MAX_TOKENS", "length"), ("NEW_ONE", "stop")])
def test_finish_reasons(reason, finish):
    body = {"finish_reason": reason, "message": {"content": [{"type": "text", "text": "x"}]},
            "usage": {"billed_units": {"input_tokens": 1, "output_tokens": 1}}}
    result = from_native("chat", body, None)
    assert result["choices"][0]["finish_reason"] == finish
    assert result["usage"]["prompt_tokens"] == 1  # billed_units when tokens is absent


def test_error_finish_raises():
    with pytest.raises(UpstreamError) as caught:
        from_native("chat", {"finish_reason": "TIMEOUT", "message": {}}, None)
    assert caught.value.status == 504


@pytest.mark.parametrize(("status", "expected"), [(400, 400), (429, 429), (498, 401), (500, 500)])
def test_errors(status, expected):
    body = json.dumps({"id": "x", "message": "invalid request: too many tokens"}).encode()
    error = error_from_native(status, body, {"Retry-After": "2"})
    assert (error.status, error.message) == (expected, "invalid request: too many tokens")
    assert error.headers == {"Retry-After": "2"}


def test_embeddings_with_base64_as_the_openai_sdk_asks():
    call = EmbedCall({"input": "hello", "encoding_format": "base64"}, "embed-v4.0")
    assert to_native("embed", call) == {"model": "embed-v4.0", "texts": ["hello"],
                                        "input_type": "search_document",
                                        "embedding_types": ["float"]}
    result = from_native("embed", {"embeddings": {"float": [[0.5, -1.0]]},
                                   "meta": {"billed_units": {"input_tokens": 1}}}, call)
    packed = base64.b64decode(result["data"][0]["embedding"])
    assert struct.unpack("<2f", packed) == (0.5, -1.0)
    assert result["usage"] == {"prompt_tokens": 1, "total_tokens": 1}


def test_transport():
    up = transport.request("chat", ChatCall({"messages": []}, "command-a"), "co-secret",
                           base_url="http://127.0.0.1:5")
    assert up.url == "http://127.0.0.1:5/v2/chat"
    assert up.headers["Authorization"] == "Bearer co-secret" and "co-secret" not in repr(up)
