"""The emulated model's replies: dictated text, arithmetic, tools, JSON formats, determinism."""

from __future__ import annotations

import json
import re
from typing import Optional

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from behest_local.providers.emulated.composer import Reply, compose, requested_keys

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
            "required": ["city", "unit"],
            "additionalProperties": False,
        },
        "strict": True,
    },
}
SEARCH = {
    "type": "function",
    "function": {
        "name": "search_docs",
        "description": "Search the product documentation",
        "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
    },
}
NO_PARAMS = {"type": "function", "function": {"name": "get_time", "description": "Current server time"}}


def user(text: object, **extra: object) -> dict:
    return {"messages": [{"role": "user", "content": text}], **extra}


def text_of(request: dict, choice_index: int = 0) -> str:
    reply = compose(request, choice_index=choice_index)
    assert reply.tool_calls == () and isinstance(reply.content, str)
    return reply.content


def weather_turn(result: str, **extra: object) -> dict:
    """A conversation whose last message is get_weather's result for Paris."""
    call = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}
    return {
        "messages": [
            {"role": "user", "content": "What's the weather in Paris?"},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "call_1", "content": result},
        ],
        "tools": [WEATHER],
        **extra,
    }


# --- dictated replies and arithmetic --------------------------------------------------------


def test_migration_guide_smoke_test_gets_exactly_its_phrase() -> None:
    assert text_of(user('Respond with "migration successful".', max_tokens=10)) == "migration successful"


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ('Say "hi"', "hi"),
        ("Reply with exactly: All systems go.", "All systems go."),
        ("Repeat after me: the quick brown fox", "the quick brown fox"),
        ("Answer only with OK.", "OK"),
        ("Please respond only with the word 'pong'", "pong"),
    ],
)
def test_dictated_replies_are_returned_verbatim(prompt: str, expected: str) -> None:
    for index in range(3):
        assert text_of(user(prompt), index) == expected


@pytest.mark.parametrize(
    ("prompt", "equation"),
    [("What is 2 + 2?", "2 + 2 = 4"), ("what's 12*7", "12 * 7 = 84"), ("compute (3+4)/2", "(3 + 4) / 2 = 3.5"),
     ("What is 12 times 7?", "12 * 7 = 84"), ("what is 0.1 + 0.2", "0.1 + 0.2 = 0.3")],
)  # fmt: skip
def test_arithmetic_is_computed(prompt: str, equation: str) -> None:
    assert equation in text_of(user(prompt))


def test_division_by_zero_is_explained_not_raised() -> None:
    assert "division by zero" in text_of(user("What is 1/0?"))


# --- text answers ---------------------------------------------------------------------------


def test_greeting_introduces_the_offline_emulator_and_how_to_go_online() -> None:
    reply = text_of(user("Hello")).lower()
    assert "emulated" in reply and "offline" in reply and "key" in reply


@pytest.mark.parametrize(
    ("prompt", "echo"),
    [("How do I reset my git branch?", "reset your git branch"), ("Why is the sky blue?", "the sky is blue"),
     ("Is Python faster than C?", "Python is faster than C"), ("List 3 tips for better sleep", "better sleep"),
     ("Who is Marie Curie?", "Marie Curie"), ("Summarize: The launch moved to May. Sales rose.", "launch")],
)  # fmt: skip
def test_answers_restate_the_question(prompt: str, echo: str) -> None:
    assert echo in text_of(user(prompt))


def test_list_requests_get_that_many_numbered_items() -> None:
    reply = text_of(user("List 5 things about Paris"))
    assert [line.split(".")[0] for line in reply.splitlines()[1:]] == ["1", "2", "3", "4", "5"]
    assert reply.count("Paris") >= 5


def test_code_requests_get_a_fenced_block() -> None:
    reply = text_of(user("Write a python function that reverses a string"))
    assert "```python" in reply and "def reverse_string" in reply and "[::-1]" in reply


def test_terse_system_prompt_shortens_the_answer() -> None:
    question = "Tell me about the Roman Empire"
    long = text_of(user(question))
    short = text_of({"messages": [{"role": "system", "content": "Be terse."}, {"role": "user", "content": question}]})
    assert len(short) < len(long)


def test_the_last_user_message_is_answered_and_parts_are_read() -> None:
    request = {"messages": [
        {"role": "user", "content": "Hello"}, {"role": "assistant", "content": "Hi!"},
        {"role": "user", "content": [{"type": "text", "text": "What is 6 * 7?"},
                                     {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}}]},
    ]}  # fmt: skip
    assert "6 * 7 = 42" in text_of(request)


# --- determinism ----------------------------------------------------------------------------


def test_same_request_same_reply_and_choices_differ() -> None:
    request = user("Tell me about the Roman Empire", tools=[WEATHER], seed=5)
    assert compose(request) == compose(dict(request))
    phrasings = {text_of(request, index) for index in range(6)}
    assert len(phrasings) >= 2


