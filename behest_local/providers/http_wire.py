"""HTTP/1.1 on the wire, for the upstream client: request heads out, responses in.

Pure code, no I/O: ``encode_head`` builds the bytes of a request head, and
``ResponseParser`` turns the bytes a connection receives into a status, headers and the
body's pieces. ``providers/http.py`` owns the sockets, the pool and the timeouts, and
drives both. Kept apart so the framing rules, where a client goes wrong, are tested
on their own (tests/providers/test_http_wire.py, with hypothesis splitting the bytes
everywhere).

What the parser follows (RFC 9112):
* §4: the status line ``HTTP/1.x SP 3DIGIT SP reason``; interim 1xx responses are skipped.
* §5: field lines ``name: value``; obsolete line folding (§5.2) is refused, and so is a
  bare CR, LF or NUL in a line (RFC 9110 §5.5).
* §6.3: the body's length, in this order: none for a HEAD request, 204 and 304; chunked
  when it is the last transfer coding (with a Content-Length too, the connection is not
  reused); else Content-Length (several values must agree); else everything until the
  server closes, and the connection is not reused.
* §7.1: chunked bodies, chunk extensions ignored, trailer fields read and dropped.
* §9.3: a connection stays open for the next request unless ``Connection: close`` (or
  HTTP/1.0 without ``keep-alive``) says otherwise.
"""

from __future__ import annotations

import re
from typing import Protocol

from multidict import CIMultiDict, CIMultiDictProxy

MAX_HEAD_BYTES = 64 * 1024
"""A response head (status line and fields), or a chunk-size or trailer line, larger than
this is refused, not buffered."""

_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")
_DIGITS = re.compile(r"[0-9]{1,18}")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


class ProtocolError(Exception):
    """The bytes received are not an HTTP/1.1 response this client can read."""


def encode_head(method: str, target: str, host: str, headers: dict[str, str],
                body_length: int | None) -> bytes:
    """The request head: request line, ``Host``, the given fields, the body's length.

    Raises ``ValueError`` if a value would break the framing (a CR or LF in a field or
    the target, RFC 9110 §5.5): a configured header must not be able to inject another.
    """
    text = f"{method} {target} HTTP/1.1\r\nHost: {host}\r\n"
    for name, value in headers.items():
        text += f"{name}: {value}\r\n"
    if body_length is not None:
        text += f"Content-Length: {body_length}\r\n"
    text += "\r\n"
    lines = len(headers) + (3 if body_length is not None else 2)
    # Every line ends in exactly one CRLF, the blank line included: any other CR or LF
    # came from a value.
    if text.count("\n") != lines + 1 or text.count("\r") != lines + 1:
        raise ValueError("a request header or the URL contains a line break")
    return text.encode("utf-8")


class Sink(Protocol):
    """What the parser reports to, in order: one head, body pieces, one completion."""

    def on_head(self) -> None: ...

    def on_body(self, piece: bytes) -> None: ...

    def on_complete(self) -> None: ...


# Parser states.
_HEAD, _LENGTH, _CHUNK_SIZE_LINE, _CHUNK_DATA, _CHUNK_END, _TRAILERS, _UNTIL_CLOSE, _DONE = range(8)


