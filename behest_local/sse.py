"""Server-sent events: an encoder and an incremental decoder. Pure, no I/O.

The encoder frames what the gateway sends (LF line endings only: the ``behest-ai`` Python
SDK yields nothing for CRLF-framed streams). The decoder follows the WHATWG HTML
"event stream interpretation" rules so it can read any upstream: LF, CR and CRLF line
endings, comments (``:``), multi-line ``data``, ``event``/``id``/``retry`` fields, a
leading BOM, and input split at arbitrary byte boundaries. An upstream that mixes other
text into its stream (Gemini sends mid-stream errors as raw, multi-line JSON) can be read
with ``SSEDecoder(raw_lines=True)``: lines the spec would ignore come back, in order, as
``SSEEvent(raw=True)`` for the dialect's translator to interpret.

Both sides have a fast path for the shape nearly every stream has, one LF-framed
``data: {…}`` line per event: the decoder takes such events whole (the line-by-line rules
give the same result), and ``EventJSON`` lets a relayed JSON payload be sent again as it
was received instead of being re-encoded (the relay's cost is per event).

The decoder's memory is bounded by ``max_event``, whatever the upstream sends: a line
(the unfinished one it buffers) or an event (the ``data`` lines it gathers) longer than
that raises ``EventTooLarge``. The checks are a few length comparisons per ``feed``, never
per event, and an unfinished line is kept as a list of its pieces, joined once its end
arrives, so a long line costs no quadratic copying either.
"""

from __future__ import annotations

import codecs
import json
import sys
from typing import NamedTuple


class EventTooLarge(ValueError):
    """A stream line or event longer than the decoder's ``max_event`` (``kind`` says which)."""

    def __init__(self, kind: str, limit: int) -> None:
        super().__init__(f"a stream {kind} is longer than {limit} characters")
        self.kind, self.limit = kind, limit


class SSEEvent(NamedTuple):
    """One dispatched event. A named tuple: built once per upstream event, so it must be
    cheap to make (a frozen dataclass costs several times more)."""

    data: str
    event: str = "message"
    id: str | None = None
    retry: int | None = None
    raw: bool = False
    """A line that is not an SSE field (only from ``SSEDecoder(raw_lines=True)``): ``data``
    holds the line as received, ``event`` is empty, and no event state changed."""


_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def encode_json(obj: object, event: str | None = None) -> bytes:
    """One SSE event carrying ``obj`` as compact JSON (JSON text never contains a raw LF).
    An ``EventJSON`` that still holds its text is sent as that text, not re-encoded."""
    body = obj.text if type(obj) is EventJSON else None
    if body is None:
        body = _dumps(obj)
    if event is None:
        return f"data: {body}\n\n".encode()
    return f"event: {event}\ndata: {body}\n\n".encode()


class EventJSON(dict):
    """A JSON object decoded from an event's data that keeps the text it was decoded from.

    ``encode_json`` sends ``text`` instead of re-encoding the object: the relay's common
    case, an upstream chunk that needs no repair, then costs no ``json.dumps``. ``text`` is
    kept only while it says exactly what the dict holds. Adding a ``null`` member, and
    removing it again, or removing the text's last member when it is ``null`` (the
    gateway's ``"usage": null`` bookkeeping), follow in the text; any other change to a
    top-level key drops the text (None) and the object is encoded anew. Nested values are
    not watched: treat them as read-only (build a new dict to change one). Copies are
    plain dicts.
    """

    __slots__ = ("_text", "_added")

    def __init__(self, obj: dict, text: str) -> None:
        dict.__init__(self, obj)
        if text[:1] != "{" or text[-1:] != "}":
            text = text.strip()  # JSON whitespace only: ``obj`` was decoded from it
        # SSE framing needs one line; an object of several data lines is re-encoded.
        self._text: str | None = text if "\n" not in text and "\r" not in text else None
        self._added = ""
        """The ``,"key":null`` members added since, in order: joined into ``text`` only
        when it is read, so adding one and removing it again costs no copy of the text."""

    @property
    def text(self) -> str | None:
        """The object's JSON text, or None once it changed in a way the text cannot say."""
        text, added = self._text, self._added
        return text if not added or text is None else f"{text[:-1]}{added}}}"

    def __setitem__(self, key: str, value: object) -> None:
        if self._text is not None:
            if value is None and key not in self and self and type(key) is str \
                    and key.isascii() and key.isidentifier():  # needs no JSON escaping
                self._added += f',"{key}":null'
            elif not (value is None and dict.get(self, key, 0) is None):  # not a no-op
                self._text = None
        dict.__setitem__(self, key, value)

    def pop(self, key: str, *default: object) -> object:
        text = self._text
        if text is not None and key in self:
            member = f',"{key}":null'
            if self._added.endswith(member):  # the last one added (keys are plain)
                self._added = self._added[:-len(member)]
            elif (not self._added and dict.get(self, key) is None and _plain(key)
                  and text.endswith(member + "}") and text.count(f'"{key}"') == 1):
                # The text's own last member. Only if the key occurs once: with a
                # duplicate (legal JSON, the last one wins) the first would surface.
                self._text = text[:-len(member) - 1] + "}"
            else:
                self._text = None
        return dict.pop(self, key, *default)

    def __delitem__(self, key: str) -> None:
        self._text = None
        dict.__delitem__(self, key)

    def __ior__(self, other):
        self._text = None
        return dict.__ior__(self, other)

    def update(self, *args: object, **kwargs: object) -> None:
        self._text = None
        dict.update(self, *args, **kwargs)

    def setdefault(self, key: str, default: object = None) -> object:
        if key not in self:
            self._text = None
        return dict.setdefault(self, key, default)

    def popitem(self) -> tuple:
        self._text = None
        return dict.popitem(self)

    def clear(self) -> None:
        self._text = None
        dict.clear(self)

    def __reduce__(self):
        return (dict, (dict(self),))  # pickles and deep copies are plain dicts