def test_seed_changes_the_phrasing_but_not_the_substance() -> None:
    replies = {text_of(user("What is 2 + 2?", seed=seed)) for seed in range(8)}
    assert len(replies) >= 2 and all("2 + 2 = 4" in reply for reply in replies)


# --- tools ----------------------------------------------------------------------------------


def calls_of(request: dict) -> list[tuple[str, dict]]:
    reply = compose(request)
    assert reply.content is None and reply.tool_calls
    for call in reply.tool_calls:
        assert re.fullmatch(r"call_[A-Za-z0-9]{24}", call.id)
    return [(call.name, json.loads(call.arguments)) for call in reply.tool_calls]


def test_auto_calls_the_matching_tool_with_schema_valid_arguments() -> None:
    [(name, arguments)] = calls_of(user("What's the weather in Paris?", tools=[SEARCH, WEATHER]))
    assert name == "get_weather" and arguments["city"] == "Paris"
    jsonschema.validate(arguments, WEATHER["function"]["parameters"])


def test_a_greeting_in_front_of_a_question_does_not_stop_the_call() -> None:
    [(name, arguments)] = calls_of(user("Hello! What's the weather in Paris?", tools=[WEATHER]))
    assert (name, arguments["city"]) == ("get_weather", "Paris")


def test_auto_answers_in_text_when_no_tool_fits() -> None:
    assert "emulated" in text_of(user("Hello there", tools=[WEATHER, SEARCH]))
    assert "2 + 2 = 4" in text_of(user("What is 2 + 2?", tools=[WEATHER]))


def test_none_never_calls_and_named_always_calls_that_tool() -> None:
    assert compose(user("What's the weather in Paris?", tools=[WEATHER], tool_choice="none")).tool_calls == ()
    named = {"type": "function", "function": {"name": "search_docs"}}
    [(name, arguments)] = calls_of(user("What's the weather in Paris?", tools=[WEATHER, SEARCH], tool_choice=named))
    assert name == "search_docs" and isinstance(arguments["query"], str)


def test_required_calls_the_best_match_even_for_small_talk() -> None:
    request = user("Please search the docs for rate limits", tools=[WEATHER, SEARCH], tool_choice="required")
    [(name, _)] = calls_of(request)
    assert name == "search_docs"
    assert calls_of(user("Hello", tools=[WEATHER], tool_choice="required"))[0][0] == "get_weather"


def test_several_places_become_parallel_calls_unless_disabled() -> None:
    request = user("What's the weather in Paris and Tokyo?", tools=[WEATHER])
    calls = calls_of(request)
    assert [args["city"] for _, args in calls] == ["Paris", "Tokyo"]
    assert len({call.id for call in compose(request).tool_calls}) == 2
    assert len(calls_of({**request, "parallel_tool_calls": False})) == 1


def test_a_tool_without_parameters_gets_empty_arguments() -> None:
    reply = compose(user("What time is it on the server?", tools=[NO_PARAMS], tool_choice="required"))
    assert reply.tool_calls[0].arguments == "{}"


def test_tool_results_are_reported_back_in_text() -> None:
    reply = text_of(weather_turn('{"temperature": 18, "condition": "cloudy"}'))
    assert "18" in reply and "cloudy" in reply and "get_weather" in reply


def test_tool_results_with_required_choice_and_no_finishing_tool_answer_from_them() -> None:
    # Calling get_weather for Paris again would loop forever (issue 19); there is nothing
    # else to call, so the model answers from what it has.
    reply = compose(weather_turn("sunny", tool_choice="required"))
    assert reply.tool_calls == () and "sunny" in reply.content


def test_tool_results_fill_a_structured_answer() -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}, "temperature": {"type": "number"}},
              "required": ["city", "temperature"], "additionalProperties": False}  # fmt: skip
    response_format = {"type": "json_schema", "json_schema": {"name": "w", "schema": schema, "strict": True}}
    value = json.loads(text_of(weather_turn('{"temperature": 18}', response_format=response_format)))
    assert value == {"city": "Paris", "temperature": 18}


# --- response formats -----------------------------------------------------------------------


class Movie(BaseModel):
    title: str
    year: int
    genres: list[str]
    sequel: Optional["Movie"] = None


@pytest.mark.parametrize(
    "schema",
    [Movie.model_json_schema(),
     {"type": "object", "properties": {"answer": {"type": "string"}, "confidence": {"type": "number", "minimum": 0,
                                                                                     "maximum": 1}},
      "required": ["answer", "confidence"], "additionalProperties": False}],
)  # fmt: skip
def test_json_schema_replies_validate(schema: dict) -> None:
    response_format = {"type": "json_schema", "json_schema": {"name": "out", "schema": schema}}
    value = json.loads(text_of(user("Recommend a film like Blade Runner from 1982", response_format=response_format)))
    assert jsonschema.validators.validator_for(schema)(schema).is_valid(value), value


def test_json_schema_answer_field_carries_the_text_answer() -> None:
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
    response_format = {"type": "json_schema", "json_schema": {"name": "a", "schema": schema}}
    assert "2 + 2 = 4" in json.loads(text_of(user("What is 2 + 2?", response_format=response_format)))["answer"]


