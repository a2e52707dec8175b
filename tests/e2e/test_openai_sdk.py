"""The official openai SDK against a live gateway: what a migrating user runs.

Every test goes over real HTTP to the gateway started by the ``live`` fixture (the same
``runtime.start`` that ``behest-local serve`` uses), with only base URL and key changed,
as the migration guide promises.
"""

from __future__ import annotations

import json

import openai
import pytest
from pydantic import BaseModel

from behest_local.exchange.events import ChunkSent, ExchangeFinished, Routed


@pytest.fixture
def client(live) -> openai.OpenAI:
    return openai.OpenAI(api_key=live.key, base_url=live.base_url, max_retries=0)


@pytest.fixture
async def aclient(live):
    async with openai.AsyncOpenAI(api_key=live.key, base_url=live.base_url, max_retries=0) as c:
        yield c


def test_migration_guide_python_example(client):
    response = client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "Hello"}])
    assert response.object == "chat.completion"
    assert response.model == "gpt-4o"
    text = response.choices[0].message.content
    assert text and "lorem" not in text.lower()
    assert response.choices[0].finish_reason == "stop"
    assert response.usage.total_tokens == response.usage.prompt_tokens + response.usage.completion_tokens
    assert response.usage.prompt_tokens > 0


def test_migration_guide_smoke_test_phrase(client):
    response = client.chat.completions.create(
        model="gpt-4o", max_tokens=10,
        messages=[{"role": "user", "content": 'Respond with "migration successful".'}])
    assert response.choices[0].message.content == "migration successful"


def test_streamed_text_equals_non_streamed_text(client):
    kwargs = dict(model="gpt-4o-mini", seed=7,
                  messages=[{"role": "user", "content": "Why is the sky blue?"}])
    whole = client.chat.completions.create(**kwargs).choices[0].message.content
    stream = client.chat.completions.create(stream=True, stream_options={"include_usage": True},
                                            **kwargs)
    pieces, usage, finish = [], None, None
    for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
            assert chunk.choices == []
        for choice in chunk.choices:
            pieces.append(choice.delta.content or "")
            finish = choice.finish_reason or finish
    assert "".join(pieces) == whole
    assert finish == "stop"
    assert usage is not None and usage.completion_tokens > 0


def test_stream_without_include_usage_sends_no_usage_chunk(client):
    stream = client.chat.completions.create(
        model="gpt-4o", stream=True, messages=[{"role": "user", "content": "Hi there"}])
    chunks = list(stream)
    assert chunks and all(c.choices for c in chunks)
    assert all(c.usage is None for c in chunks)


async def test_async_client_streams(aclient, live):
    stream = await aclient.chat.completions.create(
        model="claude-sonnet-4-20250514", stream=True,
        messages=[{"role": "user", "content": "What is 12 * 7?"}])
    text = ""
    async for chunk in stream:
        text += "".join(c.delta.content or "" for c in chunk.choices)
    assert "84" in text
    request_id = stream.response.headers["x-request-id"]
    events = live.recorder.wait_end(request_id)
    assert [e.index for e in events if isinstance(e, ChunkSent)][:1] == [0]  # it began
    finished = next(e for e in events if isinstance(e, ExchangeFinished))
    assert finished.chunks > 3
    routed = next(e for e in events if isinstance(e, Routed))
    assert routed.model == "claude-sonnet-4-20250514" and routed.stream


async def test_async_client_non_streaming(aclient):
    response = await aclient.chat.completions.create(
        model="gemini-2.5-flash", messages=[{"role": "user", "content": "What is 2 + 2?"}])
    assert "4" in response.choices[0].message.content


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city",
        "parameters": {"type": "object",
                       "properties": {"city": {"type": "string"},
                                      "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
                       "required": ["city", "unit"], "additionalProperties": False},
    },
}