class ResponseParser:
    """Incremental parser of the responses arriving on one connection.

    ``expect(head_request=...)`` before each response, then ``feed`` every read and
    ``feed_eof`` when the server closes. After ``on_head``, ``status``, ``reason``,
    ``headers`` and ``keep_alive`` describe the response. Raises ``ProtocolError``.
    """

    __slots__ = ("sink", "status", "reason", "headers", "keep_alive", "received",
                 "_state", "_buf", "_remaining", "_head_request")

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.expect()

    def expect(self, *, head_request: bool = False) -> None:
        self.status = 0
        self.reason = ""
        self.headers: CIMultiDictProxy[str] = CIMultiDictProxy(CIMultiDict())
        self.keep_alive = False
        self.received = False  # any byte of this response yet
        self._state = _HEAD
        self._buf = b""
        self._remaining = 0
        self._head_request = head_request

    @property
    def done(self) -> bool:
        return self._state == _DONE

    @property
    def started(self) -> bool:
        """The head has been read (the status and headers are known)."""
        return self._state != _HEAD

    def feed(self, data: bytes) -> None:
        self.received = True
        if self._buf:
            data, self._buf = self._buf + data, b""
        elif self._state == _CHUNK_SIZE_LINE:
            # A stream's usual read: exactly one whole chunk, "<hex size>\r\n<data>\r\n"
            # (§7.1), taken in one step. Anything else (an extension, several chunks, a
            # split, the last chunk) goes the general way below.
            line_end = data.find(b"\r\n", 0, 18)
            if line_end > 0 and _CHUNK_SIZE.fullmatch(data, 0, line_end):
                size = int(data[:line_end], 16)
                if size and len(data) == line_end + size + 4 and data.endswith(b"\r\n"):
                    self.sink.on_body(data[line_end + 2:-2])
                    return
        pos, end = 0, len(data)
        while pos < end:
            state = self._state
            if state == _LENGTH:
                take = min(self._remaining, end - pos)
                self.sink.on_body(data if take == end else data[pos:pos + take])
                pos += take
                self._remaining -= take
                if not self._remaining:
                    self._finish()
            elif state == _CHUNK_DATA:
                take = min(self._remaining, end - pos)
                self.sink.on_body(data[pos:pos + take])
                pos += take
                self._remaining -= take
                if not self._remaining:
                    self._state = _CHUNK_END
            elif state == _UNTIL_CLOSE:
                self.sink.on_body(data if pos == 0 else data[pos:])
                return
            elif state == _DONE:
                # Bytes after a complete response: not a response to anything we sent.
                self.keep_alive = False
                return
            elif state == _CHUNK_END:
                # The CRLF closing a chunk's data (§7.1), checked as soon as it can be:
                # anything else means the chunk was longer than declared.
                tail = data[pos:pos + 2]
                if tail != b"\r\n":
                    if tail != b"\r":
                        raise ProtocolError("a chunk is longer than its declared size")
                    self._buf = tail
                    return
                self._state = _CHUNK_SIZE_LINE
                pos += 2
            else:
                line_end = data.find(b"\r\n\r\n" if state == _HEAD else b"\r\n", pos)
                if line_end < 0 or line_end - pos > MAX_HEAD_BYTES:
                    if end - pos > MAX_HEAD_BYTES:
                        raise ProtocolError("a response head or line is larger than 64 KiB")
                    self._buf = data[pos:]
                    return
                if state == _HEAD:
                    self._head(data[pos:line_end])
                    pos = line_end + 4
                elif state == _CHUNK_SIZE_LINE:
                    self._chunk_size(data[pos:line_end])
                    pos = line_end + 2
                else:  # _TRAILERS: fields until an empty line, then the response ends
                    empty = line_end == pos
                    pos = line_end + 2
                    if empty:
                        self._finish()

    def feed_eof(self) -> None:
        """The server closed the connection: the end of an until-close body, or a cut."""
        if self._state == _UNTIL_CLOSE:
            self._finish()
        elif self._state != _DONE:
            where = "before the response" if not self.received else "in the middle of the response"
            raise ProtocolError(f"the server closed the connection {where}")

    # -- the parts -------------------------------------------------------------------------

    def _head(self, raw: bytes) -> None:
        text = raw.decode("latin-1")
        lines = text.split("\r\n")
        version, _, rest = lines[0].partition(" ")
        code, _, reason = rest.partition(" ")
        # ASCII digits only: str.isdigit() also accepts "²" (latin-1 0xB2), which int() refuses.
        if (version not in ("HTTP/1.1", "HTTP/1.0") or len(code) != 3 or not code.isascii()
                or not code.isdigit() or code[0] == "0"):
            # Quoted only up to a "?": a server echoing the request would show its query,
            # where some providers carry the key.
            shown = lines[0].split("?", 1)[0][:40]
            raise ProtocolError(f"not an HTTP/1.1 status line: {shown!r}")
        # A CR, LF or NUL inside a line (RFC 9110 §5.5: reject the message): a value
        # carrying one must not reach a response the gateway builds from these headers.
        breaks = len(lines) - 1
        if text.count("\n") != breaks or text.count("\r") != breaks or "\0" in text:
            raise ProtocolError("a response header contains a bare CR, LF or NUL")
        headers: CIMultiDict[str] = CIMultiDict()
        for number, line in enumerate(lines[1:], 1):
            name, colon, value = line.partition(":")
            if not colon or not _TOKEN.fullmatch(name):
                # Not quoted: a server echoing the request's fields would show its key.
                kind = "folded (obs-fold)" if line[:1] in (" ", "\t") else "malformed"
                raise ProtocolError(f"{kind} header line, field {number} of the head")
            headers.add(name, value.strip(" \t"))
        status = int(code)
        if status < 200:  # 1xx interim (RFC 9110 §15.2): the real response follows
            if status == 101:
                raise ProtocolError("the server switched protocols, which was not asked for")
            return
        self.status, self.reason = status, reason
        self.headers = CIMultiDictProxy(headers)
        connection = headers.getall("Connection", None)
        if connection is None:
            self.keep_alive = version == "HTTP/1.1"
        else:  # a list of tokens, possibly over several fields (RFC 9110 §7.6.1)
            tokens = {t.strip().lower() for field in connection for t in field.split(",")}
            self.keep_alive = ("close" not in tokens if version == "HTTP/1.1"
                               else "keep-alive" in tokens)
        framing = self._framing(status, headers)
        if framing == _UNTIL_CLOSE:
            self.keep_alive = False
        # Before the state moves on: a sink that refuses the head (an unsupported
        # Content-Encoding) leaves the response not ``started``, so its request fails.
        self.sink.on_head()
        self._state = framing
        if framing == _DONE:
            self._finish()

    def _framing(self, status: int, headers: CIMultiDict[str]) -> int:
        if self._head_request or status in (204, 304):
            return _DONE
        codings = headers.getall("Transfer-Encoding", ())
        if codings:
            if "Content-Length" in headers:
                # Both: Transfer-Encoding wins, but the message may be an attempt at
                # response splitting, so the connection is not reused (§6.3 item 3).
                self.keep_alive = False
            last = ",".join(codings).rsplit(",", 1)[-1].strip().lower()
            return _CHUNK_SIZE_LINE if last == "chunked" else _UNTIL_CLOSE
        lengths = headers.getall("Content-Length", ())
        if lengths:
            values = {v.strip() for text in lengths for v in text.split(",")}
            if len(values) != 1 or not _DIGITS.fullmatch(next(iter(values))):
                raise ProtocolError(f"invalid Content-Length: {', '.join(lengths)[:80]!r}")
            self._remaining = int(values.pop())
            return _LENGTH if self._remaining else _DONE
        return _UNTIL_CLOSE

    def _chunk_size(self, line: bytes) -> None:
        size = line.split(b";", 1)[0].strip(b" \t")
        if not _CHUNK_SIZE.fullmatch(size):
            raise ProtocolError(f"invalid chunk size line: {line[:40]!r}")
        self._remaining = int(size, 16)
        self._state = _CHUNK_DATA if self._remaining else _TRAILERS

    def _finish(self) -> None:
        self._state = _DONE
        self.sink.on_complete()
