"""Tests for the /v1/responses translators (behest_local.dialects.responses*).

The wire shape is proven by the openai SDK itself: every Response and every stream event
must validate against its pydantic models, and its own stream accumulator must rebuild
the same final response from the events.
"""

from __future__ import annotations

import copy

import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openai.lib.streaming.responses._responses import ResponseStreamState
from openai import omit
from openai.types.responses import Response, ResponseStreamEvent

from behest_local.dialects.responses import (
    ResponsesStreamTranslator,
    from_chat_completion,
    response_usage,
    to_chat_request,
    validate_responses_request,
)
from behest_local.errors import InvalidRequestError

EVENT = pydantic.TypeAdapter(ResponseStreamEvent)
RESPONSE_ID = "resp_test1"
CREATED = 1_700_000_000
MODEL = "gpt-4.1-mini"
WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    "strict": True,
}


# --------------------------------------------------------------------------- builders


def chunk(delta: dict | None = None, finish: str | None = None, *, usage: dict | None = None) -> dict:
    """A chat.completion.chunk in OpenAI's shape (§1.4); usage-only when ``usage`` is set."""
    base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": CREATED, "model": MODEL}
    if usage is not None:
        return {**base, "choices": [], "usage": usage}
    choice = {"index": 0, "delta": delta or {}, "logprobs": None, "finish_reason": finish}
    return {**base, "choices": [choice], "usage": None}


def completion(content: str | None, finish: str, usage: dict, tool_calls: list | None = None) -> dict:
    message: dict = {"role": "assistant", "content": content, "refusal": None}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": CREATED,
        "model": MODEL,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": usage,
    }


def tool_call(call_id: str, name: str, arguments: str) -> dict:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def call_delta(index: int, *, call_id: str | None = None, name: str | None = None, args: str = "") -> dict:
    entry: dict = {"index": index, "function": {"arguments": args}}
    if call_id is not None:
        entry.update(id=call_id, type="function")
        entry["function"]["name"] = name
    return {"tool_calls": [entry]}


USAGE = {
    "prompt_tokens": 50,
    "completion_tokens": 12,
    "total_tokens": 62,
    "prompt_tokens_details": {"cached_tokens": 8},
    "completion_tokens_details": {"reasoning_tokens": 3},
}

TEXT = (
    completion("Hello there, world!", "stop", USAGE),
    [
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": "Hel"}),
        chunk({"content": "lo there"}),
        chunk({"content": ", world!"}),
        chunk({}, "stop"),
        chunk(usage=USAGE),
    ],
)

PARALLEL_TOOLS = (
    completion(
        "Checking both.",
        "tool_calls",
        USAGE,
        [
            tool_call("call_a", "get_weather", '{"city": "Paris"}'),
            tool_call("call_b", "get_weather", '{"city": "Oslo"}'),
        ],
    ),
    [
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": "Checking "}),
        chunk({"content": "both."}),
        chunk(call_delta(0, call_id="call_a", name="get_weather")),
        chunk(call_delta(0, args='{"ci')),
        chunk(call_delta(1, call_id="call_b", name="get_weather")),
        chunk(call_delta(1, args='{"city": "Os')),  # fragments of both calls interleave (§1.4)
        chunk(call_delta(0, args='ty": "Paris"}')),
        chunk(call_delta(1, args='lo"}')),
        chunk({}, "tool_calls"),
        chunk(usage=USAGE),
    ],
)