def test_tools_round_trip(client):
    messages = [{"role": "user", "content": "What's the weather in Paris?"}]
    first = client.chat.completions.create(model="gpt-4o", messages=messages,
                                           tools=[WEATHER_TOOL], tool_choice="required")
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call.function.name == "get_weather"
    args = json.loads(call.function.arguments)
    assert args["unit"] in ("celsius", "fahrenheit") and isinstance(args["city"], str)
    messages += [choice.message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id,
                  "content": json.dumps({"temperature": 18, "condition": "light rain"})}]
    second = client.chat.completions.create(model="gpt-4o", messages=messages, tools=[WEATHER_TOOL])
    answer = second.choices[0].message.content
    assert second.choices[0].finish_reason == "stop"
    assert "18" in answer or "light rain" in answer


def test_streamed_tool_call_deltas_reassemble(client):
    stream = client.chat.completions.create(
        model="gpt-4o", stream=True, tools=[WEATHER_TOOL],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        messages=[{"role": "user", "content": "Weather in Tokyo please"}])
    name, arguments, finish, call_id = None, "", None, None
    for chunk in stream:
        for choice in chunk.choices:
            for delta in choice.delta.tool_calls or []:
                assert delta.index == 0
                call_id = delta.id or call_id
                name = (delta.function.name if delta.function and delta.function.name else name)
                arguments += (delta.function.arguments or "") if delta.function else ""
            finish = choice.finish_reason or finish
    assert name == "get_weather" and call_id and call_id.startswith("call_")
    assert json.loads(arguments)["city"]
    assert finish == "tool_calls"


class CalendarEvent(BaseModel):
    name: str
    date: str
    participants: list[str]


def test_parse_with_pydantic_model(client):
    completion = client.chat.completions.parse(
        model="gpt-4o-mini", response_format=CalendarEvent,
        messages=[{"role": "system", "content": "Extract the event information."},
                  {"role": "user", "content": "Alice and Bob are going to a science fair on Friday."}])
    event = completion.choices[0].message.parsed
    assert isinstance(event, CalendarEvent)
    assert isinstance(event.participants, list)


def test_json_object_mode(client):
    response = client.chat.completions.create(
        model="gpt-4o", response_format={"type": "json_object"},
        messages=[{"role": "user", "content": "Give me a JSON object describing Paris"}])
    assert isinstance(json.loads(response.choices[0].message.content), dict)


def test_n_choices_and_stop(client):
    response = client.chat.completions.create(
        model="gpt-4o", n=3, messages=[{"role": "user", "content": "Tell me about rivers"}])
    assert [c.index for c in response.choices] == [0, 1, 2]
    text = response.choices[0].message.content
    cut = client.chat.completions.create(
        model="gpt-4o", stop=[text.split()[2]], messages=[{"role": "user", "content": "Tell me about rivers"}])
    assert len(cut.choices[0].message.content) < len(text)


def test_max_tokens_truncates_with_length(client):
    response = client.chat.completions.create(
        model="gpt-4o", max_completion_tokens=3,
        messages=[{"role": "user", "content": "Explain how photosynthesis works in detail"}])
    assert response.choices[0].finish_reason == "length"
    assert response.usage.completion_tokens == 3


def test_default_model_resolution(live):
    client = openai.OpenAI(api_key=live.key, base_url=live.base_url, max_retries=0)
    for model in ("", "default"):
        response = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Hi"}])
        assert response.model == "gemini-2.5-flash"
    prompted = openai.OpenAI(api_key=live.prompted_key, base_url=live.base_url, max_retries=0)
    response = prompted.chat.completions.create(model="default", messages=[{"role": "user", "content": "Hi"}])
    assert response.model == "gpt-4o-mini"


def test_responses_api(client):
    response = client.responses.create(model="gpt-4.1-mini", instructions="Be terse.",
                                       input="What is 3 + 5?")
    assert response.status == "completed"
    assert "8" in response.output_text
    assert response.usage.total_tokens > 0


def test_responses_api_stream(client):
    stream = client.responses.create(model="gpt-4.1-mini", input="What is 3 + 5?", stream=True)
    kinds, text, final = [], "", None
    for event in stream:
        kinds.append(event.type)
        if event.type == "response.output_text.delta":
            text += event.delta
        if event.type == "response.completed":
            final = event.response
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert final is not None and final.output_text == text and "8" in text


