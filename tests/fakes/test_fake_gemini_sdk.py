"""The official google-genai SDK against the fake Gemini API (CRLF SSE, ``x-goog-api-key``),
and the adapter reading the same answers."""

from __future__ import annotations

import json

import pytest
from google import genai
from google.genai import errors, types

from tests.fakes.conftest import KEY
from tests.fakes.test_fake_roundtrip import chat
from tests.fakes.upstream_client import exchange
from tests.providers.streams import summary

# google-genai subclasses aiohttp.ClientSession when aiohttp is installed; aiohttp warns.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Inheritance class AiohttpClientSession from ClientSession:DeprecationWarning")

MODEL = "gemini-2.5-flash"
WEATHER = types.FunctionDeclaration(name="get_weather", description="Weather for a city",
                                    parameters={"type": "OBJECT", "properties": {
                                        "city": {"type": "STRING"}}, "required": ["city"]})


def sdk(base_url: str, key: str = KEY) -> genai.Client:
    return genai.Client(api_key=key, http_options=types.HttpOptions(
        base_url=base_url, retry_options=types.HttpRetryOptions(attempts=1)))


@pytest.fixture
async def client(fake):
    upstream = await fake("gemini")
    client = sdk(upstream.base_url)
    client.upstream = upstream
    yield client
    await client.aio.aclose()


async def test_text_and_usage_match_what_the_adapter_reads(client, session):
    config = types.GenerateContentConfig(system_instruction="You are terse.")
    response = await client.aio.models.generate_content(model=MODEL, contents="Hi [think 3]",
                                                        config=config)
    ours = await exchange(session, "gemini", chat("gemini", "Hi [think 3]"), KEY,
                          client.upstream.base_url)
    assert response.text == ours["choices"][0]["message"]["content"]
    meta = response.usage_metadata
    assert ours["usage"]["prompt_tokens"] == meta.prompt_token_count
    assert ours["usage"]["completion_tokens"] == (meta.candidates_token_count
                                                  + meta.thoughts_token_count)
    assert ours["usage"]["total_tokens"] == meta.total_token_count
    assert client.upstream.state.requests[-1].auth_ok


async def test_streamed_text(client, session):
    pieces, last = [], None
    async for chunk in await client.aio.models.generate_content_stream(
            model=MODEL, contents="Hello there"):
        pieces.append(chunk.text or "")
        last = chunk
    ours = summary(await exchange(session, "gemini", chat("gemini", "Hello there", stream=True),
                                  KEY, client.upstream.base_url))
    assert "".join(pieces) == ours["content"][0]
    assert last.candidates[0].finish_reason == types.FinishReason.STOP
    assert ours["finish"] == {0: "stop"}


async def test_tool_calls_have_no_id_and_say_stop(client, session):
    config = types.GenerateContentConfig(tools=[types.Tool(function_declarations=[WEATHER])])
    response = await client.aio.models.generate_content(model=MODEL, contents="Weather? [tools 2]",
                                                        config=config)
    calls = response.function_calls
    assert [c.args for c in calls] == [{"city": "Paris"}] * 2
    assert response.candidates[0].finish_reason == types.FinishReason.STOP
    ours = await exchange(session, "gemini", chat("gemini", "Weather? [tools 2]", tools=[{
        "type": "function", "function": {"name": "get_weather", "parameters": {
            "type": "object", "properties": {"city": {"type": "string"}}}}}]),
        KEY, client.upstream.base_url)
    assert ours["choices"][0]["finish_reason"] == "tool_calls"
    assert [json.loads(c["function"]["arguments"]) for c in
            ours["choices"][0]["message"]["tool_calls"]] == [c.args for c in calls]


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_error_statuses_map_to_sdk_classes(client, status):
    with pytest.raises(errors.ClientError if status < 500 else errors.ServerError) as caught:
        await client.aio.models.generate_content(model=MODEL, contents=f"[error {status}]")
    assert caught.value.code == status


async def test_wrong_key_is_api_key_invalid(client):
    other = sdk(client.upstream.base_url, key="nope")
    with pytest.raises(errors.ClientError) as caught:
        await other.aio.models.generate_content(model=MODEL, contents="Hi")
    await other.aio.aclose()
    assert caught.value.code == 400 and caught.value.status == "INVALID_ARGUMENT"


async def test_unknown_schema_keyword_is_the_real_400(client):
    """Pitfall 17, as the SDK user meets it when a raw JSON Schema reaches the API."""
    raw_tools = [{"functionDeclarations": [{"name": "f", "parameters": {
        "type": "object", "additionalProperties": False}}]}]
    with pytest.raises(errors.ClientError) as caught:
        await client.aio.models.generate_content(model=MODEL, contents="x", config={
            "http_options": {"extra_body": {"tools": raw_tools}}})
    assert caught.value.code == 400 and "additionalProperties" in caught.value.message