TRUNCATED = (
    completion("Once upon a", "length", {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}),
    [
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": "Once"}),
        chunk({"content": " upon a"}),
        chunk({}, "length"),
        chunk(usage={"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}),
    ],
)

SCENARIOS = {"text": TEXT, "parallel_tools": PARALLEL_TOOLS, "length": TRUNCATED}


def aggregate(chunks: list[dict]) -> dict:
    """Fold a chat chunk stream into the chat.completion it stands for (test oracle)."""
    content, finish, usage, calls = "", None, None, {}
    for c in chunks:
        usage = c.get("usage") or usage
        for choice in c["choices"]:
            delta = choice["delta"]
            content += delta.get("content") or ""
            finish = choice["finish_reason"] or finish
            for tc in delta.get("tool_calls") or []:
                call = calls.setdefault(tc["index"], {"id": None, "name": None, "arguments": ""})
                call["id"] = tc.get("id") or call["id"]
                call["name"] = tc["function"].get("name") or call["name"]
                call["arguments"] += tc["function"].get("arguments") or ""
    tcs = [tool_call(c["id"], c["name"], c["arguments"]) for _, c in sorted(calls.items())]
    return completion(content or None, finish, usage, tcs or None)


def run_stream(request: dict, chunks: list[dict]) -> list[tuple[str, dict]]:
    translator = ResponsesStreamTranslator(request=request, response_id=RESPONSE_ID, created_at=CREATED, model=MODEL)
    events = translator.start()
    for c in chunks:
        events += translator.feed(c)
    return events + translator.finish()


def assert_wire_valid(events: list[tuple[str, dict]]) -> None:
    """Every event parses as the SDK's ResponseStreamEvent; names match; numbering is 0..n-1."""
    for name, data in events:
        assert data["type"] == name
        EVENT.validate_python(data)
    assert [data["sequence_number"] for _, data in events] == list(range(len(events)))


def deltas(events: list[tuple[str, dict]], name: str) -> list[dict]:
    return [data for n, data in events if n == name]


def base_request(**extra: object) -> dict:
    return validate_responses_request({"model": MODEL, "input": "Weather in Paris and Oslo?", **extra})


# --------------------------------------------------------------------------- validation


def test_valid_request_passes_and_is_copied() -> None:
    body = {
        "model": MODEL,
        "instructions": "Be terse.",
        "input": [{"role": "user", "content": [{"type": "input_text", "text": "hi"}]}],
        "tools": [WEATHER_TOOL],
        "tool_choice": {"type": "function", "name": "get_weather"},
        "text": {"format": {"type": "json_schema", "name": "w", "schema": {"type": "object"}, "strict": True}},
        "max_output_tokens": 256,
        "temperature": 0.2,
        "top_p": 0.9,
        "stream": True,
        "stream_options": {"include_obfuscation": False},
        "metadata": {"team": "a"},
        "parallel_tool_calls": False,
        "store": False,
        "reasoning": {"effort": "low"},
    }
    validated = validate_responses_request(body)
    assert validated == body
    assert validated is not body


@pytest.mark.parametrize(
    ("body", "param", "fragment"),
    [
        ({"model": MODEL}, "input", "Missing required parameter"),
        ({"input": "x", "frobnicate": 1}, "frobnicate", "Unrecognized request argument supplied: frobnicate"),
        ({"input": "x", "temperature": 2.5}, "temperature", "<= 2"),
        ({"input": "x", "temperature": "hot"}, "temperature", "expected a decimal"),
        ({"input": "x", "top_p": 1.5}, "top_p", "<= 1"),
        ({"input": "x", "max_output_tokens": 0}, "max_output_tokens", ">= 1"),
        ({"input": "x", "max_output_tokens": True}, "max_output_tokens", "expected an integer"),
        ({"input": "x", "model": 4}, "model", "expected a string"),
        ({"input": "x", "stream": "yes"}, "stream", "expected a boolean"),
        ({"input": "x", "metadata": {"k": 1}}, "metadata.k", "expected a string"),
        ({"input": "x", "tools": [{"type": "web_search_preview"}]}, "tools[0].type", "only function tools"),
        ({"input": "x", "tools": [{"type": "function", "function": {"name": "f"}}]}, "tools[0].function", "flat"),
        ({"input": "x", "tools": [{"type": "function"}]}, "tools[0].name", "Missing required parameter"),
        ({"input": "x", "tool_choice": "sometimes"}, "tool_choice", "expected one of"),
        ({"input": "x", "tool_choice": {"type": "file_search"}}, "tool_choice.type", "not supported locally"),
        ({"input": "x", "text": {"format": {"type": "json_schema", "schema": {}}}}, "text.format.name", "Missing"),
        ({"input": "x", "text": {"format": {"type": "yaml"}}}, "text.format.type", "expected one of"),
        ({"input": "x", "previous_response_id": 7}, "previous_response_id", "non-empty string"),
        ({"input": "x", "previous_response_id": "resp_1", "conversation": "conv_1"}, "conversation",
         "cannot be used together"),
        ({"input": "x", "conversation": {"name": "c"}}, "conversation.id", "non-empty string"),
        ({"input": "x", "conversation": 3}, "conversation", "a string or an object"),
        ({"input": "x", "background": True, "store": False}, "store", "must be stored"),
        ({"input": "x", "background": True, "stream": True}, "background", "not supported locally"),
        ({"input": "x", "background": "yes"}, "background", "boolean"),
        ({"input": "x", "stream_options": {"include_obfuscation": False}}, "stream_options", "only allowed"),
        ({"input": []}, "input", "empty array"),
        ({"input": 7}, "input", "expected a string or an array"),
        ({"input": [{"role": "robot", "content": "x"}]}, "input[0].role", "expected one of"),
        ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0].type", "not supported locally"),
        ({"input": [{"type": "web_search_call"}]}, "input[0].type", "not supported locally"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]},
            "input[0].content[0].type",
            "not supported locally",
        ),
        (
            {"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}]},
            "input[0].content[0].file_id",
            "no Files API",
        ),
        ({"input": [{"type": "function_call", "call_id": "c", "name": "f"}]}, "input[0].arguments", "string"),
        ({"input": [{"type": "function_call_output", "call_id": "c", "output": 3}]}, "input[0].output", "string"),
    ],
)
def test_invalid_requests_name_the_param(body: object, param: str, fragment: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        validate_responses_request(body)
    assert info.value.param == param
    assert info.value.status == 400
    assert fragment in info.value.message


def test_non_object_body_is_rejected() -> None:
    with pytest.raises(InvalidRequestError) as info:
        validate_responses_request(["input"])
    assert "JSON object" in info.value.message


# --------------------------------------------------------------------------- request mapping


def test_string_input_maps_to_system_and_user_messages() -> None:
    body = validate_responses_request(
        {
            "model": MODEL,
            "instructions": "Be terse.",
            "input": "Weather in Paris?",
            "tools": [WEATHER_TOOL],
            "tool_choice": {"type": "function", "name": "get_weather"},
            "max_output_tokens": 256,
            "temperature": 0.2,
            "top_p": 0.5,
            "metadata": {"team": "a"},
            "user": "u1",
            "parallel_tool_calls": False,
            "text": {"format": {"type": "json_schema", "name": "w", "schema": {"type": "object"}, "strict": True}},
            "reasoning": {"effort": "low"},
        }
    )
    assert to_chat_request(body) == {
        "model": MODEL,
        "messages": [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Weather in Paris?"}],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "description": "Weather for a city",
                    "parameters": WEATHER_TOOL["parameters"],
                    "strict": True,
                },
            }
        ],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "max_completion_tokens": 256,
        "temperature": 0.2,
        "top_p": 0.5,
        "metadata": {"team": "a"},
        "user": "u1",
        "parallel_tool_calls": False,
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "w", "schema": {"type": "object"}, "strict": True},
        },
        "reasoning_effort": "low",
    }


