"""Gemini's mid-stream errors: raw, pretty-printed JSON inside an ``alt=sse`` body.

The python-genai SDK reads such lines by brace balance ("when API returns an error
message, it comes line by line", providers.md §0). ``SSEDecoder(raw_lines=True)`` hands
them over as ``raw`` events and the Gemini translator rebuilds the JSON, so the client
hears Google's own status and message, wherever the bytes were split.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings

from behest_local.errors import UpstreamError
from behest_local.providers.gemini.stream import Translator
from behest_local.sse import SSEDecoder, SSEEvent, decode_all
from tests.providers.streams import call, cuts_for

EVENT = {"candidates": [{"content": {"role": "model", "parts": [{"text": "Hello"}]},
                         "index": 0}], "responseId": "r1", "modelVersion": "gemini-2.5-pro"}
ERROR = {"error": {"code": 503, "message": "The model is overloaded {try later}.",
                   "status": "UNAVAILABLE"}}


def body(error: object = ERROR, *, crlf: bool = True, wrapped: bool = False) -> bytes:
    nl = "\r\n" if crlf else "\n"
    raw = json.dumps([error] if wrapped else error, indent=2).replace("\n", nl)
    return f"data: {json.dumps(EVENT)}{nl}{nl}{nl}{raw}{nl}".encode()


def translate(payload: bytes, cuts=()) -> tuple[list[dict], UpstreamError | None]:
    decoder, translator, out = SSEDecoder(raw_lines=True), Translator(call()), []
    edges = [0, *sorted({c for c in cuts if 0 < c < len(payload)}), len(payload)]
    try:
        for start, end in zip(edges, edges[1:]):
            for event in decoder.feed(payload[start:end]):
                out += translator.feed(event)
        for event in decoder.close():
            out += translator.feed(event)
        out += translator.finish()
    except UpstreamError as error:
        return out, error
    return out, None


def test_raw_lines_come_back_in_order_and_only_when_asked():
    payload = b"data: 1\r\n\r\n{\r\n  \"a\": 2\r\n}\r\ndata: 3\r\n\r\n"
    assert decode_all(payload) == [SSEEvent("1"), SSEEvent("3")]  # the spec: ignored
    decoder = SSEDecoder(raw_lines=True)
    events = decoder.feed(payload) + decoder.close()
    assert events == [SSEEvent("1"), SSEEvent("{", "", raw=True),
                      SSEEvent('  "a": 2', "", raw=True), SSEEvent("}", "", raw=True),
                      SSEEvent("3")]


def test_an_unterminated_last_raw_line_is_returned_by_close():
    decoder = SSEDecoder(raw_lines=True)
    assert decoder.feed(b'{"error": {}}') == []
    assert decoder.close() == [SSEEvent('{"error": {}}', "", raw=True)]
    assert SSEDecoder().close() == []


@pytest.mark.parametrize("crlf", [True, False])
@pytest.mark.parametrize("wrapped", [False, True])
def test_the_error_keeps_googles_status_and_message(crlf, wrapped):
    chunks, error = translate(body(crlf=crlf, wrapped=wrapped))
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks) == "Hello"
    assert error is not None
    assert (error.status, error.message, error.code) == (
        503, "The model is overloaded {try later}.", "UNAVAILABLE")


@settings(max_examples=150, deadline=None)
@given(cuts=cuts_for(body()))
def test_any_split_gives_the_same_error(cuts):
    chunks, error = translate(body(), cuts)
    assert error is not None and error.status == 503
    assert error.message == "The model is overloaded {try later}."


def test_raw_text_that_never_becomes_json_is_quoted_at_the_end():
    payload = f"data: {json.dumps(EVENT)}\r\n\r\n<html>Bad Gateway</html>\r\n".encode()
    _chunks, error = translate(payload)
    assert error is not None and error.status == 502
    assert "Bad Gateway" in error.message and error.code == "bad_upstream_event"


def test_raw_json_that_is_not_an_error_is_a_bad_event():
    _chunks, error = translate(body({"unexpected": True}))
    assert error is not None and error.code == "bad_upstream_event"
