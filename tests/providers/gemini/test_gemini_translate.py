"""Gemini request, response and error translation (providers.md §7.5–7.7)."""

from __future__ import annotations

import json

import pytest

from behest_local.errors import InvalidRequestError, UpstreamError
from behest_local.providers.base import ChatCall
from behest_local.providers.gemini import transport
from behest_local.providers.gemini.translate import error_from_native, from_native, to_native
from behest_local.providers.shapes import EmbedCall

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather",
    "parameters": {"type": "object", "additionalProperties": False, "$schema": "x",
                   "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


def native(**request) -> dict:
    return to_native("chat", ChatCall({"model": "g", **request}, "gemini-2.5-flash"))


def test_generation_config_and_system_instruction():
    body = native(messages=[{"role": "system", "content": "Be terse."},
                            {"role": "user", "content": "Hi"}],
                  temperature=0.7, top_p=0.9, max_completion_tokens=256, stop=["END"], n=2,
                  seed=5, presence_penalty=0.1, frequency_penalty=0.2,
                  response_format={"type": "json_schema", "json_schema": {
                      "name": "a", "schema": {"type": "object", "additionalProperties": False,
                                              "properties": {"x": {"const": "y"}}}}})
    assert body == {
        "systemInstruction": {"parts": [{"text": "Be terse."}]},
        "contents": [{"role": "user", "parts": [{"text": "Hi"}]}],
        "generationConfig": {"temperature": 0.7, "topP": 0.9, "candidateCount": 2, "seed": 5,
                             "presencePenalty": 0.1, "frequencyPenalty": 0.2,
                             "maxOutputTokens": 256, "stopSequences": ["END"],
                             "responseMimeType": "application/json",
                             "responseSchema": {"type": "object",
                                                "properties": {"x": {"enum": ["y"],
                                                                     "type": "string"}}}}}


def test_tool_round_trip_names_results_and_keeps_signatures():
    body = native(messages=[
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {
                "name": "get_weather", "arguments": '{"city":"Paris"}'},
             "extra_content": {"google": {"thought_signature": "c2ln"}}},
            {"id": "call_2", "type": "function", "function": {
                "name": "get_time", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
        {"role": "tool", "tool_call_id": "call_2", "content": '{"time": "noon"}'}],
        tools=[WEATHER], tool_choice={"type": "function", "function": {"name": "get_weather"}})
    assert body["contents"][1:] == [
        {"role": "model", "parts": [
            {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
             "thoughtSignature": "c2ln"},
            {"functionCall": {"name": "get_time", "args": {}}}]},
        # One user content for both results; text wrapped as an object (pitfall 18).
        {"role": "user", "parts": [
            {"functionResponse": {"name": "get_weather", "response": {"result": "18C"}}},
            {"functionResponse": {"name": "get_time", "response": {"time": "noon"}}}]}]
    assert body["tools"] == [{"functionDeclarations": [{
        "name": "get_weather", "description": "Weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                       "required": ["city"]}}]}]  # unsupported keywords stripped (pitfall 17)
    assert body["toolConfig"] == {"functionCallingConfig": {
        "mode": "ANY", "allowedFunctionNames": ["get_weather"]}}


@pytest.mark.parametrize(("choice", "mode"), [("auto", "AUTO"), ("none", "NONE"),
                                              ("required", "ANY")])
def test_tool_choice_modes(choice, mode):
    body = native(messages=[{"role": "user", "content": "x"}], tools=[WEATHER], tool_choice=choice)
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": mode}}


def test_tool_result_without_its_call_is_a_400():
    with pytest.raises(InvalidRequestError) as caught:
        native(messages=[{"role": "tool", "tool_call_id": "nope", "content": "x"}])
    assert caught.value.param == "messages[0].tool_call_id"


def test_images_become_inline_or_file_data():
    body = native(messages=[{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4"}},
        {"type": "image_url", "image_url": {"url": "https://x.test/a.png?s=1"}}]}])
    assert body["contents"][0]["parts"] == [
        {"inlineData": {"mimeType": "image/jpeg", "data": "/9j/4"}},
        {"fileData": {"mimeType": "image/png", "fileUri": "https://x.test/a.png?s=1"}}]


def test_response_with_text_calls_and_thought_usage():
    result = from_native("chat", {
        "candidates": [{"content": {"role": "model", "parts": [
            {"text": "plan", "thought": True}, {"text": "Sure. "},
            {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}]},
            "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 3,
                          "thoughtsTokenCount": 4, "cachedContentTokenCount": 2,
                          "totalTokenCount": 12},
        "modelVersion": "gemini-2.5-flash", "responseId": "abc"}, None)
    choice = result["choices"][0]
    assert choice["finish_reason"] == "tool_calls"  # STOP + functionCall (pitfall 3)
    assert choice["message"]["content"] == "Sure. "
    call = choice["message"]["tool_calls"][0]
    assert call["id"].startswith("call_") and json.loads(call["function"]["arguments"]) == {
        "city": "Paris"}
    assert result["usage"] == {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12,
                               "prompt_tokens_details": {"cached_tokens": 2},
                               "completion_tokens_details": {"reasoning_tokens": 4}}
    assert result["id"] == "abc" and result["model"] == "gemini-2.5-flash"


def test_blocked_prompt_is_content_filter():
    result = from_native("chat", {"promptFeedback": {"blockReason": "SAFETY"}}, None)
    assert result["choices"][0]["finish_reason"] == "content_filter"


def test_bad_key_400_becomes_401_and_other_errors_keep_their_status():
    bad_key = json.dumps({"error": {"code": 400, "message": "API key not valid.",
                                    "status": "INVALID_ARGUMENT", "details": [
                                        {"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                         "reason": "API_KEY_INVALID"}]}}).encode()
    error = error_from_native(400, bad_key)
    assert (error.status, error.message, error.code) == (401, "API key not valid.",
                                                         "INVALID_ARGUMENT")
    wrapped = json.dumps([{"error": {"code": 429, "message": "Quota", "status":
                                     "RESOURCE_EXHAUSTED"}}]).encode()
    assert error_from_native(429, wrapped).message == "Quota"
    assert isinstance(error_from_native(503, b"Service Unavailable"), UpstreamError)


def test_embeddings_request_and_response():
    call = EmbedCall({"input": ["a", "b"], "dimensions": 4, "encoding_format": "float"},
                     "gemini-embedding-001")
    assert to_native("embed", call) == {"requests": [
        {"model": "models/gemini-embedding-001", "outputDimensionality": 4,
         "content": {"parts": [{"text": "a"}]}},
        {"model": "models/gemini-embedding-001", "outputDimensionality": 4,
         "content": {"parts": [{"text": "b"}]}}]}
    result = from_native("embed", {"embeddings": [{"values": [1.0]}, {"values": [2.0]}]}, call)
    assert [d["embedding"] for d in result["data"]] == [[1.0], [2.0]]


def test_transport_paths_and_header_auth():
    call = ChatCall({"messages": [{"role": "user", "content": "x"}], "stream": True},
                    "models/gemini-2.5-flash")
    up = transport.request("chat", call, "AIza-secret", base_url="http://h:1")
    assert up.url == "http://h:1/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    assert up.headers["x-goog-api-key"] == "AIza-secret" and "key=" not in up.url
    assert "AIza-secret" not in repr(up)
    up = transport.request("models", None, "k")
    assert (up.method, up.url) == ("GET", "https://generativelanguage.googleapis.com/v1beta/models?pageSize=1000")


def test_modalities_and_reasoning_effort_are_relayed_in_the_generation_config():
    body = native(messages=[{"role": "user", "content": "Hi"}], modalities=["text", "audio"], reasoning_effort="low")
    assert body["generationConfig"] == {"responseModalities": ["TEXT", "AUDIO"],
                                        "thinkingConfig": {"thinkingBudget": 1024}}