def test_tool_history_maps_to_assistant_tool_calls_and_tool_messages() -> None:
    """Replayed output (message + parallel function_calls) is one chat assistant turn (§5.4)."""
    body = validate_responses_request(
        {
            "input": [
                {"role": "developer", "content": "Use tools."},
                {
                    "role": "user",
                    "content": [
                        {"type": "input_text", "text": "Weather here?"},
                        {"type": "input_image", "image_url": "https://x/img.png", "detail": "low"},
                    ],
                },
                {
                    "type": "message",
                    "id": "msg_1",
                    "role": "assistant",
                    "status": "completed",
                    "content": [{"type": "output_text", "text": "Checking.", "annotations": []}],
                },
                {"type": "function_call", "id": "fc_1", "call_id": "call_a", "name": "w", "arguments": '{"c":"P"}'},
                {"type": "function_call", "call_id": "call_b", "name": "w", "arguments": '{"c":"O"}'},
                {"type": "function_call_output", "call_id": "call_a", "output": "sunny"},
                {
                    "type": "function_call_output",
                    "call_id": "call_b",
                    "output": [{"type": "input_text", "text": "rain"}],
                },
                {"type": "reasoning", "id": "rs_1", "summary": []},
                {"type": "function_call", "call_id": "call_c", "name": "w", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "call_c", "output": "snow"},
            ]
        }
    )
    assert to_chat_request(body) == {
        "messages": [
            {"role": "developer", "content": "Use tools."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Weather here?"},
                    {"type": "image_url", "image_url": {"url": "https://x/img.png", "detail": "low"}},
                ],
            },
            {
                "role": "assistant",
                "content": "Checking.",
                "tool_calls": [
                    {"id": "call_a", "type": "function", "function": {"name": "w", "arguments": '{"c":"P"}'}},
                    {"id": "call_b", "type": "function", "function": {"name": "w", "arguments": '{"c":"O"}'}},
                ],
            },
            {"role": "tool", "tool_call_id": "call_a", "content": "sunny"},
            {"role": "tool", "tool_call_id": "call_b", "content": "rain"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "call_c", "type": "function", "function": {"name": "w", "arguments": "{}"}}],
            },
            {"role": "tool", "tool_call_id": "call_c", "content": "snow"},
        ]
    }


