"""Anthropic request, response and error translation (providers.md §6.5–6.7)."""

from __future__ import annotations

import json

import pytest

from behest_local.errors import InvalidRequestError
from behest_local.providers.anthropic import transport
from behest_local.providers.anthropic.translate import error_from_native, from_native, to_native
from behest_local.providers.base import ChatCall
from behest_local.secret import Secret

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}


def native(**request) -> dict:
    body = {"model": "gpt-ish", **request}
    return to_native("chat", ChatCall(body, "claude-sonnet-4-5"))


def test_system_messages_anywhere_become_top_level_system():
    body = native(messages=[{"role": "system", "content": "Be terse."},
                            {"role": "user", "content": "Hi"},
                            {"role": "developer", "content": [{"type": "text", "text": "No emoji."}]}],
                  max_tokens=64, temperature=0.2, stop="END")
    assert body == {"model": "claude-sonnet-4-5", "system": "Be terse.\n\nNo emoji.",
                    "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 64,
                    "temperature": 0.2, "stop_sequences": ["END"]}


def test_max_tokens_defaults_and_prefers_max_completion_tokens():
    assert native(messages=[{"role": "user", "content": "x"}])["max_tokens"] == 4096
    assert native(messages=[{"role": "user", "content": "x"}], max_tokens=10,
                  max_completion_tokens=20)["max_tokens"] == 20


