"""``DeltaTemplate``: recognising a plain content delta by its text must change nothing.

The proof is differential: a ``Translator`` that learns templates and one that never does
are fed the same events (Hypothesis writes them: content with escapes, quotes, controls
and astral characters; other ids, models, choices, finishes, usage; other spacing and key
order; malformed text) and must produce the same chunks, the same text and the same
errors.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from behest_local.errors import UpstreamError
from behest_local.providers.base import ChatCall
from behest_local.providers.openai_compat import stream as stream_module
from behest_local.providers.openai_compat.delta_template import DeltaTemplate
from behest_local.providers.openai_compat.stream import Translator
from behest_local.sse import EventJSON, SSEEvent, encode_json

HEADER = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 7,
          "model": "gpt-4o"}


def chunk(content=None, *, finish=None, usage="null", index=0, **header) -> dict:
    delta = {} if content is None else {"content": content}
    body = {**HEADER, **header, "choices": [{"index": index, "delta": delta, "logprobs": None,
                                             "finish_reason": finish}]}
    if usage != "absent":
        body["usage"] = None if usage == "null" else usage
    return body


def compact(obj) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


texts = st.text(alphabet=st.characters(codec="utf-8"), max_size=12)
events = st.one_of(
    texts.map(lambda t: compact(chunk(t))),  # the common case, templated
    texts.map(lambda t: json.dumps(chunk(t))),  # spaced: not the template's form
    texts.map(lambda t: json.dumps(chunk(t), separators=(",", ":"))),  # \u escapes
    texts.map(lambda t: compact(chunk(t, id="chatcmpl-2"))),
    texts.map(lambda t: compact(chunk(t, model="other"))),
    texts.map(lambda t: compact(chunk(t, index=1))),
    texts.map(lambda t: compact(chunk(t, usage="absent"))),
    texts.map(lambda t: compact(chunk(t)).replace('"logprobs":null', '"logprobs":true')),
    texts.map(lambda t: compact(chunk(t, finish="stop"))),
    texts.map(lambda t: compact(chunk(t, finish="length"))),
    st.just(compact(chunk(finish="stop"))),
    st.just(compact({**chunk(), "choices": [], "usage": {"prompt_tokens": 1,
                                                         "completion_tokens": 2}})),
    texts.map(lambda t: compact(chunk(t))[:-3]),  # cut short: malformed
    texts.map(lambda t: compact(chunk(t)).replace('"content":"', '"content":"\x01', 1)),
    texts.map(lambda t: compact(chunk(t)).replace('"content":"', '"content":"a","x":"', 1)),
    st.just('{"error":{"message":"boom"}}'),
)
openers = st.sampled_from([compact(chunk("")).replace('"delta":{"content":""}',
                                                       '"delta":{"role":"assistant","content":""}'),
                           compact(chunk("hi"))])


def run(feed_events: list[str], include_usage: bool) -> list:
    request = {"model": "m", "messages": [], "stream": True}
    if include_usage:
        request["stream_options"] = {"include_usage": True}
    translator = Translator(ChatCall(request=request, model="gpt-4o"))
    out: list = []
    for data in feed_events:
        try:
            frames = translator.feed(SSEEvent(data=data))
        except UpstreamError as exc:
            out.append(("error", exc.status, exc.code, str(exc)))
            continue
        for frame in frames:
            out.append((type(frame) is EventJSON, dict(frame), encode_json(frame)))
    return out


@settings(max_examples=300, deadline=None)
@given(opener=openers, rest=st.lists(events, max_size=8), include_usage=st.booleans())
def test_templates_change_nothing(opener, rest, include_usage):
    templated = run([opener, *rest], include_usage)
    with pytest.MonkeyPatch.context() as monkeypatch:  # never learns one: the general way
        monkeypatch.setattr(stream_module.DeltaTemplate, "learn",
                            classmethod(lambda cls, chunk, data: None))
        plain = run([opener, *rest], include_usage)
    assert templated == plain


def test_a_plain_delta_is_learnt_and_matched_without_a_parse(monkeypatch):
    translator = Translator(ChatCall(request={"model": "m", "messages": [], "stream": True},
                                     model="gpt-4o"))
    first = compact(chunk("")).replace('"delta":{"content":""}',
                                       '"delta":{"role":"assistant","content":""}')
    translator.feed(SSEEvent(data=first))
    translator.feed(SSEEvent(data=compact(chunk("Hel"))))
    assert translator._template is not None
    parsed: list[str] = []
    real = stream_module.parse_event_json
    monkeypatch.setattr(stream_module, "parse_event_json",
                        lambda data, provider: parsed.append(data) or real(data, provider))
    [frame] = translator.feed(SSEEvent(data=compact(chunk('lo "wo\\rld" \n\u2028 \U0001f600'))))
    assert parsed == []
    assert frame["choices"][0]["delta"] == {"content": 'lo "wo\\rld" \n\u2028 \U0001f600'}
    assert list(frame) == ["id", "object", "created", "model", "choices"]  # usage dropped
    assert encode_json(frame) == b"data: " + compact(
        {k: v for k, v in chunk('lo "wo\\rld" \n\u2028 \U0001f600').items() if k != "usage"}
    ).encode() + b"\n\n"


@pytest.mark.parametrize("data", [
    compact(chunk("a", finish="stop")),  # a finish: state to record
    compact({**chunk("a"), "choices": [chunk("a")["choices"][0]] * 2}),  # two choices
    compact(chunk("a")).replace('"content":"a"', '"content":"a","role":"assistant"'),
    json.dumps(chunk("a")),  # spaced
    compact(chunk("a")).replace('"content":"a"', '"content":"b","content":"a"'),  # twice
])
def test_other_chunks_teach_no_template(data):
    assert DeltaTemplate.learn(json.loads(data), data) is None


def test_a_repeated_member_before_the_content_is_part_of_the_template():
    data = compact(chunk("a")).replace('"id":"chatcmpl-1"', '"id":"x","id":"chatcmpl-1"')
    template = DeltaTemplate.learn(json.loads(data), data)
    other = data.replace('"content":"a"', '"content":"b"')
    assert template is not None and template.match(other) == json.loads(other)
