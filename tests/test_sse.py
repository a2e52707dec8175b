"""The SSE codec: encoder framing and a decoder that follows the WHATWG rules."""

from __future__ import annotations

import json

from hypothesis import given, settings, strategies as st

from behest_local import sse
from behest_local.sse import SSEDecoder, SSEEvent, decode_all


def test_encode_json_is_one_lf_framed_data_line():
    frame = sse.encode_json({"a": "line\nbreak", "b": "é"})
    assert frame.startswith(b"data: ") and frame.endswith(b"\n\n")
    assert frame.count(b"\n") == 2
    assert json.loads(frame[6:-2]) == {"a": "line\nbreak", "b": "é"}


def test_named_event():
    assert sse.encode_json({"type": "x"}, event="x") == b'event: x\ndata: {"type":"x"}\n\n'


def test_multiline_data_and_comments_and_fields():
    stream = b": keep-alive\n\nevent: ping\nid: 7\nretry: 1500\ndata: a\ndata: b\n\n"
    assert decode_all(stream) == [SSEEvent("a\nb", "ping", "7", 1500)]


def test_incomplete_final_event_is_discarded():
    assert decode_all(b"data: one\n\ndata: two") == [SSEEvent("one")]


def test_bom_and_field_without_space():
    assert decode_all("\ufeffdata:x\n\n".encode()) == [SSEEvent("x")]


def test_cr_at_read_boundary_followed_by_lf():
    decoder = SSEDecoder()
    out = decoder.feed(b"data: a\r") + decoder.feed(b"\n\r") + decoder.feed(b"\ndata: b\r\n\r\n")
    assert [e.data for e in out] == ["a", "b"]


TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)


@settings(max_examples=200, deadline=None)
@given(datas=st.lists(TEXT, min_size=1, max_size=6), events=st.lists(
    st.none() | st.text(alphabet="abcdefghijklmnopqrstuvwxyz.", min_size=1, max_size=10),
    min_size=6, max_size=6), data=st.data())
def test_any_split_decodes_like_the_whole(datas, events, data):
    payload = b"".join(sse.encode(d, event=e) for d, e in zip(datas, events))
    whole = decode_all(payload)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(payload)), max_size=8)))
    decoder = SSEDecoder()
    pieces, last = [], 0
    for cut in cuts + [len(payload)]:
        pieces += decoder.feed(payload[last:cut])
        last = cut
    assert pieces == whole
    expected = [d.replace("\r\n", "\n").replace("\r", "\n") for d in datas]
    assert [e.data for e in whole] == expected
    assert [e.event for e in whole] == [e or "message" for e in events[: len(datas)]]


@settings(max_examples=100, deadline=None)
@given(datas=st.lists(TEXT.filter(lambda t: "\r" not in t and "\n" not in t), min_size=1, max_size=5),
       newline=st.sampled_from(["\n", "\r", "\r\n"]))
def test_line_ending_styles_decode_identically(datas, newline):
    payload = "".join(f"data: {d}{newline}{newline}" for d in datas).encode()
    assert [e.data for e in decode_all(payload)] == datas


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_raise(blob):
    assert isinstance(decode_all(blob), list)


# -- fast paths: they must decode and encode exactly as the general rules do --------------

BLOCK = st.one_of(
    TEXT.filter(lambda t: "\r" not in t and "\n" not in t).map(lambda t: f"data: {t}\n\n"),
    TEXT.filter(lambda t: "\r" not in t and "\n" not in t).map(lambda t: f"data:{t}\n\n"),
    st.lists(TEXT.filter(lambda t: "\r" not in t and "\n" not in t), min_size=2,
             max_size=3).map(lambda ls: "".join(f"data: {t}\n" for t in ls) + "\n"),
    st.sampled_from([": keep-alive\n\n", "event: ping\ndata: x\n\n", "id: 7\n\n", "retry: 9\n\n",
                     "data: a\r\n\r\n", "\n", "data: [DONE]\n\n", "id: 8\ndata: y\n\n"]),
)