def test_tool_round_trip_with_parallel_calls_and_merged_results():
    body = native(messages=[
        {"role": "user", "content": "Weather in Paris and Lyon?"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}},
            {"id": "call_2", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city":"Lyon"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
        {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "16C"}]},
        {"role": "user", "content": "Thanks. Which is warmer?"}],
        tools=[WEATHER], tool_choice="auto", parallel_tool_calls=False)
    assert body["messages"] == [
        {"role": "user", "content": "Weather in Paris and Lyon?"},
        # No empty text block (pitfall 14).
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "call_2", "name": "get_weather", "input": {"city": "Lyon"}}]},
        # All results in the next message, tool results first (pitfall 15).
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "call_1", "content": "18C"},
            {"type": "tool_result", "tool_use_id": "call_2", "content": "16C"},
            {"type": "text", "text": "Thanks. Which is warmer?"}]}]
    assert body["tools"] == [{"name": "get_weather", "description": "Weather for a city",
                              "input_schema": WEATHER["function"]["parameters"]}]
    assert body["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}


@pytest.mark.parametrize(("choice", "expected"), [
    ("auto", {"type": "auto"}), ("required", {"type": "any"}), ("none", {"type": "none"}),
    ({"type": "function", "function": {"name": "get_weather"}},
     {"type": "tool", "name": "get_weather"})])
def test_tool_choice_table(choice, expected):
    body = native(messages=[{"role": "user", "content": "x"}], tools=[WEATHER], tool_choice=choice)
    assert body["tool_choice"] == expected


def test_images_user_and_response_format():
    body = native(messages=[{"role": "user", "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}}]}],
        user="user-42", stream=True,
        response_format={"type": "json_schema", "json_schema": {
            "name": "answer", "schema": {"type": "object", "properties": {}}}})
    assert body["messages"][0]["content"][1:] == [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0"}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}}]
    assert body["metadata"] == {"user_id": "user-42"} and body["stream"] is True
    assert body["output_config"] == {"format": {"type": "json_schema",
                                                "schema": {"type": "object", "properties": {}}}}
    # Anthropic rejects e-mail user ids; whitespace-only stops are a 400 too.
    assert "metadata" not in native(messages=[{"role": "user", "content": "x"}], user="a@b.c")
    assert "stop_sequences" not in native(messages=[{"role": "user", "content": "x"}], stop=[" "])


@pytest.mark.parametrize(("request_fields", "param"), [
    ({"n": 2}, "n"), ({"logprobs": True}, "logprobs"), ({"temperature": 1.5}, "temperature"),
    ({"response_format": {"type": "json_object"}}, "response_format")])
def test_what_cannot_be_expressed_is_a_400(request_fields, param):
    with pytest.raises(InvalidRequestError) as caught:
        native(messages=[{"role": "user", "content": "x"}], **request_fields)
    assert caught.value.param == param


def test_bad_tool_arguments_name_the_field():
    with pytest.raises(InvalidRequestError) as caught:
        native(messages=[{"role": "assistant", "tool_calls": [
            {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{oops"}}]}])
    assert caught.value.param == "messages[0].tool_calls[0].function.arguments"


def test_response_with_text_and_tool_use():
    result = from_native("chat", {
        "id": "msg_01X", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5-2025",
        "content": [{"type": "text", "text": "Checking."},
                    {"type": "tool_use", "id": "toolu_01A", "name": "get_weather",
                     "input": {"city": "Paris"}}],
        "stop_reason": "tool_use", "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 5, "cache_creation_input_tokens": 2,
                  "cache_read_input_tokens": 30}})
    assert result["id"] == "msg_01X" and result["object"] == "chat.completion"
    choice = result["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] == "Checking."
    assert choice["message"]["tool_calls"] == [{"id": "toolu_01A", "type": "function", "function": {
        "name": "get_weather", "arguments": json.dumps({"city": "Paris"})}}]
    assert result["usage"] == {"prompt_tokens": 42, "completion_tokens": 5, "total_tokens": 47,
                               "prompt_tokens_details": {"cached_tokens": 30,
                                                         "cache_write_tokens": 2}}


def test_tool_only_response_has_null_content():
    result = from_native("chat", {"id": "m", "content": [
        {"type": "tool_use", "id": "t", "name": "f", "input": {}}], "stop_reason": "tool_use",
        "usage": {"input_tokens": 1, "output_tokens": 1}})
    assert result["choices"][0]["message"]["content"] is None


@pytest.mark.parametrize(("status", "kind"), [
    (400, "invalid_request_error"), (401, "authentication_error"), (429, "rate_limit_error"),
    (500, "api_error"), (529, "overloaded_error")])
def test_errors_keep_status_and_message(status, kind):
    body = json.dumps({"type": "error", "error": {"type": kind, "message": f"boom {status}"},
                       "request_id": "req_1"}).encode()
    error = error_from_native(status, body, {"retry-after": "3", "request-id": "req_1"})
    assert (error.status, error.message, error.code) == (status, f"boom {status}", kind)
    assert error.headers == {"retry-after": "3"}
    assert error.to_openai()["error"]["type"] == (
        "server_error" if status >= 500 else "rate_limit_error" if status == 429
        else "invalid_request_error")


def test_non_json_error_body():
    error = error_from_native(502, b"<html>Bad gateway</html>")
    assert error.status == 502 and "Bad gateway" in error.message


def test_transport_builds_native_auth_and_hides_the_key():
    up = transport.request("chat", ChatCall({"messages": [{"role": "user", "content": "x"}],
                                             "stream": True}, "claude-x"),
                           Secret("sk-ant-very-secret"), base_url="http://127.0.0.1:9/")
    assert up.method == "POST" and up.url == "http://127.0.0.1:9/v1/messages"
    assert up.headers["x-api-key"] == "sk-ant-very-secret"
    assert up.headers["anthropic-version"] == "2023-06-01"
    assert up.headers["Accept"] == "text/event-stream"
    assert "sk-ant-very-secret" not in repr(up) and "sk-ant-very-secret" not in str(up)
    url, headers, body = up
    assert body["stream"] is True


@pytest.mark.parametrize(("effort", "expected"), [("minimal", "low"), ("medium", "medium"), ("xhigh", "high")])
def test_reasoning_effort_is_relayed_as_output_config_effort_beside_the_format(effort, expected):
    body = native(messages=[{"role": "user", "content": "x"}], reasoning_effort=effort,
                  response_format={"type": "json_schema", "json_schema": {"name": "a", "schema": {"type": "object"}}})
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": {"type": "object"}},
                                     "effort": expected}
    assert "output_config" not in native(messages=[{"role": "user", "content": "x"}], reasoning_effort="none")
