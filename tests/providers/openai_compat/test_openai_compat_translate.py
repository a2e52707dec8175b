"""OpenAI-compatible translation: pass-through plus Mistral and OpenRouter quirks (§9, §10)."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from behest_local.providers.base import ChatCall
from behest_local.providers.openai_compat import transport
from behest_local.providers.openai_compat.transport import CUSTOM, MISTRAL, OPENAI, OPENROUTER
from behest_local.providers.openai_compat.translate import (
    error_from_native,
    from_native,
    mistral_tool_id,
    to_native,
)
from behest_local.secret import Secret

TOOL_TURN = [
    {"role": "system", "content": "Be terse."},
    {"role": "user", "content": "Weather?", "name": "alice"},
    {"role": "assistant", "content": None, "refusal": None, "reasoning_content": "hmm",
     "tool_calls": [{"id": "call_abc123", "type": "function",
                     "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}]},
    {"role": "tool", "tool_call_id": "call_abc123", "content": "18C"}]


def native(profile, **request) -> dict:
    return to_native("chat", ChatCall({"model": "client-model", **request}, "routed"), profile)


def test_openai_passes_the_request_through_with_the_routed_model():
    request = {"messages": TOOL_TURN, "temperature": 0.2, "logprobs": True, "seed": 1,
               "user": "u", "max_completion_tokens": 9}
    assert native(OPENAI, **request) == {**request, "model": "routed"}
    assert native(CUSTOM, **request) == {**request, "model": "routed"}


def test_openai_streams_always_ask_for_usage():
    body = native(OPENAI, messages=TOOL_TURN, stream=True)
    assert body["stream_options"] == {"include_usage": True}
    assert "stream_options" not in native(CUSTOM, messages=TOOL_TURN, stream=True)


def test_mistral_gets_only_fields_it_accepts():
    body = native(MISTRAL, messages=TOOL_TURN, stream=True, seed=7, max_completion_tokens=50,
                  stream_options={"include_usage": True}, user="u", logprobs=True,
                  service_tier="auto", store=True, tool_choice="required", top_p=0.9)
    mapped = mistral_tool_id("call_abc123")
    assert body == {
        "model": "routed", "stream": True, "random_seed": 7, "max_tokens": 50,
        "tool_choice": "any", "top_p": 0.9,
        "messages": [
            {"role": "system", "content": "Be terse."},
            {"role": "user", "content": "Weather?"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": mapped, "type": "function",
                 "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}]},
            {"role": "tool", "tool_call_id": mapped, "content": "18C"}]}


@given(st.text(min_size=1, max_size=40))
def test_mistral_tool_ids_are_nine_alphanumerics_and_stable(original):
    mapped = mistral_tool_id(original)
    assert re.fullmatch(r"[A-Za-z0-9]{9}", mapped)
    assert mistral_tool_id(original) == mapped and mistral_tool_id(mapped) == mapped


def test_response_normalisation():
    body = {"id": "cmpl-1", "created": 1, "model": "mistral-small", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "", "tool_calls": [
            {"id": "a1B2c3D4e", "function": {"name": "f", "arguments": {"x": 1}}}]},
         "finish_reason": "tool_calls"},
        {"index": 1, "message": {"role": "assistant", "content": "cut", "tool_calls": None},
         "finish_reason": "model_length"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 4}}
    result = from_native("chat", body)
    assert result["object"] == "chat.completion"
    assert result["choices"][0]["message"]["tool_calls"][0] == {
        "id": "a1B2c3D4e", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}}
    assert result["choices"][1]["finish_reason"] == "length"
    assert "tool_calls" not in result["choices"][1]["message"]
    assert result["usage"]["total_tokens"] == 7


def test_openrouter_finish_reason_error_is_a_failure():
    body = {"choices": [{"index": 0, "message": {"content": ""}, "finish_reason": "error"}],
            "error": {"code": 502, "message": "Provider returned error"}}
    with pytest.raises(Exception) as caught:
        from_native("chat", body)
    assert (caught.value.status, caught.value.message) == (502, "Provider returned error")


@pytest.mark.parametrize(("status", "body", "message", "code"), [
    (401, {"error": {"message": "Incorrect API key provided.", "type": "invalid_request_error",
                     "param": None, "code": "invalid_api_key"}},
     "Incorrect API key provided.", "invalid_api_key"),
    (402, {"error": {"code": 402, "message": "Insufficient credits",
                     "metadata": {"provider_name": None}}}, "Insufficient credits", "402"),
    (422, {"object": "error", "message": {"detail": [
        {"type": "extra_forbidden", "loc": ["body", "stream_options"],
         "msg": "Extra inputs are not permitted", "input": {}}]},
        "type": "invalid_request_error", "param": None, "code": None},
     "body.stream_options: Extra inputs are not permitted", "invalid_request_error"),
    (422, {"object": "error", "message": json.dumps({"detail": [
        {"loc": ["body", "user"], "msg": "Extra inputs are not permitted"}]}),
        "type": "invalid_request_error"}, "body.user: Extra inputs are not permitted",
     "invalid_request_error"),
    (404, {"detail": "Not Found"}, "Not Found", None),
])
def test_error_shapes(status, body, message, code):
    error = error_from_native(status, json.dumps(body).encode())
    assert (error.status, error.message, error.code) == (status, message, code)


def test_html_error_page():
    error = error_from_native(503, b"<html><body>upstream connect error</body></html>")
    assert error.status == 503 and "upstream connect error" in error.message


def test_transport_per_profile():
    call = ChatCall({"messages": [{"role": "user", "content": "x"}]}, "m")
    up = transport.request("chat", call, Secret("sk-or-secret"), profile=OPENROUTER)
    assert up.url == "https://openrouter.ai/api/v1/chat/completions"
    assert up.headers["HTTP-Referer"] and up.headers["X-Title"] == "behest-local"
    assert up.headers["Authorization"] == "Bearer sk-or-secret"
    assert "sk-or-secret" not in repr(up)
    local = transport.request("chat", call, None, profile=CUSTOM, base_url="http://127.0.0.1:8080/v1")
    assert "Authorization" not in local.headers
    assert local.url == "http://127.0.0.1:8080/v1/chat/completions"
    with pytest.raises(ValueError):
        transport.request("embed", call, "k", profile=OPENROUTER)