def test_streaming_forces_usage_and_json_object_format_maps() -> None:
    body = validate_responses_request(
        {"input": "hi", "stream": True, "text": {"format": {"type": "json_object"}}, "tool_choice": "required"}
    )
    chat = to_chat_request(body)
    assert chat["stream"] is True
    assert chat["stream_options"] == {"include_usage": True}
    assert chat["response_format"] == {"type": "json_object"}
    assert chat["tool_choice"] == "required"


def test_non_streaming_request_has_no_stream_keys() -> None:
    chat = to_chat_request(validate_responses_request({"input": "hi", "stream": False}))
    assert "stream" not in chat and "stream_options" not in chat


# --------------------------------------------------------------------------- whole response


@pytest.mark.parametrize("name", SCENARIOS)
def test_from_chat_completion_parses_as_sdk_response(name: str) -> None:
    comp, _ = SCENARIOS[name]
    request = base_request(tools=[WEATHER_TOOL])
    resp = from_chat_completion(comp, request=request, response_id=RESPONSE_ID, created_at=CREATED)
    parsed = Response.model_validate(resp)
    assert parsed.output_text == (comp["choices"][0]["message"]["content"] or "")
    assert resp["object"] == "response" and resp["error"] is None


def test_tool_call_completion_gives_function_call_items() -> None:
    comp, _ = PARALLEL_TOOLS
    resp = from_chat_completion(comp, request=base_request(), response_id=RESPONSE_ID, created_at=CREATED)
    assert resp["status"] == "completed"
    assert [item["type"] for item in resp["output"]] == ["message", "function_call", "function_call"]
    assert resp["output"][1] == {
        "id": "fc_test1_0",
        "type": "function_call",
        "call_id": "call_a",
        "name": "get_weather",
        "arguments": '{"city": "Paris"}',
        "status": "completed",
    }
    assert resp["output"][2]["call_id"] == "call_b"
    assert resp["usage"] == {
        "input_tokens": 50,
        "input_tokens_details": {"cached_tokens": 8, "cache_write_tokens": 0},
        "output_tokens": 12,
        "output_tokens_details": {"reasoning_tokens": 3},
        "total_tokens": 62,
    }


