"""Hardening (issue 17, item 1): a large JSON body is decoded and checked beside the loop.

A 20 MiB body of seven million empty arrays held the event loop for 1.5 s in one call of
``json``'s C scanner, and the route's validator then walked it on the loop too. Bodies over
``big_body.INLINE_BYTES`` are now decoded and checked in a worker thread, value by value
when they may hold many values, so the loop gets the GIL back every few milliseconds. The
walk must decode exactly what ``json`` decodes and fail exactly where it fails.
"""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import given, settings, strategies as st

from behest_local.server import big_body

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=5), children,
                                                                         max_size=5),
    max_leaves=40)


@settings(max_examples=300, deadline=None)
@given(json_values, st.sampled_from([None, 0, 2]), st.booleans())
def test_the_walk_decodes_what_json_decodes(value, indent, ascii_only):
    text = json.dumps(value, indent=indent, ensure_ascii=ascii_only)
    assert big_body._walk(text) == json.loads(text)
    assert big_body._walk(f" \n{text}\t ") == json.loads(f" \n{text}\t ")


MALFORMED = ['[1,]', '{"a":1,}', '{"a" 1}', '{a:1}', '[1 2]', '{"a":1 "b":2}', '[', '{', '[1,',
             '{"a":', '"unterminated', '[1]x', '{"a":[1,{"b":}]}', '[NaN]', '[01]', '[tru]',
             '{"a":"\\x"}', '["\x01"]', '', '  ', '{"a":1}}', '[[]]]', '[-]', '{"":{"":[}]}']


@pytest.mark.parametrize("text", MALFORMED)
def test_the_walk_fails_where_json_fails_and_says_the_same(text):
    try:
        json.loads(text, parse_constant=big_body._refuse_constant)
    except json.JSONDecodeError as expected:
        with pytest.raises(json.JSONDecodeError) as got:
            big_body._walk(text)
        assert (got.value.msg, got.value.pos) == (expected.msg, expected.pos)
    except ValueError as expected:  # NaN and friends are refused, not decoded
        with pytest.raises(ValueError, match=str(expected)):
            big_body._walk(text)


def test_nesting_deeper_than_json_allows_fails_as_json_does():
    with pytest.raises(RecursionError):
        big_body._walk("[" * 100_000 + "]" * 100_000)
    deep = "[" * (big_body.MAX_DEPTH // 2) + "]" * (big_body.MAX_DEPTH // 2)
    assert big_body._walk(deep) == json.loads(deep)


def test_a_body_of_few_values_goes_to_the_c_scanner_and_one_of_many_is_walked(monkeypatch):
    walked = []
    monkeypatch.setattr(big_body, "_walk", lambda text: walked.append(text) or json.loads(text))
    big_body.decode_large(json.dumps({"messages": [{"role": "user", "content": "x" * 10**6}]}))
    assert not walked
    big_body.decode_large(json.dumps([[]] * 100_000))
    assert len(walked) == 1


CHAT = "/v1/chat/completions"


@pytest.mark.parametrize("body, message", [
    ("[" + ",".join(["[]"] * 300_000) + "]", "must be a JSON object"),
    ('{"messages": [' + ",".join(['{"role": "user"}'] * 20_000) + "]}", "messages[0].content"),
    ("[" * 40_000 + "]" * 40_000, "could not parse the JSON body"),
    ('{"messages": [' + ",".join(["1"] * 100_000), "could not parse the JSON body"),
], ids=["many-values", "many-messages", "too-deep", "truncated"])
async def test_a_large_bad_body_is_a_400_in_openai_shape(gateway_client, body, message):
    # Larger than big_body.INLINE_BYTES, within the suite's 1 MiB body limit.
    assert big_body.INLINE_BYTES < len(body) < 1024 * 1024
    resp = await gateway_client.post(CHAT, data=io.BytesIO(body.encode()), headers={
        **gateway_client.headers_auth, "Content-Type": "application/json"})
    assert resp.status == 400
    error = (await resp.json())["error"]
    assert message in error["message"] and error["type"] == "invalid_request_error"


async def test_a_large_valid_body_is_answered_as_a_small_one_is(gateway_client):
    messages = [{"role": "user", "content": f"note {i}"} for i in range(5000)]
    messages.append({"role": "user", "content": 'Respond with "seen".'})
    resp = await gateway_client.post(CHAT, json={"model": "gpt-4o", "messages": messages},
                                     headers=gateway_client.headers_auth)
    assert resp.status == 200
    assert (await resp.json())["choices"][0]["message"]["content"] == "seen"


def test_dismantling_frees_what_was_ours_and_leaves_what_others_still_hold_whole():
    freed = []

    class Canary:
        def __del__(self):
            freed.append(self)

    shared = [{"id": "call_1"}, {"id": "call_2"}]

    def body() -> dict:  # made in the call: the holder's is the only reference
        parts = [{"type": "text", "text": Canary()} for _ in range(70_000)]
        return {"messages": [{"role": "user", "content": parts},
                             {"role": "assistant", "tool_calls": shared}]}

    big_body.dismantle([body()])
    assert len(freed) == 70_000
    assert shared == [{"id": "call_1"}, {"id": "call_2"}]  # a thread's copy may share it
