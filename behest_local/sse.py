"""Server-sent events: an encoder and an incremental decoder. Pure, no I/O.

The encoder frames what the gateway sends (LF line endings only: the ``behest-ai`` Python
SDK yields nothing for CRLF-framed streams). The decoder follows the WHATWG HTML
"event stream interpretation" rules so it can read any upstream: LF, CR and CRLF line
endings, comments (``:``), multi-line ``data``, ``event``/``id``/``retry`` fields, a
leading BOM, and input split at arbitrary byte boundaries. An upstream that mixes other
text into its stream (Gemini sends mid-stream errors as raw, multi-line JSON) can be read
with ``SSEDecoder(raw_lines=True)``: lines the spec would ignore come back, in order, as
``SSEEvent(raw=True)`` for the dialect's translator to interpret.
"""

from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SSEEvent:
    data: str
    event: str = "message"
    id: str | None = None
    retry: int | None = None
    raw: bool = False
    """A line that is not an SSE field (only from ``SSEDecoder(raw_lines=True)``): ``data``
    holds the line as received, ``event`` is empty, and no event state changed."""


_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def encode_json(obj: object, event: str | None = None) -> bytes:
    """One SSE event carrying ``obj`` as compact JSON (JSON text never contains a raw LF)."""
    body = _dumps(obj)
    if event is None:
        return f"data: {body}\n\n".encode()
    return f"event: {event}\ndata: {body}\n\n".encode()


def encode(data: str, *, event: str | None = None, id: str | None = None) -> bytes:
    """One SSE event with arbitrary text; each line of ``data`` becomes a ``data:`` line."""
    lines = []
    if event is not None:
        lines.append(f"event: {event}")
    if id is not None:
        lines.append(f"id: {id}")
    # Any of CR, LF, CRLF ends a line in SSE, so all three split data into fields.
    for line in data.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        lines.append(f"data: {line}")
    return ("\n".join(lines) + "\n\n").encode()


def comment(text: str = "") -> bytes:
    return f": {text}\n\n".encode()


DONE = b"data: [DONE]\n\n"


class SSEDecoder:
    """Incremental decoder: ``feed(bytes)`` returns the events completed so far.

    Bytes are decoded as UTF-8 incrementally, so a multi-byte character split across
    two reads is handled. Invalid UTF-8 is replaced, never raised (the spec decodes with
    replacement).

    ``raw_lines=True`` returns the lines the spec ignores (field names other than
    ``data``/``event``/``id``/``retry``, such as a line of raw JSON) as ``raw`` events
    instead of dropping them, and ``close`` returns an unterminated last line the same way;
    everything else decodes exactly as without it.
    """

    def __init__(self, *, raw_lines: bool = False) -> None:
        import codecs

        self._raw_lines = raw_lines

        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._pending_cr = False
        self._started = False
        self._data: list[str] = []
        self._event = ""
        self._id: str | None = None
        self._last_id: str | None = None
        self._retry: int | None = None

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        text = self._utf8.decode(chunk)
        return self._consume(text)

    def close(self) -> list[SSEEvent]:
        """End of stream. Per the spec an event without its terminating blank line is
        discarded, so only already complete events were returned by ``feed``; with
        ``raw_lines`` an unterminated non-field last line is returned as a raw event."""
        out = self._consume(self._utf8.decode(b"", final=True))
        rest, self._buffer = self._buffer, ""
        if self._raw_lines and rest.strip():
            raw = self._line(rest)
            if raw is not None and raw.raw:
                out.append(raw)
        return out

    def _consume(self, text: str) -> list[SSEEvent]:
        if not self._started and text:
            self._started = True
            if text.startswith("\ufeff"):
                text = text[1:]
        if self._pending_cr and text:
            # A CR at the end of the previous read: a following LF belongs to it.
            if text.startswith("\n"):
                text = text[1:]
            self._pending_cr = False
        buf = self._buffer + text
        events: list[SSEEvent] = []
        start = 0
        n = len(buf)
        while start < n:
            cr = buf.find("\r", start)
            lf = buf.find("\n", start)
            if cr == -1 and lf == -1:
                break
            if cr == -1 or (lf != -1 and lf < cr):
                end, nxt = lf, lf + 1
            else:
                end = cr
                if cr + 1 < n:
                    nxt = cr + 2 if buf[cr + 1] == "\n" else cr + 1
                else:
                    nxt = cr + 1
                    self._pending_cr = True
            event = self._line(buf[start:end])
            if event is not None:
                events.append(event)
            start = nxt
        self._buffer = buf[start:]
        return events

    def _line(self, line: str) -> SSEEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\x00" not in value:
                self._id = value
        elif name == "retry":
            if value.isascii() and value.isdigit():
                self._retry = int(value)
        elif self._raw_lines:
            return SSEEvent(line, "", raw=True)
        return None

    def _dispatch(self) -> SSEEvent | None:
        if self._id is not None:
            self._last_id = self._id
            self._id = None
        if not self._data:
            self._event = ""
            return None
        event = SSEEvent("\n".join(self._data), self._event or "message", self._last_id,
                         self._retry)
        self._data = []
        self._event = ""
        return event


def decode_all(payload: bytes) -> list[SSEEvent]:
    """Decode a complete stream at once (tests, recorded fixtures)."""
    decoder = SSEDecoder()
    return decoder.feed(payload) + decoder.close()


def parse_json_events(payload: bytes) -> list[object]:
    """The JSON payloads of a ``data:``-only stream, stopping at ``[DONE]``."""
    out: list[object] = []
    for event in decode_all(payload):
        if event.data == "[DONE]":
            break
        out.append(json.loads(event.data))
    return out