def test_length_and_content_filter_are_incomplete() -> None:
    comp, _ = TRUNCATED
    resp = from_chat_completion(comp, request=base_request(), response_id=RESPONSE_ID, created_at=CREATED)
    assert resp["status"] == "incomplete"
    assert resp["incomplete_details"] == {"reason": "max_output_tokens"}
    assert resp["output"][0]["status"] == "incomplete"
    filtered = completion("", "content_filter", USAGE)
    resp = from_chat_completion(filtered, request=base_request(), response_id=RESPONSE_ID, created_at=CREATED)
    assert (resp["status"], resp["incomplete_details"]) == ("incomplete", {"reason": "content_filter"})


def test_request_settings_are_echoed_with_openai_defaults() -> None:
    comp, _ = TEXT
    request = base_request(instructions="Be terse.", max_output_tokens=99, metadata={"k": "v"}, tools=[WEATHER_TOOL])
    resp = from_chat_completion(comp, request=request, response_id=RESPONSE_ID, created_at=CREATED)
    assert resp["instructions"] == "Be terse."
    assert resp["max_output_tokens"] == 99
    assert resp["metadata"] == {"k": "v"}
    assert resp["tools"] == [WEATHER_TOOL]
    assert (resp["temperature"], resp["top_p"], resp["tool_choice"]) == (1.0, 1.0, "auto")
    assert resp["parallel_tool_calls"] is True
    assert resp["text"] == {"format": {"type": "text"}}
    assert resp["model"] == MODEL and resp["id"] == RESPONSE_ID and resp["created_at"] == CREATED


def test_usage_without_details_defaults_to_zero_and_none_stays_none() -> None:
    assert response_usage({"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5}) == {
        "input_tokens": 2,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": 3,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 5,
    }
    assert response_usage(None) is None


# --------------------------------------------------------------------------- streaming round trip


@pytest.mark.parametrize("name", SCENARIOS)
def test_fixture_chunks_aggregate_to_the_fixture_completion(name: str) -> None:
    comp, chunks = SCENARIOS[name]
    assert aggregate(chunks)["choices"][0]["message"] == comp["choices"][0]["message"]
    assert aggregate(chunks)["usage"] == comp["usage"]


@pytest.mark.parametrize("name", SCENARIOS)
def test_stream_final_response_equals_whole_translation(name: str) -> None:
    comp, chunks = SCENARIOS[name]
    request = base_request(tools=[WEATHER_TOOL], stream=True)
    events = run_stream(request, chunks)
    assert_wire_valid(events)
    final_name, final = events[-1]
    expected = from_chat_completion(comp, request=request, response_id=RESPONSE_ID, created_at=CREATED)
    assert final_name == ("response.incomplete" if name == "length" else "response.completed")
    streamed = final["response"]
    assert Response.model_validate(streamed)
    assert (streamed["output"], streamed["usage"], streamed["status"]) == (
        expected["output"],
        expected["usage"],
        expected["status"],
    )
    assert streamed == expected  # the whole envelope too: same request, ids and model


@pytest.mark.parametrize("name", SCENARIOS)
def test_sdk_stream_accumulator_rebuilds_the_response(name: str) -> None:
    """openai-python's own ResponseStreamState consumes the events without complaint."""
    comp, chunks = SCENARIOS[name]
    request = base_request(stream=True)
    state = ResponseStreamState(input_tools=omit, text_format=omit)
    for _, data in run_stream(request, chunks):
        state.handle_event(EVENT.validate_python(data))
    snapshot = state._ResponseStreamState__current_snapshot  # type: ignore[attr-defined]
    assert snapshot.output_text == comp["choices"][0]["message"]["content"]
    calls = [(o.call_id, o.arguments) for o in snapshot.output if o.type == "function_call"]
    message = comp["choices"][0]["message"]
    expected_calls = [(c["id"], c["function"]["arguments"]) for c in message.get("tool_calls", [])]
    assert calls == expected_calls


def test_stream_event_sequence_for_a_text_turn() -> None:
    """§5.3 order: created, in_progress, item added, part added, deltas, done events, completed."""
    _, chunks = TEXT
    names = [name for name, _ in run_stream(base_request(stream=True), chunks)]
    assert names == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]


