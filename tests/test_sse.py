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
