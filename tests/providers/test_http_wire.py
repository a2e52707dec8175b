"""The upstream client's HTTP/1.1 framing (providers/http_wire.py), without sockets.

A recording sink checks the order the parser reports in (one head, body pieces, one
completion); hypothesis splits the wire bytes at every place a read could end.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from behest_local.providers.http_wire import (MAX_HEAD_BYTES, ProtocolError, ResponseParser,
                                              encode_head)


class Sink:
    def __init__(self) -> None:
        self.events: list[tuple] = []

    def on_head(self) -> None:
        self.events.append(("head",))

    def on_body(self, piece: bytes) -> None:
        assert isinstance(piece, bytes) and piece, "never an empty piece"
        self.events.append(("body", piece))

    def on_complete(self) -> None:
        self.events.append(("complete",))

    @property
    def body(self) -> bytes:
        return b"".join(e[1] for e in self.events if e[0] == "body")

    def kinds(self) -> list[str]:
        out: list[str] = []
        for e in self.events:
            if not out or out[-1] != e[0] or e[0] != "body":
                out.append(e[0])
        return out


def parse(*feeds: bytes, head_request: bool = False, eof: bool = False
          ) -> tuple[ResponseParser, Sink]:
    sink = Sink()
    parser = ResponseParser(sink)
    parser.expect(head_request=head_request)
    for data in feeds:
        parser.feed(data)
    if eof:
        parser.feed_eof()
    return parser, sink


# -- status line and headers -----------------------------------------------------------------


def test_status_line_headers_and_content_length_body() -> None:
    parser, sink = parse(b"HTTP/1.1 201 Created Here\r\nContent-Type: application/json\r\n"
                         b"X-Multi: a\r\nx-multi:  b \t\r\nContent-Length: 7\r\n\r\n{\"a\":1}")
    assert (parser.status, parser.reason) == (201, "Created Here")
    assert parser.headers["content-type"] == "application/json"
    assert parser.headers.getall("X-Multi") == ["a", "b"]  # OWS trimmed, order kept
    assert parser.keep_alive and parser.done and parser.started
    assert sink.events == [("head",), ("body", b'{"a":1}'), ("complete",)]


def test_no_reason_phrase_and_no_headers() -> None:
    parser, sink = parse(b"HTTP/1.1 204\r\n\r\n")
    assert (parser.status, parser.reason, len(parser.headers)) == (204, "", 0)
    assert sink.kinds() == ["head", "complete"]


def test_head_split_across_feeds_is_not_reported_early() -> None:
    sink = Sink()
    parser = ResponseParser(sink)
    parser.feed(b"HTTP/1.1 200 OK\r\nContent-Len")
    assert not parser.started and not sink.events and parser.received
    parser.feed(b"gth: 2\r\n\r")
    assert not parser.started and not sink.events
    parser.feed(b"\nhi")
    assert sink.events == [("head",), ("body", b"hi"), ("complete",)]


def test_head_received_flag_is_per_response() -> None:
    parser, _ = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    assert parser.received
    parser.expect()
    assert not parser.received and not parser.started and not parser.done


# -- bodies ------------------------------------------------------------------------------------


def test_content_length_body_over_several_feeds_then_nothing_more() -> None:
    parser, sink = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123", b"45", b"6789")
    assert sink.body == b"0123456789" and sink.kinds() == ["head", "body", "complete"]
    assert parser.keep_alive


def test_content_length_zero_completes_with_the_head() -> None:
    parser, sink = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    assert sink.events == [("head",), ("complete",)] and parser.done


def test_repeated_equal_content_lengths_are_accepted() -> None:
    _, sink = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\nContent-Length: 3\r\n\r\nabc")
    assert sink.body == b"abc" and sink.events[-1] == ("complete",)


def test_chunked_with_extensions_and_trailers() -> None:
    wire = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5;name=value\r\nhello\r\n"
            b"1 ; ext\r\n \r\n"
            b"A\r\n0123456789\r\n"
            b"0;last\r\nX-Trailer: 1\r\nX-Other: 2\r\n\r\n")
    parser, sink = parse(wire)
    assert sink.body == b"hello 0123456789"
    assert sink.kinds() == ["head", "body", "complete"] and parser.keep_alive
    assert "X-Trailer" not in parser.headers  # trailers are read and dropped


def test_chunked_is_used_when_it_is_the_last_coding_and_wins_over_content_length() -> None:
    parser, sink = parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: Chunked"
                         b"\r\nContent-Length: 100\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
    assert sink.body == b"abc" and parser.done
    assert not parser.keep_alive  # both framings: possible response splitting, not reused


def test_transfer_coding_not_ending_in_chunked_reads_until_close() -> None:
    parser, sink = parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nabc", b"def")
    assert not parser.done and not parser.keep_alive
    parser.feed_eof()
    assert sink.body == b"abcdef" and sink.events[-1] == ("complete",)


def test_until_close_body_ends_at_eof_and_is_not_reused() -> None:
    parser, sink = parse(b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n\r\nfirst ", b"second")
    assert not parser.done and not parser.keep_alive
    assert sink.kinds() == ["head", "body"]
    parser.feed_eof()
    assert parser.done and sink.body == b"first second"
    assert sink.kinds() == ["head", "body", "complete"]


def test_until_close_with_empty_body() -> None:
    _, sink = parse(b"HTTP/1.1 200 OK\r\n\r\n", eof=True)
    assert sink.events == [("head",), ("complete",)]


@pytest.mark.parametrize("status", [204, 304])
def test_no_body_statuses_ignore_framing_headers(status: int) -> None:
    parser, sink = parse(f"HTTP/1.1 {status} X\r\nContent-Length: 50\r\n"
                         "Transfer-Encoding: chunked\r\n\r\n".encode())
    assert sink.events == [("head",), ("complete",)] and parser.done


def test_head_request_has_no_body_whatever_the_headers_say() -> None:
    parser, sink = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", head_request=True)
    assert sink.events == [("head",), ("complete",)]
    assert parser.keep_alive and parser.headers["Content-Length"] == "1234"


def test_interim_1xx_responses_are_skipped() -> None:
    parser, sink = parse(b"HTTP/1.1 100 Continue\r\n\r\n", b"HTTP/1.1 103 Early Hints\r\n"
                         b"Link: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    assert parser.status == 200 and "Link" not in parser.headers
    assert sink.events == [("head",), ("body", b"ok"), ("complete",)]


def test_101_switching_protocols_is_refused() -> None:
    with pytest.raises(ProtocolError, match="switched protocols"):
        parse(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n")


# -- keep-alive rules (RFC 9112 §9.3) --------------------------------------------------------


@pytest.mark.parametrize(("version", "connection", "keep"), [
    ("1.1", None, True),
    ("1.1", "close", False),
    ("1.1", "Keep-Alive, Close", False),
    ("1.1", "keep-alive", True),
    ("1.1", "closed-captions", True),  # a token, not a substring
    ("1.0", None, False),
    ("1.0", "Keep-Alive", True),
    ("1.0", "close", False),
])
def test_connection_persistence(version: str, connection: str | None, keep: bool) -> None:
    field = f"Connection: {connection}\r\n" if connection else ""
    parser, _ = parse(f"HTTP/{version} 200 OK\r\n{field}Content-Length: 0\r\n\r\n".encode())
    assert parser.keep_alive is keep


def test_close_in_a_second_connection_field_counts() -> None:
    parser, _ = parse(b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nConnection: close\r\n"
                      b"Content-Length: 0\r\n\r\n")
    assert not parser.keep_alive


def test_bytes_after_a_complete_response_make_it_not_reusable() -> None:
    parser, sink = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxEXTRA")
    assert parser.done and not parser.keep_alive
    assert sink.events == [("head",), ("body", b"x"), ("complete",)]


# -- malformed input ---------------------------------------------------------------------------


@pytest.mark.parametrize("wire", [
    b"HTTP/2 200 OK\r\n\r\n",
    b"HTTP/1.1 20 OK\r\n\r\n",
    b"HTTP/1.1 2000 OK\r\n\r\n",
    b"HTTP/1.1 abc OK\r\n\r\n",
    b"HTTP/1.1 2\xb20 OK\r\n\r\n",  # latin-1 superscript two: isdigit() but not a digit
    b"HTTP/1.1 099 Odd\r\n\r\n",  # no such class: must not be taken for an interim 1xx
    b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
    b"\r\n\r\n",
], ids=["http2", "short-code", "long-code", "letters", "superscript", "0xx", "not-http", "empty"])
def test_bad_status_line(wire: bytes) -> None:
    with pytest.raises(ProtocolError, match="status line"):
        parse(wire)


@pytest.mark.parametrize("line", [
    b"NoColon",
    b"Bad Name: v",
    b"Name : v",  # whitespace before the colon (RFC 9112 §5.1)
    b": empty-name",
    b" folded",  # obs-fold (RFC 9112 §5.2)
    b"\tfolded",
])
def test_bad_header_line(line: bytes) -> None:
    kind = "folded" if line[:1] in b" \t" else "malformed"
    with pytest.raises(ProtocolError, match=f"{kind}.* header line, field 2 of the head"):
        parse(b"HTTP/1.1 200 OK\r\nX-A: 1\r\n" + line + b"\r\nContent-Length: 0\r\n\r\n")


def test_errors_do_not_quote_what_an_echoing_server_sends_back() -> None:
    # A server that echoes the request (a TCP echo service on the configured port)
    # returns the request line with its query and the request's fields.
    with pytest.raises(ProtocolError) as caught:
        parse(b"POST /v1/models/m:generate?key=SECRET-1 HTTP/1.1\r\nHost: h\r\n\r\n")
    assert "SECRET" not in str(caught.value) and "/v1/models" in str(caught.value)
    with pytest.raises(ProtocolError) as caught:
        parse(b"HTTP/1.1 400 Bad\r\nPOST /v1?key=SECRET-2 HTTP/1.1\r\n"
              b"Authorization Bearer SECRET-3\r\n\r\n")
    assert "SECRET" not in str(caught.value)


@pytest.mark.parametrize("value", [b"a\nInjected: 1", b"a\rb", b"a\x00b"])
def test_bare_cr_lf_or_nul_in_a_field_is_refused(value: bytes) -> None:
    with pytest.raises(ProtocolError, match="bare CR, LF or NUL"):
        parse(b"HTTP/1.1 200 OK\r\nX-Value: " + value + b"\r\nContent-Length: 0\r\n\r\n")


@pytest.mark.parametrize("lengths", [
    [b"5", b"6"], [b"5, 6"], [b"-1"], [b"abc"], [b""], [b"0x10"], [b"1" * 19], [b"+5"],
])
def test_bad_or_conflicting_content_length(lengths: list[bytes]) -> None:
    fields = b"".join(b"Content-Length: " + v + b"\r\n" for v in lengths)
    with pytest.raises(ProtocolError, match="invalid Content-Length"):
        parse(b"HTTP/1.1 200 OK\r\n" + fields + b"\r\n")


@pytest.mark.parametrize("size", [b"0x1", b"1_0", b"-1", b"g", b"", b"+1", b"1" * 17, b"1 0"])
def test_bad_chunk_size(size: bytes) -> None:
    with pytest.raises(ProtocolError, match="chunk size"):
        parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + size + b"\r\nx\r\n")


def test_chunk_longer_than_declared() -> None:
    with pytest.raises(ProtocolError, match="longer than its declared size"):
        parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n")


def test_chunk_longer_than_declared_is_seen_without_waiting_for_a_crlf() -> None:
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc"
    sink = Sink()
    parser = ResponseParser(sink)
    parser.feed(head + b"\r")  # half of the closing CRLF: wait for the rest
    with pytest.raises(ProtocolError, match="longer than its declared size"):
        parser.feed(b"X")
    with pytest.raises(ProtocolError, match="longer than its declared size"):
        parse(head + b"d" * 10)  # no CRLF anywhere, and never buffered


def test_head_larger_than_limit_is_refused_while_buffering() -> None:
    sink = Sink()
    parser = ResponseParser(sink)
    parser.feed(b"HTTP/1.1 200 OK\r\n")
    filler = b"X-Filler: " + b"a" * 1000 + b"\r\n"
    with pytest.raises(ProtocolError, match="larger than 64 KiB"):
        for _ in range(MAX_HEAD_BYTES // len(filler) + 2):
            parser.feed(filler)
    assert not sink.events


def test_head_larger_than_limit_is_refused_even_when_complete_in_one_read() -> None:
    filler = b"X-Filler: " + b"a" * (MAX_HEAD_BYTES + 10) + b"\r\n"
    with pytest.raises(ProtocolError, match="larger than 64 KiB"):
        parse(b"HTTP/1.1 200 OK\r\n" + filler + b"Content-Length: 0\r\n\r\n")


def test_endless_chunk_size_line_is_refused() -> None:
    sink = Sink()
    parser = ResponseParser(sink)
    parser.feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    with pytest.raises(ProtocolError, match="larger than 64 KiB"):
        for _ in range(70):
            parser.feed(b"1;" + b"e" * 1022)


@pytest.mark.parametrize(("feeds", "where"), [
    ([], "before the response"),
    ([b"HTTP/1.1 200 OK\r\nContent-Le"], "in the middle"),
    ([b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab"], "in the middle"),
    ([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"], "in the middle"),
    ([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\r\n"], "in the middle"),
])
def test_eof_before_the_end_raises(feeds: list[bytes], where: str) -> None:
    with pytest.raises(ProtocolError, match=where):
        parse(*feeds, eof=True)


def test_eof_after_a_complete_response_is_fine() -> None:
    parser, sink = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", eof=True)
    assert parser.done and sink.events[-1] == ("complete",)


# -- encode_head -------------------------------------------------------------------------------


def test_encode_head_exact_bytes() -> None:
    head = encode_head("POST", "/v1/chat?x=1", "api.example:8443",
                       {"Authorization": "Bearer k", "Content-Type": "application/json"}, 17)
    assert head == (b"POST /v1/chat?x=1 HTTP/1.1\r\nHost: api.example:8443\r\n"
                    b"Authorization: Bearer k\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 17\r\n\r\n")


def test_encode_head_without_body_and_non_ascii_value() -> None:
    assert encode_head("GET", "/", "h", {}, None) == b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"
    assert encode_head("GET", "/", "h", {"X-Name": "é"}, 0) == (
        b"GET / HTTP/1.1\r\nHost: h\r\nX-Name: \xc3\xa9\r\nContent-Length: 0\r\n\r\n")


@pytest.mark.parametrize(("target", "headers"), [
    ("/", {"X-A": "v\r\nInjected: 1"}),
    ("/", {"X-A": "v\nInjected: 1"}),
    ("/", {"X-A": "v\r"}),
    ("/", {"X-A\r\nInjected": "1"}),
    ("/a\r\nInjected: 1", {}),
    ("/a\n", {"X-A": "b"}),
])
def test_encode_head_refuses_line_breaks(target: str, headers: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="line break") as caught:
        encode_head("POST", target, "h", headers, 1)
    assert "Injected" not in str(caught.value)  # the value itself is not echoed


# -- property: any body, any split of the wire -------------------------------------------------


def _chunked(body: bytes, sizes: list[int]) -> bytes:
    out, pos, i = [], 0, 0
    while pos < len(body):
        n = max(1, sizes[i % len(sizes)]) if sizes else len(body)
        i += 1
        piece = body[pos:pos + n]
        pos += len(piece)
        ext = b";e=1" if i % 3 == 0 else b""
        out.append(b"%x%s\r\n%s\r\n" % (len(piece), ext, piece))
    out.append(b"0\r\nX-Trailer: t\r\n\r\n" if sizes and sizes[0] % 2 else b"0\r\n\r\n")
    return b"".join(out)


def _wire(body: bytes, chunked: bool, sizes: list[int]) -> bytes:
    if chunked:
        return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + _chunked(body, sizes)
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


def _split(wire: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(wire) + 1) for c in cuts} | {0, len(wire)})
    return [wire[a:b] for a, b in zip(points, points[1:], strict=False) if b > a]


_responses = st.tuples(st.binary(max_size=300), st.booleans(),
                       st.lists(st.integers(1, 40), min_size=1, max_size=8))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=_responses, second=_responses, cuts=st.lists(st.integers(0, 2000), max_size=30))
def test_any_split_of_two_responses_gives_each_body_once(first, second, cuts) -> None:
    wire_a, wire_b = _wire(*first), _wire(*second)
    sink = Sink()
    parser = ResponseParser(sink)
    for feed in _split(wire_a, cuts):
        parser.feed(feed)
    assert parser.done and parser.keep_alive
    assert sink.body == first[0]
    assert [e for e in sink.events if e[0] != "body"] == [("head",), ("complete",)]
    assert sink.events[-1] == ("complete",)
    sink.events.clear()
    parser.expect()
    for feed in _split(wire_b, cuts[::-1]):
        parser.feed(feed)
    assert parser.done and parser.keep_alive and sink.body == second[0]
    assert [e for e in sink.events if e[0] != "body"] == [("head",), ("complete",)]


@settings(max_examples=60, deadline=None)
@given(response=_responses)
def test_one_byte_feeds(response) -> None:
    body, chunked, sizes = response
    sink = Sink()
    parser = ResponseParser(sink)
    wire = _wire(body, chunked, sizes)
    for i in range(len(wire)):
        assert not parser.done
        parser.feed(wire[i:i + 1])
    assert parser.done and sink.body == body
    assert sink.kinds() == (["head", "body", "complete"] if body else ["head", "complete"])


@settings(max_examples=100, deadline=None)
@given(body=st.binary(min_size=1, max_size=200), cuts=st.lists(st.integers(0, 400), max_size=10))
def test_until_close_any_split(body: bytes, cuts: list[int]) -> None:
    wire = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n" + body
    sink = Sink()
    parser = ResponseParser(sink)
    for feed in _split(wire, cuts):
        parser.feed(feed)
    assert not parser.done
    parser.feed_eof()
    assert parser.done and not parser.keep_alive and sink.body == body
    assert sink.kinds() == ["head", "body", "complete"]


# -- one whole chunk per read (a stream's usual read, taken in one step) ----------------------

CHUNKED_HEAD = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"


def test_a_read_of_exactly_one_chunk_is_one_piece_each() -> None:
    _, sink = parse(CHUNKED_HEAD, b"5\r\nhello\r\n", b"A\r\n0123456789\r\n", b"0\r\n\r\n")
    assert sink.events == [("head",), ("body", b"hello"), ("body", b"0123456789"),
                           ("complete",)]


@pytest.mark.parametrize("read, pieces", [
    (b"5;ext=1\r\nhello\r\n", [b"hello"]),  # an extension: the general way
    (b"2\r\nhi\r\n3\r\nyou\r\n", [b"hi", b"you"]),  # two chunks in one read
    (b"5\r\nhel", [b"hel"]),  # split: the rest comes later
])
def test_reads_that_are_not_one_plain_chunk_still_parse(read: bytes, pieces: list) -> None:
    parser, sink = parse(CHUNKED_HEAD, read)
    assert [e[1] for e in sink.events if e[0] == "body"] == pieces


@pytest.mark.parametrize("read", [b"5\r\nhelloXY", b"3\r\nabcd\r\n", b"0x5\r\nhello\r\n"])
def test_a_malformed_single_chunk_read_is_still_refused(read: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse(CHUNKED_HEAD, read)
