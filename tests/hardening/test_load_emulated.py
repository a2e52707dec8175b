"""Hardening (issue 17, item 1): the emulated model's work per request does not grow with
the prompt.

It used to walk the whole prompt many times over (intent regexes, cue readers whose
deduplication was quadratic, a SHA-256 of the canonical JSON of the request per choice, a
tokenizer pass for ``usage``): ~0.6 s of event-loop time per MiB of plain prose and minutes
for a MiB of distinct words. Now it reads a bounded view (``bounds.bounded_request``) once
per request, and ``usage`` counts big prompts by sampling and a linear estimate.
"""

from __future__ import annotations

import functools
import random
import string

from behest_local.providers.emulated import bounds
from behest_local.providers.emulated.composer import compose, read_request
from behest_local.providers.tokens import (EXACT_CHARS, SAMPLED_ITEMS, count_prompt_tokens,
                                           count_tokens, estimate_tokens)

MiB = 1024 * 1024


@functools.cache
def _words(size: int, seed: int = 1) -> str:
    """``size`` characters of seven-letter words (a MiB of them, repeated past that)."""
    if size > MiB:
        return (_words(MiB, seed) * (size // MiB + 1))[:size]
    rnd = random.Random(seed)
    count = size // 8 + 1
    return " ".join("".join(rnd.choices(string.ascii_lowercase, k=7)) for _ in range(count))[:size]


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def test_a_request_within_bounds_is_read_as_it_is():
    request = {"messages": [{"role": "system", "content": "Be brief."},
                            {"role": "user", "content": _words(6000)}],
               "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]}
    reading = read_request(request)
    assert reading.request is request and reading.digest == b""


def test_a_19_mib_message_is_read_as_its_head_and_tail_within_the_budgets():
    text = 'Respond with "ok".\n' + _words(19 * MiB) + "\nWhat is the capital of France?"
    view = read_request({"messages": [{"role": "user", "content": text}]}).request
    read = view["messages"][0]["content"]
    assert len(read) <= bounds.TEXT_CHARS + len(bounds.GAP)
    assert read.startswith('Respond with "ok".') and read.endswith("capital of France?")
    assert compose({"messages": [{"role": "user", "content": text}]}).content == "ok"


def test_half_a_million_messages_are_read_as_the_first_and_the_latest_ones():
    messages = [{"role": "system", "content": "You are terse."}]
    messages += [{"role": "user", "content": f"message {i}"} for i in range(500_000)]
    messages.append({"role": "user", "content": 'Respond with "last one".'})
    reading = read_request({"messages": messages})
    read = reading.request["messages"]
    assert len(read) == bounds.LIST_ITEMS and reading.digest
    assert read[0] == messages[0] and read[-1] == messages[-1]
    assert reading.conversation.instructions == "You are terse."
    assert compose({"messages": messages}).content == "last one"


def test_the_view_of_any_request_stays_within_the_value_and_character_budgets():
    parts = [{"type": "text", "text": _words(50_000)} for i in range(300)]
    schema = {"type": "object", "properties": {f"p{i}": {"type": "string"} for i in range(10_000)}}
    request = {"messages": [{"role": "user", "content": parts}],
               "response_format": {"type": "json_schema", "json_schema": {"name": "s", "schema": schema}},
               "tools": [{"type": "function", "function": {"name": f"t{i}", "description": _words(9000)}}
                         for i in range(500)]}
    view = read_request(request).request
    texts = list(_strings({k: view[k] for k in bounds.READ_FIELDS if k in view}))
    assert len(texts) <= bounds.NODES
    assert sum(map(len, texts)) <= bounds.CHARS + bounds.TEXT_CHARS + len(texts) * (
        bounds.SPENT_CHARS + len(bounds.GAP))


def test_large_requests_are_answered_deterministically_and_told_apart_by_their_digest():
    first = {"messages": [{"role": "user", "content": "Tell me about " + _words(2 * MiB, seed=1)}]}
    second = {"messages": [{"role": "user", "content": "Tell me about " + _words(2 * MiB, seed=2)}]}
    assert compose(first) == compose(first)
    assert read_request(first).digest != read_request(second).digest


def test_the_prompt_count_is_exact_for_ordinary_prompts_and_estimated_for_huge_ones():
    ordinary = [{"role": "user", "content": _words(EXACT_CHARS // 2)}]
    assert count_prompt_tokens(ordinary) == 3 + 3 + count_tokens("user") + count_tokens(ordinary[0]["content"])
    huge = [{"role": "user", "content": _words(19 * MiB)}]
    assert count_prompt_tokens(huge) == 3 + 3 + count_tokens("user") + estimate_tokens(huge[0]["content"])


def test_a_long_conversation_is_counted_from_a_sample_scaled_to_its_length():
    one = {"role": "user", "content": "Hello there, how are you?"}
    per_message = count_prompt_tokens([one]) - 3
    many = [one] * (SAMPLED_ITEMS * 1000)
    assert count_prompt_tokens(many) == 3 + per_message * len(many)
