"""Tests for the legacy /v1/completions translators (behest_local.dialects.completions).

Results are validated with the openai SDK's ``Completion`` model, which the SDK uses for
both whole responses and stream chunks (the two share one shape, providers.md §2).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openai.types import Completion

from behest_local.dialects.completions import (
    DEFAULT_MAX_TOKENS,
    CompletionsStreamTranslator,
    from_chat_completion,
    merge_completions,
    prompts,
    sum_usage,
    to_chat_request,
    validate_completions_request,
)
from behest_local.errors import InvalidRequestError

CREATED = 1_700_000_000
MODEL = "gpt-3.5-turbo-instruct"
CMPL_ID = "cmpl-test1"


def chat_completion(*contents: str, finish: str = "stop", usage: dict | None = None) -> dict:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": CREATED,
        "model": MODEL,
        "system_fingerprint": "fp_local",
        "choices": [
            {"index": i, "message": {"role": "assistant", "content": c}, "logprobs": None, "finish_reason": finish}
            for i, c in enumerate(contents)
        ],
        "usage": usage or {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5},
    }


def chunk(content: str | None = None, finish: str | None = None, *, index: int = 0, usage: dict | None = None) -> dict:
    base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": CREATED, "model": MODEL}
    if usage is not None:
        return {**base, "choices": [], "usage": usage}
    delta = {} if content is None else {"content": content}
    choice = {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}
    return {**base, "choices": [choice], "usage": None}


def translator(request: dict, prompt_index: int = 0) -> CompletionsStreamTranslator:
    return CompletionsStreamTranslator(
        request=request, completion_id=CMPL_ID, created=CREATED, model=MODEL, prompt_index=prompt_index
    )


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("body", "param", "fragment"),
    [
        ({"model": MODEL}, "prompt", "Missing required parameter"),
        ({"prompt": "x", "messages": []}, "messages", "Unrecognized request argument supplied: messages"),
        ({"prompt": 5}, "prompt", "expected a string"),
        ({"prompt": []}, "prompt", "empty array"),
        ({"prompt": ["a", 1]}, "prompt", "not a mixture"),
        ({"prompt": [[1, 2], [3, "x"]]}, "prompt[1]", "token ids"),
        ({"prompt": [1, -2]}, "prompt[1]", "negative"),
        ({"prompt": "x", "max_tokens": 0}, "max_tokens", ">= 1"),
        ({"prompt": "x", "n": 0}, "n", ">= 1"),
        ({"prompt": "x", "logprobs": 6}, "logprobs", "<= 5"),
        ({"prompt": "x", "logprobs": True}, "logprobs", "expected an integer"),
        ({"prompt": "x", "echo": "yes"}, "echo", "expected a boolean"),
        ({"prompt": "x", "suffix": 1}, "suffix", "expected a string"),
        ({"prompt": "x", "temperature": 2.1}, "temperature", "<= 2"),
        ({"prompt": "x", "top_p": -0.1}, "top_p", ">= 0"),
        ({"prompt": "x", "stop": ["a", "b", "c", "d", "e"]}, "stop", "at most 4"),
        ({"prompt": "x", "stop": 3}, "stop", "expected a string or an array"),
        ({"prompt": "x", "n": 3, "best_of": 2}, "best_of", "greater than or equal to n"),
        ({"prompt": "x", "best_of": 2, "stream": True}, "best_of", "cannot be used with stream"),
        ({"prompt": "x", "stream_options": {"include_usage": True}}, "stream_options", "only allowed"),
        ({"prompt": "x", "stream": True, "stream_options": {"x": 1}}, "stream_options.x", "Unrecognized"),
        ({"prompt": "x", "logit_bias": {"50256": 200}}, "logit_bias.50256", "between -100 and 100"),
    ],
)
def test_invalid_requests_name_the_param(body: dict, param: str, fragment: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        validate_completions_request(body)
    assert info.value.param == param
    assert info.value.status == 400
    assert fragment in info.value.message


def test_valid_request_gets_default_max_tokens() -> None:
    body = {"model": MODEL, "prompt": "Say", "logprobs": 2, "echo": True, "suffix": "!", "best_of": 1, "seed": 7}
    validated = validate_completions_request(body)
    assert validated == {**body, "max_tokens": DEFAULT_MAX_TOKENS}
    assert DEFAULT_MAX_TOKENS == 16
    assert "max_tokens" not in body  # the caller's dict is untouched


def test_non_object_body_is_rejected() -> None:
    with pytest.raises(InvalidRequestError) as info:
        validate_completions_request("prompt")
    assert "JSON object" in info.value.message


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("Hello", ["Hello"]),
        (["a", "b"], ["a", "b"]),
        ([1212, 318, 257], ["1212 318 257"]),
        ([[1, 2], [3]], ["1 2", "3"]),
    ],
)
def test_prompts_accepts_every_shape(prompt: object, expected: list[str]) -> None:
    assert prompts(validate_completions_request({"prompt": prompt})) == expected


# --------------------------------------------------------------------------- request mapping


def test_to_chat_request_wraps_the_prompt_as_one_user_message() -> None:
    body = validate_completions_request(
        {
            "model": MODEL,
            "prompt": ["first", "second"],
            "max_tokens": 5,
            "temperature": 0.3,
            "top_p": 0.9,
            "n": 2,
            "stop": ["\n"],
            "presence_penalty": 0.1,
            "frequency_penalty": 0.2,
            "logit_bias": {"50256": -100},
            "seed": 1,
            "user": "u",
            "echo": True,
            "suffix": "end",
            "logprobs": 1,
            "best_of": 2,
        }
    )
    assert to_chat_request(body, prompt_index=1) == {
        "model": MODEL,
        "messages": [{"role": "user", "content": "second"}],
        "max_tokens": 5,
        "temperature": 0.3,
        "top_p": 0.9,
        "n": 2,
        "stop": ["\n"],
        "presence_penalty": 0.1,
        "frequency_penalty": 0.2,
        "logit_bias": {"50256": -100},
        "seed": 1,
        "user": "u",
    }


def test_to_chat_request_streaming_and_default_max_tokens() -> None:
    body = validate_completions_request({"prompt": [5, 6], "stream": True, "stream_options": {"include_usage": True}})
    assert to_chat_request(body) == {
        "messages": [{"role": "user", "content": "5 6"}],
        "max_tokens": 16,
        "stream": True,
        "stream_options": {"include_usage": True},
    }


# --------------------------------------------------------------------------- whole completions


def test_from_chat_completion_is_an_sdk_completion() -> None:
    request = validate_completions_request({"model": MODEL, "prompt": "Say hi", "logprobs": 3})
    result = from_chat_completion(chat_completion(" hi"), request=request, completion_id=CMPL_ID, created=CREATED)
    assert result == {
        "id": CMPL_ID,
        "object": "text_completion",
        "created": CREATED,
        "model": MODEL,
        "choices": [{"text": " hi", "index": 0, "logprobs": None, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5},
        "system_fingerprint": "fp_local",
    }
    assert Completion.model_validate(result).choices[0].text == " hi"


def test_echo_prepends_the_prompt_and_length_is_kept() -> None:
    request = validate_completions_request({"prompt": "Once", "echo": True})
    result = from_chat_completion(
        chat_completion(" upon", finish="length"), request=request, completion_id=CMPL_ID, created=CREATED
    )
    assert result["choices"][0]["text"] == "Once upon"
    assert result["choices"][0]["finish_reason"] == "length"
    assert Completion.model_validate(result)


def test_chat_only_finish_reasons_become_stop() -> None:
    request = validate_completions_request({"prompt": "x"})
    result = from_chat_completion(
        chat_completion("y", finish="tool_calls"), request=request, completion_id=CMPL_ID, created=CREATED
    )
    assert result["choices"][0]["finish_reason"] == "stop"


def test_multiple_prompts_merge_with_openai_choice_numbering() -> None:
    """choices are numbered prompt_index * n + i and usage is summed over the prompts."""
    request = validate_completions_request({"model": MODEL, "prompt": ["a", "b"], "n": 2})
    usage_a = {
        "prompt_tokens": 1,
        "completion_tokens": 4,
        "total_tokens": 5,
        "prompt_tokens_details": {"cached_tokens": 1},
    }
    usage_b = {"prompt_tokens": 2, "completion_tokens": 6, "total_tokens": 8}
    parts = [
        from_chat_completion(
            chat_completion(f"{p}1", f"{p}2", usage=u),
            request=request,
            completion_id=CMPL_ID,
            created=CREATED,
            prompt_index=i,
        )
        for i, (p, u) in enumerate([("a", usage_a), ("b", usage_b)])
    ]
    merged = merge_completions(list(reversed(parts)))
    assert [(c["index"], c["text"]) for c in merged["choices"]] == [(0, "a1"), (1, "a2"), (2, "b1"), (3, "b2")]
    assert merged["usage"] == {
        "prompt_tokens": 3,
        "completion_tokens": 10,
        "total_tokens": 13,
        "prompt_tokens_details": {"cached_tokens": 1},
    }
    assert Completion.model_validate(merged).usage.total_tokens == 13


def test_merge_without_usage_and_empty_merge() -> None:
    request = validate_completions_request({"prompt": "a"})
    part = from_chat_completion(chat_completion("x"), request=request, completion_id=CMPL_ID, created=CREATED)
    part["usage"] = None
    assert merge_completions([part])["usage"] is None
    with pytest.raises(ValueError):
        merge_completions([])


def test_sum_usage_adds_nested_details() -> None:
    total = sum_usage(
        [
            {"prompt_tokens": 1, "completion_tokens_details": {"reasoning_tokens": 2}},
            {"prompt_tokens": 2, "completion_tokens_details": {"reasoning_tokens": 3}},
        ]
    )
    assert total == {"prompt_tokens": 3, "completion_tokens_details": {"reasoning_tokens": 5}}


# --------------------------------------------------------------------------- streaming


def test_stream_chunks_are_text_completion_chunks_and_usage_passes_through() -> None:
    request = validate_completions_request(
        {"prompt": "Say", "stream": True, "stream_options": {"include_usage": True}}
    )
    t = translator(request)
    usage = {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}
    out = []
    for c in [chunk(""), chunk(" hel"), chunk("lo"), chunk(None, "stop"), chunk(usage=usage)]:
        out += t.feed(c)
    assert [c["choices"][0]["text"] for c in out[:-1]] == [" hel", "lo", ""]  # the empty role chunk is dropped
    assert all(c["object"] == "text_completion" and c["id"] == CMPL_ID for c in out)
    assert out[-2]["choices"][0]["finish_reason"] == "stop"
    assert out[-1] == {
        "id": CMPL_ID,
        "object": "text_completion",
        "created": CREATED,
        "model": MODEL,
        "choices": [],
        "usage": usage,
    }
    assert t.usage == usage
    assert Completion.model_validate(out[-2]) and Completion.model_validate(out[-1])
    assert all(c["choices"][0]["finish_reason"] is None for c in out[:-2])
    assert all(c["usage"] is None for c in out[:-1])  # include_usage: null on every other chunk


def test_stream_echo_and_prompt_offset() -> None:
    request = validate_completions_request({"prompt": ["p0", "p1"], "n": 2, "echo": True, "stream": True})
    t = translator(request, prompt_index=1)
    out = []
    for c in [chunk("", index=0), chunk("", index=1), chunk("x", index=0), chunk("y", index=1)]:
        out += t.feed(c)
    texts: dict[int, str] = {}
    for c in out:
        for choice in c["choices"]:
            texts[choice["index"]] = texts.get(choice["index"], "") + choice["text"]
    assert texts == {2: "p1x", 3: "p1y"}
    assert t.usage is None


def test_usage_chunk_can_be_held_back_for_a_summed_one() -> None:
    request = validate_completions_request(
        {"prompt": ["a", "b"], "stream": True, "stream_options": {"include_usage": True}}
    )
    usage = {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}
    t = CompletionsStreamTranslator(
        request=request, completion_id=CMPL_ID, created=CREATED, model=MODEL, prompt_index=1, emit_usage=False
    )
    assert t.feed(chunk(usage=usage)) == []
    assert t.usage == usage


def test_stream_without_usage_chunk_has_no_usage_key_when_upstream_sends_none() -> None:
    request = validate_completions_request({"prompt": "x", "stream": True})
    c = chunk("a")
    del c["usage"]
    (out,) = translator(request).feed(c)
    assert "usage" not in out
    assert out["choices"] == [{"text": "a", "index": 0, "logprobs": None, "finish_reason": None}]


@settings(max_examples=75, deadline=None)
@given(
    text=st.text(max_size=60),
    cuts=st.lists(st.integers(min_value=0, max_value=60), max_size=8),
)
def test_any_split_of_the_text_streams_back_to_the_same_text(text: str, cuts: list[int]) -> None:
    bounds = sorted({0, len(text), *(min(c, len(text)) for c in cuts)})
    pieces = [text[a:b] for a, b in zip(bounds, bounds[1:])]
    t = translator(validate_completions_request({"prompt": "x", "stream": True}))
    out = []
    for c in [chunk("")] + [chunk(p) for p in pieces] + [chunk(None, "length")]:
        out += t.feed(c)
    assert "".join(c["choices"][0]["text"] for c in out) == text
    assert out[-1]["choices"][0]["finish_reason"] == "length"
    assert all(c["choices"][0]["finish_reason"] is None for c in out[:-1])