def _plain(key: object) -> bool:
    """Whether ``key`` is written the same in JSON as it is (no escaping needed)."""
    return type(key) is str and key.isascii() and key.isidentifier()


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

    ``max_event`` caps a line, and an event's data, in characters (a UTF-8 byte decodes
    to at most one): past it ``feed`` raises ``EventTooLarge``, and the decoder is not to
    be fed again. Unbounded by default.
    """

    def __init__(self, *, raw_lines: bool = False, max_event: int | None = None) -> None:
        self._raw_lines = raw_lines
        self._max = max_event if max_event is not None else sys.maxsize
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer: list[str] = []
        """The pieces of the unfinished last line, joined once a line end arrives."""
        self._buffered = 0
        self._data_size = 0
        """Characters in ``_data`` (and the newlines joining them), for ``max_event``."""
        self._pending_cr = False
        self._started = False
        self._data: list[str] = []
        self._event = ""
        self._id: str | None = None
        self._last_id: str | None = None
        self._retry: int | None = None

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        if self._utf8.buffer:  # the end of a character split by the previous read
            text = self._utf8.decode(chunk)
        else:
            try:  # a whole read of valid UTF-8: what the incremental decoder would give
                text = str(chunk, "utf-8")
            except UnicodeDecodeError:  # split at its end, or invalid: replaced there
                text = self._utf8.decode(chunk)
        return self._consume(text)

    def close(self) -> list[SSEEvent]:
        """End of stream. Per the spec an event without its terminating blank line is
        discarded, so only already complete events were returned by ``feed``; with
        ``raw_lines`` an unterminated non-field last line is returned as a raw event."""
        out = self._consume(self._utf8.decode(b"", final=True))
        rest = "".join(self._buffer)
        self._buffer.clear()
        self._buffered = 0
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
        pieces = self._buffer
        if pieces:  # the rest of a line begun in an earlier read
            if "\n" not in text and "\r" not in text:  # and it goes on: kept, not joined
                pieces.append(text)
                self._buffered += len(text)
                if self._buffered > self._max:
                    raise EventTooLarge("line", self._max)
                return []
            pieces.append(text)
            buf = "".join(pieces)
            pieces.clear()
        else:
            buf = text
        events: list[SSEEvent] = []
        start = self._data_events(buf, events) if "\r" not in buf else 0
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
        if start < n:
            pieces.append(buf[start:])
            self._buffered = n - start
        if n > self._max:  # only a text this long can hold a line or event over the cap
            self._check(events)
        return events

    def _check(self, events: list[SSEEvent]) -> None:
        """Raise ``EventTooLarge`` if the unfinished line, or an event of this read, is
        over ``max_event`` (the data gathered line by line is checked as it grows)."""
        limit = self._max
        if self._buffer and self._buffered > limit:
            raise EventTooLarge("line", limit)
        if any(len(e.data) > limit for e in events):
            raise EventTooLarge("event", limit)

    def _data_events(self, buf: str, events: list[SSEEvent]) -> int:
        """The fast path: leading complete events of one ``data: …`` line each, LF-framed,
        become events directly (exactly what ``_line`` would make of them, line by line).
        Returns where the line-by-line rules take over: the first other shape, or an
        incomplete event."""
        if self._data or self._event or self._id is not None:
            return 0  # inside an event that began in an earlier read
        start = 0
        while buf.startswith("data: ", start):
            end = buf.find("\n", start)
            if end == -1 or not buf.startswith("\n", end + 1):
                break  # incomplete, or more lines than one
            events.append(SSEEvent(buf[start + 6:end], "message", self._last_id, self._retry))
            start = end + 2
        return start

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
            self._data_size += len(value) + 1
            if self._data_size > self._max:
                raise EventTooLarge("event", self._max)
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
        self._data_size = 0
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