def test_parallel_tool_calls_get_distinct_output_indexes() -> None:
    _, chunks = PARALLEL_TOOLS
    events = run_stream(base_request(stream=True), chunks)
    added = deltas(events, "response.output_item.added")
    assert [(e["output_index"], e["item"]["type"]) for e in added] == [
        (0, "message"),
        (1, "function_call"),
        (2, "function_call"),
    ]
    by_index: dict[int, str] = {}
    for e in deltas(events, "response.function_call_arguments.delta"):
        by_index[e["output_index"]] = by_index.get(e["output_index"], "") + e["delta"]
    assert by_index == {1: '{"city": "Paris"}', 2: '{"city": "Oslo"}'}
    done = deltas(events, "response.function_call_arguments.done")
    assert [e["arguments"] for e in done] == ['{"city": "Paris"}', '{"city": "Oslo"}']


def test_created_event_carries_an_in_progress_empty_response() -> None:
    events = ResponsesStreamTranslator(
        request=base_request(stream=True), response_id=RESPONSE_ID, created_at=CREATED, model=MODEL
    ).start()
    assert [name for name, _ in events] == ["response.created", "response.in_progress"]
    for _, data in events:
        assert data["response"]["status"] == "in_progress"
        assert data["response"]["output"] == [] and data["response"]["usage"] is None
    assert_wire_valid(events)


def test_tool_call_without_id_gets_the_same_fallback_in_both_paths() -> None:
    request = base_request(stream=True)
    no_id = {"tool_calls": [{"index": 0, "function": {"name": "f", "arguments": "{}"}}]}
    chunks = [chunk(no_id), chunk({}, "tool_calls")]
    comp = completion(None, "tool_calls", USAGE, [{"type": "function", "function": {"name": "f", "arguments": "{}"}}])
    streamed = run_stream(request, chunks)[-1][1]["response"]
    whole = from_chat_completion(comp, request=request, response_id=RESPONSE_ID, created_at=CREATED)
    assert streamed["output"] == whole["output"]
    assert whole["output"][0]["call_id"] == "call_test1_0"
    assert streamed["usage"] is None  # the stream never sent a usage chunk


def test_empty_turn_gives_one_empty_message_in_both_paths() -> None:
    request = base_request(stream=True)
    events = run_stream(request, [chunk({"role": "assistant", "content": ""}), chunk({}, "stop")])
    assert_wire_valid(events)
    comp = completion("", "stop", USAGE)
    whole = from_chat_completion(comp, request=request, response_id=RESPONSE_ID, created_at=CREATED)
    assert events[-1][1]["response"]["output"] == whole["output"]
    assert whole["output"][0]["content"] == [{"type": "output_text", "text": "", "annotations": [], "logprobs": []}]


def test_refusal_streams_as_a_refusal_part() -> None:
    request = base_request(stream=True)
    events = run_stream(request, [chunk({"refusal": "I can't"}), chunk({"refusal": " help."}), chunk({}, "stop")])
    assert_wire_valid(events)
    assert [e["delta"] for e in deltas(events, "response.refusal.delta")] == ["I can't", " help."]
    comp = completion(None, "stop", USAGE)
    comp["choices"][0]["message"]["refusal"] = "I can't help."
    whole = from_chat_completion(comp, request=request, response_id=RESPONSE_ID, created_at=CREATED)
    assert events[-1][1]["response"]["output"] == whole["output"]
    assert whole["output"][0]["content"] == [{"type": "refusal", "refusal": "I can't help."}]


