"""``translate.as_sent``: True only for replies ``from_native`` would leave as they are.

A reply ``as_sent`` accepts goes to the client as the upstream's own text, so the claim
must hold for every shape: Hypothesis builds replies with each field ``from_native``
repairs present, absent, null or odd, and ``from_native`` must then neither fail nor
change anything.
"""

from __future__ import annotations

import copy

from hypothesis import given, settings
from hypothesis import strategies as st

from behest_local.providers.openai_compat.translate import as_sent, from_native

odd = st.one_of(st.none(), st.integers(0, 2), st.text(max_size=2), st.just([]), st.just({}))
reasons = st.one_of(st.sampled_from(["stop", "length", "tool_calls", "model_length", "error"]),
                    odd)
functions = st.one_of(odd, st.fixed_dictionaries(
    {}, optional={"name": st.just("f"), "arguments": st.one_of(st.just("{}"),
                                                               st.just({"x": 1}), odd)}))
calls = st.one_of(odd, st.lists(st.one_of(odd, st.fixed_dictionaries(
    {"id": st.just("c1")}, optional={"type": st.just("function"), "function": functions})),
    max_size=2))
messages = st.one_of(odd, st.fixed_dictionaries(
    {"role": st.just("assistant")}, optional={"content": st.one_of(st.text(max_size=3), odd),
                                              "tool_calls": calls}))
choices = st.one_of(odd, st.lists(st.one_of(odd, st.fixed_dictionaries(
    {"index": st.just(0)}, optional={"message": messages, "logprobs": odd,
                                     "finish_reason": reasons})), max_size=2))
usages = st.one_of(odd, st.fixed_dictionaries(
    {"prompt_tokens": st.just(3)}, optional={"completion_tokens": st.just(4),
                                             "total_tokens": st.one_of(st.just(7), st.none())}))
replies = st.one_of(odd, st.fixed_dictionaries(
    {"id": st.just("chatcmpl-1")}, optional={"object": st.just("chat.completion"),
                                             "choices": choices, "usage": usages}))


@settings(max_examples=400, deadline=None)
@given(replies)
def test_as_sent_means_from_native_changes_nothing(reply):
    if as_sent(reply):
        original = copy.deepcopy(reply)
        assert from_native("chat", reply) == original


def test_a_plain_openai_reply_is_as_sent():
    reply = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o",
             "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi",
                                                  "refusal": None},
                          "logprobs": None, "finish_reason": "stop"}],
             "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
    assert as_sent(reply)


def test_replies_needing_repair_are_not_as_sent():
    base = {"object": "chat.completion", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "hi"}, "logprobs": None,
         "finish_reason": "stop"}]}
    assert as_sent(base)
    assert not as_sent({"choices": base["choices"]})
    assert not as_sent({**base, "usage": {"prompt_tokens": 1, "completion_tokens": 2}})
    for change in ({"finish_reason": "model_length"}, {"finish_reason": "error"},
                   {"message": {"role": "assistant", "content": "", "tool_calls": None}}):
        assert not as_sent({**base, "choices": [{**base["choices"][0], **change}]})
    assert not as_sent({**base, "choices": [{"index": 0, "finish_reason": "stop"}]})
