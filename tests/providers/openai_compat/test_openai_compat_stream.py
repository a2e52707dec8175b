"""OpenAI-compatible stream repair: OpenAI, Mistral and OpenRouter chunks → clean chunks."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from behest_local.errors import UpstreamError
from behest_local.providers.shapes import parse_event_json
from behest_local.providers.openai_compat.stream import Translator
from behest_local.providers.openai_compat.transport import CUSTOM, MISTRAL, OPENAI, OPENROUTER
from behest_local.sse import EventJSON, SSEEvent
from tests.providers.streams import call, check_chunks, cuts_for, recorded, run, summary

OPENAI_TOOLS = recorded("openai_compat/openai_tools.sse")
MISTRAL_TOOLS = recorded("openai_compat/mistral_tools.sse")
OPENROUTER_TEXT = recorded("openai_compat/openrouter_text.sse")
OPENAI_EXPECTED = {
    "content": {0: "Checking."},
    "tools": {(0, 0): {"id": "call_a1", "name": "get_weather", "arguments": '{"city": "Paris"}'},
              (0, 1): {"id": "call_b2", "name": "get_time", "arguments": '{"tz": "Europe/Paris"}'}},
    "finish": {0: "tool_calls"},
    "usage": {"prompt_tokens": 40, "completion_tokens": 22, "total_tokens": 62,
              "prompt_tokens_details": {"cached_tokens": 8},
              "completion_tokens_details": {"reasoning_tokens": 5}},
}
MISTRAL_EXPECTED = {
    "content": {0: "Sure."},
    # Both calls came at upstream index 0; each new id opens the next OpenAI index.
    "tools": {(0, 0): {"id": "a1B2c3D4e", "name": "get_weather", "arguments": '{"city": "Paris"}'},
              (0, 1): {"id": "Z9y8X7w6v", "name": "get_weather", "arguments": '{"city": "Lyon"}'}},
    "finish": {0: "tool_calls"},
    "usage": {"prompt_tokens": 10, "completion_tokens": 30, "total_tokens": 40},
}
CASES = {"openai": (OPENAI, OPENAI_TOOLS, OPENAI_EXPECTED),
         "mistral": (MISTRAL, MISTRAL_TOOLS, MISTRAL_EXPECTED),
         "openrouter": (OPENROUTER, OPENROUTER_TEXT, {
             "content": {0: "Hi there, é ✓"}, "tools": {}, "finish": {0: "stop"},
             "usage": {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13}})}


def make(profile, **request):
    return lambda: Translator(call(**request), profile)


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("include_usage", [True, False])
def test_recorded_streams(name, include_usage):
    profile, payload, expected = CASES[name]
    translator = Translator(call(stream_options={"include_usage": include_usage}), profile)
    chunks = run(lambda: translator, payload)
    check_chunks(chunks, include_usage=include_usage)
    assert summary(chunks) == {**expected, "usage": expected["usage"] if include_usage else None}
    assert translator.usage == expected["usage"]  # known to the gateway either way


@pytest.mark.parametrize("name", CASES)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_any_byte_split_gives_the_same_result(name, data):
    profile, payload, expected = CASES[name]
    cuts = data.draw(cuts_for(payload))
    assert summary(run(make(profile, stream_options={"include_usage": True}), payload, cuts)) \
        == expected


def test_openrouter_comments_never_become_chunks():
    chunks = run(make(OPENROUTER), OPENROUTER_TEXT)
    assert all("OPENROUTER" not in json.dumps(c) for c in chunks)
    assert chunks[0]["provider"] == "Anthropic"  # extras pass through


def test_openai_in_stream_error_raises():
    translator = Translator(call(), OPENAI)
    with pytest.raises(UpstreamError) as caught:
        translator.feed(SSEEvent('{"error":{"message":"The server had an error","type":'
                                 '"server_error"}}'))
    assert caught.value.message == "The server had an error" and caught.value.status == 502


def test_openrouter_finish_reason_error_raises_with_its_message():
    chunk = {"id": "gen-1", "object": "chat.completion.chunk", "created": 1, "model": "m",
             "error": {"code": "server_error", "message": "Provider disconnected unexpectedly"},
             "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}]}
    with pytest.raises(UpstreamError) as caught:
        Translator(call(), OPENROUTER).feed(SSEEvent(json.dumps(chunk)))
    assert caught.value.message == "Provider disconnected unexpectedly"


def test_missing_done_after_every_choice_finished_is_accepted():
    """Some local servers (``custom``) end without ``[DONE]``."""
    payload = OPENROUTER_TEXT.replace(b"data: [DONE]\n\n", b"")
    assert summary(run(make(CUSTOM), payload))["finish"] == {0: "stop"}


def test_missing_done_and_finish_is_a_truncation():
    cut = OPENAI_TOOLS.index(b'"finish_reason":"tool_calls"')
    cut = OPENAI_TOOLS.rindex(b"data: ", 0, cut)
    with pytest.raises(UpstreamError) as caught:
        run(make(OPENAI), OPENAI_TOOLS[:cut])
    assert caught.value.code == "upstream_stream_truncated"


def test_model_length_maps_to_length():
    chunk = {"id": "c", "model": "m", "choices": [{"index": 0, "delta": {"content": "x"},
                                                   "finish_reason": "model_length"}]}
    out = Translator(call(), MISTRAL).feed(SSEEvent(json.dumps(chunk)))
    assert out[0]["choices"][0]["finish_reason"] == "length"
    assert out[0]["object"] == "chat.completion.chunk" and out[0]["created"] > 0


# -- chunks relayed as sent: the fast path must give exactly what repair gives -------------

class Repairing(Translator):
    """The reference: every chunk repaired, none relayed as sent."""

    def _as_sent(self, chunk: dict) -> bool:
        return False


def outcome(translator: Translator, datas: list[str]) -> list:
    out = []
    for data in datas:
        try:
            out.append([dict(c) for c in translator.feed(SSEEvent(data))])
        except UpstreamError as error:
            out.append(("error", error.code))
            break
    else:
        try:
            out.append([dict(c) for c in translator.finish()])
        except UpstreamError as error:
            out.append(("error", error.code))
    return out


def canonical(index: int = 0, content: str = "Hi") -> dict:
    return {"id": "c1", "object": "chat.completion.chunk", "created": 7, "model": "m",
            "system_fingerprint": "fp", "choices": [
                {"index": index, "delta": {"content": content}, "logprobs": None,
                 "finish_reason": None}]}


def first_choice(chunk: dict) -> dict:
    choices = chunk.get("choices") or [{"delta": {}}]  # a change to no choice changes nothing
    if not isinstance(choices[0].get("delta"), dict):
        choices[0]["delta"] = {}
    return choices[0]


# Each changes one thing the repair looks at; most chunks get none, as in a real stream.
CHANGES = {
    "other id": lambda c: c.update(id="c2"), "no id": lambda c: c.pop("id", None),
    "no object": lambda c: c.pop("object", None), "other created": lambda c: c.update(created=8),
    "no created": lambda c: c.pop("created", None), "other model": lambda c: c.update(model="x"),
    "no model": lambda c: c.pop("model", None), "usage null": lambda c: c.update(usage=None),
    "usage": lambda c: c.update(usage={"prompt_tokens": 1, "completion_tokens": 2}),
    "usage only": lambda c: c.update(choices=[], usage={"prompt_tokens": 1}),
    "choices null": lambda c: c.update(choices=None),
    "no choices": lambda c: c.pop("choices", None),
    "error": lambda c: c.update(error={"message": "boom"}),
    "second choice": lambda c: c.update(choices=[*(c.get("choices") or []),
                                                 canonical(1, "b")["choices"][0]]),
    "index 1": lambda c: first_choice(c).update(index=1),
    "no index": lambda c: first_choice(c).pop("index", None),
    "role": lambda c: first_choice(c)["delta"].update(role="assistant"),
    "empty delta": lambda c: first_choice(c).update(delta={}),
    "delta null": lambda c: first_choice(c).update(delta=None),
    "no delta": lambda c: first_choice(c).pop("delta", None),
    "tool call": lambda c: first_choice(c)["delta"].update(tool_calls=[{
        "index": 0, "id": "call_1", "type": "function",
        "function": {"name": "f", "arguments": {"a": 1}}}]),
    "tool calls null": lambda c: first_choice(c)["delta"].update(tool_calls=None),
    "no logprobs": lambda c: first_choice(c).pop("logprobs", None),
    "no finish": lambda c: first_choice(c).pop("finish_reason", None),
    "stop": lambda c: first_choice(c).update(finish_reason="stop"),
    "model_length": lambda c: first_choice(c).update(finish_reason="model_length"),
    "finish error": lambda c: first_choice(c).update(finish_reason="error"),
    "finish 3": lambda c: first_choice(c).update(finish_reason=3),
}


def changed(names: list[str]) -> dict:
    chunk = canonical()
    for name in names:
        CHANGES[name](chunk)
    return chunk


CHUNK = st.lists(st.sampled_from(sorted(CHANGES)), max_size=2).map(changed)


@settings(max_examples=300, deadline=None)
@given(chunks=st.lists(CHUNK, min_size=1, max_size=8),
       include_usage=st.booleans(), spaced=st.booleans(), profile=st.sampled_from(
           [OPENAI, MISTRAL]), done=st.booleans())
def test_relayed_as_sent_is_what_repair_gives(chunks, include_usage, spaced, profile, done):
    separators = (", ", ": ") if spaced else (",", ":")
    datas = [json.dumps(c, separators=separators) for c in chunks] + (["[DONE]"] if done else [])
    request = {"stream_options": {"include_usage": include_usage}}
    fast = Translator(call(**request), profile)
    assert outcome(fast, datas) == outcome(Repairing(call(**request), profile), datas)


def test_plain_text_chunks_keep_the_upstream_text():
    first = ('{"id":"c","object":"chat.completion.chunk","created":7,"model":"m","choices":'
             '[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,'
             '"finish_reason":null}]}')
    text = first.replace('"role":"assistant","content":""', '"content":"é"')
    for include_usage in (True, False):
        translator = Translator(call(stream_options={"include_usage": include_usage}))
        translator.feed(SSEEvent(first))
        [chunk] = translator.feed(SSEEvent(text))
        assert isinstance(chunk, EventJSON)
        assert chunk.text == (text[:-1] + ',"usage":null}' if include_usage else text)
        assert json.loads(chunk.text) == chunk


@settings(max_examples=300, deadline=None)
@given(st.one_of(
    st.dictionaries(st.text(max_size=4), st.none() | st.integers() | st.text(max_size=4),
                    max_size=3).map(json.dumps),
    st.text(alphabet='{}[]":,0123456789 aen\\ul', max_size=12)))
def test_event_json_parses_as_json_loads_does(data):
    try:
        expected = json.loads(data)
    except ValueError:
        expected = "malformed"
    try:
        got = parse_event_json(data, "p")
    except UpstreamError as error:
        got = "malformed" if "malformed" in error.message else "not an object"
        assert got == ("malformed" if expected == "malformed" else "not an object")
        assert not isinstance(expected, dict)
    else:
        assert got == expected and isinstance(got, dict)