def test_json_object_wraps_the_answer_or_uses_the_requested_keys() -> None:
    json_object = {"type": "json_object"}
    plain = json.loads(text_of(user("What is 2 + 2?", response_format=json_object)))
    assert isinstance(plain, dict) and "4" in plain["answer"]
    extracted = json.loads(text_of(user("John Smith is 42. Return JSON with keys name and age.",
                                        response_format=json_object)))  # fmt: skip
    assert extracted == {"name": "John Smith", "age": 42}


def test_requested_keys_reads_lists_and_sketches() -> None:
    assert requested_keys('Use fields "title", "year", and "genre".') == ["title", "year", "genre"]
    assert requested_keys('Reply like {"city": "...", "country": "..."}') == ["city", "country"]


# --- robustness -----------------------------------------------------------------------------

_WORDS = ["what", "is", "the", "weather", "in", "Paris", "hello", "list", "3", "ideas", "for", "Tokyo", "why",
          "how", "do", "I", "write", "python", "function", "summarize", ":", "translate", "?", "2", "+", "say",
          "JSON", "keys", "name", "and", "age", "search", "docs", "repeat", "after", "me", "Marie",
          "Curie"]  # fmt: skip
prompts = st.one_of(st.text(max_size=80), st.lists(st.sampled_from(_WORDS), max_size=14).map(" ".join))
contents = st.one_of(
    prompts, st.none(),
    st.lists(st.one_of(st.fixed_dictionaries({"type": st.just("text"), "text": prompts}),
                       st.fixed_dictionaries({"type": st.just("image_url"),
                                              "image_url": st.fixed_dictionaries({"url": st.just("data:,")})})),
             max_size=3),
)  # fmt: skip
messages = st.lists(
    st.fixed_dictionaries({"role": st.sampled_from(["system", "developer", "user", "assistant", "tool"]),
                           "content": contents}, optional={"tool_call_id": st.just("call_1")}),
    min_size=1, max_size=5,
)  # fmt: skip
small_schemas = st.recursive(
    st.sampled_from([{"type": "string"}, {"type": "integer", "minimum": 0}, {"type": "boolean"},
                     {"type": "string", "enum": ["a", "b"]}, {"type": ["number", "null"]}]),
    lambda inner: st.one_of(
        st.dictionaries(st.sampled_from(["city", "name", "query", "count", "tags", "note"]), inner, max_size=3).map(
            lambda props: {"type": "object", "properties": props, "required": list(props),
                           "additionalProperties": False}),
        inner.map(lambda item: {"type": "array", "items": item})),
    max_leaves=6,
)  # fmt: skip
tools = st.lists(
    st.builds(lambda name, params: {"type": "function", "function": {"name": name, "parameters": params}},
              st.sampled_from(["get_weather", "search_docs", "add", "lookup"]),
              st.one_of(st.just({}), small_schemas.map(lambda s: {"type": "object", "properties": {"x": s}}))),
    max_size=3, unique_by=lambda tool: tool["function"]["name"],
)  # fmt: skip
tool_choices = st.one_of(st.none(), st.sampled_from(["none", "auto", "required"]))
formats = st.one_of(st.none(), st.just({"type": "text"}), st.just({"type": "json_object"}),
                    small_schemas.map(lambda s: {"type": "json_schema", "json_schema": {"name": "x", "schema": s}}))


@settings(max_examples=80, deadline=None)
@given(messages, tools, tool_choices, formats, st.one_of(st.none(), st.integers()), st.integers(0, 3))
def test_compose_never_raises_and_always_answers_in_a_valid_shape(
    msgs: list, tool_list: list, choice: str | None, response_format: dict | None, seed: int | None, index: int
) -> None:
    request: dict = {"messages": msgs, "tools": tool_list, "seed": seed}
    if choice and tool_list:
        request["tool_choice"] = choice
    if response_format:
        request["response_format"] = response_format
    reply = compose(request, choice_index=index)
    assert isinstance(reply, Reply) and reply == compose(request, choice_index=index)
    if reply.tool_calls:
        assert reply.content is None
        names = {t["function"]["name"]: t["function"] for t in tool_list}
        for call in reply.tool_calls:
            jsonschema.validate(json.loads(call.arguments), names[call.name].get("parameters") or {})
    else:
        assert isinstance(reply.content, str)
        if response_format and response_format["type"] == "json_schema":
            jsonschema.validate(json.loads(reply.content), response_format["json_schema"]["schema"])
        if response_format and response_format["type"] == "json_object":
            assert isinstance(json.loads(reply.content), dict)


@settings(max_examples=120, deadline=None)
@given(prompts, st.integers(0, 3))
def test_replies_are_never_lorem_ipsum(prompt: str, index: int) -> None:
    reply = compose(user(prompt), choice_index=index).content or ""
    if "lorem" not in prompt.lower():
        assert "lorem" not in reply.lower() and "ipsum" not in reply.lower()
    assert reply.strip() or not prompt.strip() or prompt.strip(" \"'`“”") == ""
