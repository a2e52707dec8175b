"""The common-case pass of ``validate_chat_request`` accepts only what the full checks accept.

``_plainly_valid`` answers True only for bodies the full checks would pass unchanged;
every other body, and so every error message, comes from the full checks. Hypothesis
builds bodies from the fields the fast pass knows, with values of every JSON type.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from behest_local.dialects import chat
from behest_local.dialects.chat import _plainly_valid, validate_chat_request
from behest_local.errors import InvalidRequestError

scalars = st.one_of(st.none(), st.booleans(), st.integers(-300, 300),
                    st.floats(-3, 3, allow_nan=False), st.sampled_from(["", "x", "user"]))
values = st.one_of(scalars, st.lists(scalars, max_size=2),
                   st.dictionaries(st.sampled_from(["include_usage", "include_obfuscation",
                                                    "other"]), scalars, max_size=2))
roles = st.one_of(st.sampled_from([*chat.ROLES, "robot"]), st.none(), st.integers(),
                  st.lists(st.just("user"), max_size=1))
contents = st.one_of(st.text(max_size=3), st.none(), st.integers(),
                     st.lists(st.fixed_dictionaries({"type": st.just("text"),
                                                     "text": st.text(max_size=2)}), max_size=1))
messages = st.lists(st.one_of(
    st.fixed_dictionaries({"role": roles, "content": contents},
                          optional={"name": st.one_of(st.text(max_size=2), st.none(),
                                                      st.integers()),
                                    "tool_call_id": st.text(max_size=2)}),
    scalars), max_size=3)
fields = st.sampled_from(["model", "user", "stream", "logprobs", "store", "temperature",
                          "top_p", "presence_penalty", "frequency_penalty", "n", "max_tokens",
                          "max_completion_tokens", "seed", "stream_options", "metadata",
                          "top_logprobs", "tools", "unknown_field"])
bodies = st.builds(lambda m, extra: {"messages": m, **extra},
                   st.one_of(messages, scalars),
                   st.dictionaries(fields, values, max_size=5))


def full_check(body: dict) -> dict:
    """The full checks alone (the fast pass switched off); raises for a bad body."""
    original = chat._plainly_valid
    chat._plainly_valid = lambda body: False
    try:
        return validate_chat_request(body)
    finally:
        chat._plainly_valid = original


@settings(max_examples=300, deadline=None)
@given(bodies)
def test_the_fast_pass_accepts_only_what_the_full_checks_accept(body):
    if _plainly_valid(body):
        checked = full_check(body)  # raises if the full checks refuse what the fast pass took
        assert checked["messages"] == body["messages"]


@pytest.mark.parametrize("body", [
    {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]},
    {"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi",
                                                              "name": "ann"}],
     "stream": True, "stream_options": {"include_usage": True}, "temperature": 0.2,
     "max_tokens": 5, "n": 1, "seed": 7, "user": "u1"},
    {"messages": [{"role": "assistant", "content": ""}], "model": None, "top_p": 1},
])
def test_common_bodies_take_the_fast_pass(body):
    assert _plainly_valid(body)
    assert validate_chat_request(body) is body


@pytest.mark.parametrize("body", [
    {"messages": [{"role": "user", "content": "hi"}], "stream_options": {"include_usage": True}},
    {"messages": [{"role": "user", "content": "hi"}], "temperature": 2.5},
    {"messages": [{"role": "tool", "content": "x"}]},
    {"messages": []},
    {"messages": [{"role": ["user"], "content": "x"}]},
])
def test_faults_are_worded_by_the_full_checks(body):
    assert not _plainly_valid(body)
    with pytest.raises(InvalidRequestError) as fast:
        validate_chat_request(body)
    with pytest.raises(InvalidRequestError) as full:
        full_check(body)
    assert fast.value.message == full.value.message