@settings(max_examples=200, deadline=None)
@given(blocks=st.lists(BLOCK, max_size=8), data=st.data())
def test_whole_events_decode_like_line_by_line(blocks, data):
    """Reads holding whole ``data:`` events take the fast path; one byte a read never does
    (no read holds a whole event). Both must give the same events, at any split."""
    payload = "".join(blocks).encode()
    one_byte = SSEDecoder()
    expected = [e for i in range(len(payload)) for e in one_byte.feed(payload[i:i + 1])]
    cuts = sorted(data.draw(st.lists(st.integers(0, len(payload)), max_size=4)))
    decoder, got, last = SSEDecoder(), [], 0
    for cut in cuts + [len(payload)]:
        got += decoder.feed(payload[last:cut])
        last = cut
    assert got == expected


def test_utf8_split_across_reads_and_invalid_bytes():
    payload = 'data: é✓\n\n'.encode()
    decoder = SSEDecoder()
    out = decoder.feed(payload[:7]) + decoder.feed(payload[7:9]) + decoder.feed(payload[9:])
    assert out == [SSEEvent("é✓")]
    assert decode_all(b"data: a\xffb\n\ndata: \xe2\x9c\n\n") == [SSEEvent("a\ufffdb"),
                                                               SSEEvent("\ufffd")]


def event_json(obj: dict) -> sse.EventJSON:
    return sse.EventJSON(obj, json.dumps(obj))


JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner,
                                                                max_size=3), max_leaves=6)
KEY = st.sampled_from(["usage", "model", "a", "é", 'q"', ""])
OP = st.one_of(
    st.tuples(st.just("set"), KEY, st.none() | JSON_VALUE),
    st.tuples(st.just("pop"), KEY, st.none()),
    st.tuples(st.just("del"), KEY, st.none()),
    st.tuples(st.just("update"), KEY, JSON_VALUE),
    st.tuples(st.just("setdefault"), KEY, st.none()),
)


@settings(max_examples=300, deadline=None)
@given(obj=st.dictionaries(KEY | st.text(max_size=4), JSON_VALUE, max_size=4),
       ops=st.lists(OP, max_size=5), spaced=st.booleans())
def test_event_json_text_always_says_what_the_dict_holds(obj, ops, spaced):
    text = json.dumps(obj, separators=(", ", ": ") if spaced else (",", ":"))
    chunk, plain = sse.EventJSON(obj, f" {text} "), dict(obj)
    assert chunk.text == text
    for op, key, value in ops:
        for target in (chunk, plain):
            if op == "set":
                target[key] = value
            elif op == "pop":
                target.pop(key, None)
            elif op == "del" and key in target:
                del target[key]
            elif op == "update":
                target.update({key: value})
            elif op == "setdefault":
                target.setdefault(key)
        assert chunk == plain
        if chunk.text is not None:
            assert json.loads(chunk.text) == plain and "\n" not in chunk.text
    frame = sse.encode_json(chunk)
    assert frame.startswith(b"data: ") and frame.count(b"\n") == 2
    assert json.loads(frame[6:-2]) == plain


def test_event_json_is_sent_as_received():
    text = '{"id":"x","choices":[{"delta":{"content":"\\u00e9 \\ud83d\\ude00"}}],"n":1.50}'
    chunk = sse.EventJSON(json.loads(text), text)
    assert sse.encode_json(chunk) == f"data: {text}\n\n".encode()
    chunk["usage"] = None  # the gateway's bookkeeping follows in the text…
    assert sse.encode_json(chunk) == f'data: {text[:-1]},"usage":null}}\n\n'.encode()
    chunk.pop("usage")
    assert chunk.text == text
    chunk["n"] = 2  # …anything else is encoded anew
    assert chunk.text is None and json.loads(sse.encode_json(chunk)[6:-2])["n"] == 2


def test_event_json_never_uncovers_a_duplicate_key():
    text = '{"usage":{"prompt_tokens":1},"usage":null}'  # legal JSON: the last one wins
    chunk = sse.EventJSON(json.loads(text), text)
    chunk.pop("usage")
    assert chunk.text is None and sse.encode_json(chunk) == b"data: {}\n\n"


def test_event_json_of_several_data_lines_is_re_encoded():
    chunk = sse.EventJSON({"a": 1}, '{"a":\n1}')
    assert chunk.text is None and sse.encode_json(chunk) == b'data: {"a":1}\n\n'


def test_event_json_copies_are_plain_dicts():
    import copy
    import pickle

    chunk = event_json({"a": [1]})
    for other in (copy.deepcopy(chunk), copy.copy(chunk), pickle.loads(pickle.dumps(chunk)),
                  dict(chunk), {**chunk}):
        assert type(other) is dict and other == {"a": [1]}