def test_legacy_completions(client):
    response = client.completions.create(model="gpt-3.5-turbo-instruct", prompt="Say hello",
                                         max_tokens=16)
    assert response.object == "text_completion"
    assert response.choices[0].text
    stream = client.completions.create(model="gpt-3.5-turbo-instruct", prompt="Say hello",
                                       max_tokens=16, stream=True)
    assert "".join(c.choices[0].text for c in stream if c.choices) == response.choices[0].text


def test_embeddings_float_and_base64(client):
    as_float = client.embeddings.create(model="text-embedding-3-small", input=["a cat", "a dog"],
                                        encoding_format="float")
    assert len(as_float.data) == 2 and len(as_float.data[0].embedding) == 1536
    # The SDK asks for base64 by default and decodes it itself.
    default = client.embeddings.create(model="text-embedding-3-small", input=["a cat", "a dog"])
    assert default.data[0].embedding == pytest.approx(as_float.data[0].embedding, abs=1e-6)
    short = client.embeddings.create(model="text-embedding-3-small", input="a cat", dimensions=256)
    assert len(short.data[0].embedding) == 256


def test_models(client):
    ids = [m.id for m in client.models.list()]
    assert "gemini-2.5-flash" in ids and "text-embedding-3-small" in ids
    assert client.models.retrieve("gpt-4o").id == "gpt-4o"
    with pytest.raises(openai.NotFoundError) as info:
        client.models.retrieve("no-such-model")
    assert info.value.code == "model_not_found"


@pytest.mark.parametrize("status, error", [
    (400, openai.BadRequestError), (401, openai.AuthenticationError),
    (404, openai.NotFoundError), (429, openai.RateLimitError),
    (500, openai.InternalServerError), (503, openai.InternalServerError),
])
def test_sdk_error_classes_via_emulate_header(client, status, error):
    with pytest.raises(error) as info:
        client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "Hi"}],
            extra_headers={"x-behest-emulate": f"status={status}"})
    assert info.value.status_code == status
    assert info.value.response.headers["x-request-id"].startswith("req_")
    if status == 429:
        assert info.value.response.headers["retry-after"] == "1"


def test_bad_key_is_authentication_error(live):
    bad = openai.OpenAI(api_key="behest_sk_live_" + "0" * 32, base_url=live.base_url, max_retries=0)
    with pytest.raises(openai.AuthenticationError) as info:
        bad.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hi"}])
    assert info.value.code == "invalid_api_key"
    assert "0" * 32 not in str(info.value)


def test_in_stream_error_raises_api_error(client):
    stream = client.chat.completions.create(
        model="gpt-4o", stream=True, messages=[{"role": "user", "content": "Tell me a story"}],
        extra_headers={"x-behest-emulate": "error_after=3"})
    received = []
    with pytest.raises(openai.APIError) as info:
        for chunk in stream:
            received.append(chunk)
    assert len(received) == 3
    assert "server had an error" in info.value.message


def test_mid_stream_drop_is_a_connection_error(client, live):
    stream = client.chat.completions.create(
        model="gpt-4o", stream=True, messages=[{"role": "user", "content": "Tell me a story"}],
        extra_headers={"x-behest-emulate": "drop_after=2"})
    received = []
    with pytest.raises((openai.APIConnectionError, Exception)) as info:
        for chunk in stream:
            received.append(chunk)
    assert len(received) == 2
    assert not isinstance(info.value, AssertionError)


def test_exchange_events_in_order(client, live):
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=[{"role": "user", "content": "Hello"}])
    events = live.recorder.wait_end(raw.headers["x-request-id"])
    # ResponseStarted (the capture hook, as headers go out) may land just after the
    # exchange finished for a non-streamed body; the phases themselves are strictly ordered.
    kinds = [type(e).__name__ for e in events if type(e).__name__ != "ResponseStarted"]
    assert kinds == ["RequestReceived", "Authenticated", "Routed", "UpstreamStarted",
                     "ExchangeFinished"]
    finished = next(e for e in events if isinstance(e, ExchangeFinished))
    assert isinstance(finished, ExchangeFinished) and finished.status == 200
    assert finished.prompt_tokens and finished.completion_tokens
    assert raw.headers["x-trace-id"] and len(raw.headers["x-trace-id"]) == 32
