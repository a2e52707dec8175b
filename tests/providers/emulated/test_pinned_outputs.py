"""The emulated model's answers, pinned byte for byte over HTTP.

The model is deterministic: the same request gets the same bytes (but for the completion
id and the ``created`` clock, masked here). Work that makes its path cheaper (caching,
parsing once, tokenizing once) must not change a byte of what it says, so a handful of
requests covering its kinds of answer (prose, an echo, arithmetic, tool calls, tool
results, JSON schema, ``n`` with logprobs, ``stop`` and ``max_tokens``, streams with usage,
the Messages dialect) are answered through the gateway and compared with
``pinned_outputs.json``. ``BEHEST_PIN_UPDATE=1`` rewrites the file (review its diff).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

PINNED = Path(__file__).with_name("pinned_outputs.json")
MASKS = ((re.compile(rb'"id": ?"(chatcmpl|msg)[-_][A-Za-z0-9]+"'), rb'"id":"<id>"'),
         (re.compile(rb'"created": ?\d+'), rb'"created":0'))

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather for a city",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
        "required": ["city"]}}}

CASES: dict[str, tuple[str, dict]] = {
    "prose": ("/v1/chat/completions", {"model": "gpt-4o-mini", "messages": [
        {"role": "user", "content": "Say something about foxes."}]}),
    "echo-stream-usage": ("/v1/chat/completions", {
        "model": "gpt-4o-mini", "stream": True, "stream_options": {"include_usage": True},
        "messages": [{"role": "system", "content": "Be brief."},
                     {"role": "user", "content": 'Respond with "migration successful".'}]}),
    "arithmetic-seed": ("/v1/chat/completions", {"model": "gemini-2.5-flash", "seed": 7,
                                                 "messages": [{"role": "user",
                                                               "content": "What is 17 * 23?"}]}),
    "tool-call": ("/v1/chat/completions", {"model": "gpt-4o", "tools": [WEATHER],
                                           "messages": [{"role": "user", "content":
                                                         "What's the weather in Paris?"}]}),
    "tool-call-stream": ("/v1/chat/completions", {
        "model": "gpt-4o", "tools": [WEATHER], "stream": True,
        "messages": [{"role": "user", "content": "Weather in Oslo and in Rome, please."}]}),
    "tool-result": ("/v1/chat/completions", {"model": "gpt-4o", "tools": [WEATHER], "messages": [
        {"role": "user", "content": "What's the weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [{
            "id": "call_1", "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": '{"temp_c": 18, "sky": "clear"}'}]}),
    "json-schema": ("/v1/chat/completions", {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "Extract the person: Ada Lovelace, 36."}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "person", "schema": {
            "type": "object", "properties": {"name": {"type": "string"},
                                             "age": {"type": "integer"}},
            "required": ["name", "age"], "additionalProperties": False}}}}),
    "n-logprobs-stop-limit": ("/v1/chat/completions", {
        "model": "gpt-4o-mini", "n": 2, "logprobs": True, "top_logprobs": 2, "max_tokens": 12,
        "stop": ["."], "messages": [{"role": "user", "content": "List three uses of copper."}]}),
    "messages-dialect": ("/v1/messages", {
        "model": "claude-sonnet-4-20250514", "max_tokens": 200,
        "messages": [{"role": "user", "content": "Write a haiku about the sea."}]}),
}


def masked(body: bytes) -> str:
    for pattern, replacement in MASKS:
        body = pattern.sub(replacement, body)
    return body.decode()


async def answers(client) -> dict[str, str]:
    out = {}
    for name, (path, body) in CASES.items():
        response = await client.post(path, json=body, headers=client.headers_auth)
        assert response.status == 200, (name, await response.text())
        out[name] = masked(await response.read())
    return out


async def test_the_emulated_models_answers_are_the_pinned_bytes(gateway_client):
    got = await answers(gateway_client)
    if os.environ.get("BEHEST_PIN_UPDATE") == "1":
        PINNED.write_text(json.dumps(got, indent=1, ensure_ascii=False) + "\n")
        pytest.skip("pinned outputs rewritten")
    pinned = json.loads(PINNED.read_text())
    assert sorted(got) == sorted(pinned)
    for name in CASES:
        assert got[name] == pinned[name], name


async def test_the_same_request_twice_gets_the_same_bytes(gateway_client):
    assert await answers(gateway_client) == await answers(gateway_client)