def test_fail_emits_error_then_response_failed() -> None:
    translator = ResponsesStreamTranslator(
        request=base_request(stream=True), response_id=RESPONSE_ID, created_at=CREATED, model=MODEL
    )
    events = translator.start() + translator.feed(chunk({"content": "partial"}))
    events += translator.fail("upstream went away", "upstream_error")
    assert_wire_valid(events)
    assert [name for name, _ in events[-2:]] == ["error", "response.failed"]
    assert events[-2][1]["code"] == "upstream_error"
    failed = events[-1][1]["response"]
    assert failed["status"] == "failed"
    # ResponseError.code is a closed set in the SDK; unknown codes become server_error.
    assert failed["error"] == {"code": "server_error", "message": "upstream went away"}
    assert failed["output"][0]["content"][0]["text"] == "partial"
    assert Response.model_validate(failed).error is not None
    assert translator.finish() == [] and translator.fail("again") == []
    with pytest.raises(RuntimeError):
        translator.feed(chunk({"content": "late"}))


def test_error_chunk_fails_the_stream_and_keeps_known_codes() -> None:
    translator = ResponsesStreamTranslator(
        request=base_request(stream=True), response_id=RESPONSE_ID, created_at=CREATED, model=MODEL
    )
    events = translator.feed({"error": {"message": "slow down", "type": "rate_limit", "code": "rate_limit_exceeded"}})
    assert_wire_valid(events)  # feed() before start() starts the stream itself
    assert [name for name, _ in events] == ["response.created", "response.in_progress", "error", "response.failed"]
    assert events[-1][1]["response"]["error"] == {"code": "rate_limit_exceeded", "message": "slow down"}


def test_translator_does_not_mutate_the_request() -> None:
    request = base_request(tools=[WEATHER_TOOL], stream=True)
    before = copy.deepcopy(request)
    run_stream(request, PARALLEL_TOOLS[1])
    assert request == before


# --------------------------------------------------------------------------- properties


@settings(max_examples=75, deadline=None)
@given(
    text=st.text(min_size=1, max_size=60),
    cuts=st.lists(st.integers(min_value=0, max_value=60), max_size=8),
)
def test_any_split_of_the_text_streams_back_to_the_same_text(text: str, cuts: list[int]) -> None:
    bounds = sorted({0, len(text), *(min(c, len(text)) for c in cuts)})
    pieces = [text[a:b] for a, b in zip(bounds, bounds[1:])]
    chunks = [chunk({"role": "assistant", "content": ""})] + [chunk({"content": p}) for p in pieces]
    events = run_stream(base_request(stream=True), chunks + [chunk({}, "stop")])
    assert "".join(e["delta"] for e in deltas(events, "response.output_text.delta")) == text
    assert [e["text"] for e in deltas(events, "response.output_text.done")] == [text]
    numbers = [data["sequence_number"] for _, data in events]
    assert all(a < b for a, b in zip(numbers, numbers[1:]))
    assert events[-1][1]["response"]["output"][0]["content"][0]["text"] == text


@settings(max_examples=50, deadline=None)
@given(
    arguments=st.lists(st.text(max_size=30), min_size=2, max_size=2),
    cuts=st.lists(st.integers(min_value=0, max_value=30), max_size=5),
    interleave=st.booleans(),
)
def test_tool_argument_fragments_reassemble_per_call(arguments: list[str], cuts: list[int], interleave: bool) -> None:
    def pieces(s: str) -> list[str]:
        bounds = sorted({0, len(s), *(min(c, len(s)) for c in cuts)})
        return [s[a:b] for a, b in zip(bounds, bounds[1:])]

    chunks = [chunk(call_delta(i, call_id=f"call_{i}", name="f")) for i in range(2)]
    fragments = [[chunk(call_delta(i, args=p)) for p in pieces(a)] for i, a in enumerate(arguments)]
    if interleave:
        for pair in zip(*fragments):
            chunks += pair
        longer = max(fragments, key=len)
        chunks += longer[min(map(len, fragments)) :]
    else:
        chunks += fragments[0] + fragments[1]
    events = run_stream(base_request(stream=True), chunks + [chunk({}, "tool_calls")])
    calls = [o for o in events[-1][1]["response"]["output"] if o["type"] == "function_call"]
    assert [c["arguments"] for c in calls] == arguments
    assert [c["call_id"] for c in calls] == ["call_0", "call_1"]
