"""What the trace keeps of an exchange beyond its summary: headers, bodies, raw stream.

The ``Exchange`` (exchange/exchange.py) holds the summary every subscriber needs; a ``Capture``
hangs off it (``exchange.capture``) with the detail the TUI's detail view, the trace
database and the exporters show: redacted request and response headers, the request
and response bodies, and every stream event as sent with the moment it was handed to
the relay (its arrival from upstream; ``exchange.chunk_times`` has its departure).

It is filled at two points: ``server/routes/inspect.record_response`` (the response hook
for streams, the gateway middleware once a whole response is written) creates it
(headers, bodies) and ``server/streaming.py`` calls ``frame`` for each event.
``frame`` is on the hot path, so it only appends; decoding, assembling and redacting
happen when someone reads (``record.build_record``), off the request's path.

Raw bytes stay private to this class and leave it only redacted: headers through
``request_headers``/``response_headers``, bodies through ``redacted_*``, frames through
``record.build_record``. All of it is redacted when first read, not when recorded: the
hook that records runs on every response, and most captures are never looked at
(redacting a body before the first stream byte would also add to time to first token,
and stream secrets can only be found on the joined text anyway; see exchange/scrub.py). The
credentials a request presented (``known``) are found the same way, on first read.
Memory is bounded twice: per exchange (``MAX_BODY``, ``MAX_STREAM``) and across all
exchanges (``CaptureBudget``: the oldest captures give their bytes back once the total
passes the budget).

Media is kept as what it is, never as bytes (exchange/media.py): a media or form body is
recorded as its summary (``request_media``/``response_media``: a line and a form's parts)
and base64 media in JSON or stream events is summarised when read. A body past
``MAX_BODY`` has its base64 summarised as it is recorded, before the cap would cut it.
"""

from __future__ import annotations

import json
import threading
import weakref
from collections import deque
from collections.abc import Callable, Iterable
from operator import attrgetter

from behest_local.exchange import media, scrub
from behest_local.exchange.scrub import SECRET_HEADERS, redact_value
from behest_local.exchange.timing import TIMELINE_MAX

Headers = tuple[tuple[str, str], ...]

MAX_BODY = 64 * 1024
"""Bytes of a request or response body kept; the rest is counted, not kept."""
MAX_STREAM = 128 * 1024
"""Bytes of raw stream events kept per exchange; later events keep only their timing."""
DEFAULT_BUDGET = 64 * 1024 * 1024
"""Bytes held by all captures together before the oldest are released."""


class CaptureBudget:
    """A cap on the bytes all live captures hold, oldest released first.

    ``charge`` is called from the hot path with each kept frame's size; it only adds,
    unless the total passes ``limit``. Then the live captures are recounted (dead ones,
    whose exchange left the trace ring, are dropped) and the oldest released until the
    total is back under three quarters of the limit, so recounts stay rare.
    """

    def __init__(self, limit: int = DEFAULT_BUDGET) -> None:
        self.limit = limit
        self.used = 0
        self.released = 0
        self._held: deque[weakref.ref[Capture]] = deque()

    def hold(self, capture: Capture, n: int) -> None:
        """Track a new ``capture`` (weakly: it dies with its exchange) holding ``n`` bytes."""
        held = self._held
        held.append(weakref.ref(capture))
        if len(held) > 4096 and len(held) % 1024 == 0:
            # Exchanges leave the ring silently; prune their dead references now and then.
            self._held = deque(r for r in held if r() is not None)
        if n:
            self.charge(n)

    def charge(self, n: int) -> None:
        self.used += n
        if self.used > self.limit:
            self._shrink()

    def _shrink(self) -> None:
        live = [c for c in (r() for r in self._held) if c is not None]
        self.used = sum(c.held_bytes for c in live)
        target = self.limit * 3 // 4
        index = 0
        while self.used > target and index < len(live):
            self.used -= live[index].release()
            self.released += 1
            index += 1
        self._held = deque(weakref.ref(c) for c in live[index:])


class Capture:
    """Headers, bodies and raw stream events of one exchange (see the module docstring)."""

    __slots__ = (
        "response_status", "request_body_size", "request_body_note", "response_body_size",
        "request_media", "response_media",
        "arrivals", "frame_bytes", "frames_dropped", "responded", "released",
        "_request_headers", "_response_headers", "_raw_request_headers",
        "_raw_response_headers", "_request_body", "_response_body", "_frames", "_known",
        "pii", "_clock", "_budget", "__weakref__",
    )

    _lock = threading.Lock()
    """One lock for every capture, held only by ``release`` and the readers of the frame
    list (``raw_frames``, ``snapshot``, in other threads): both are rare, so sharing it
    costs nothing, where a lock per capture cost a lock per request."""

    def __init__(self, clock: Callable[[], float], budget: CaptureBudget | None = None, *,
                 request_headers: Iterable[tuple[str, str]] | None = None,
                 response_headers: Iterable[tuple[str, str]] | None = None,
                 status: int | None = None, request_body: bytes | None = None,
                 request_body_note: str | None = None,
                 response_body: bytes | None = None, request_type: str | None = None,
                 response_type: str | None = None) -> None:
        """An empty capture, or (``server/routes/inspect.record_response``) one recorded
        in a single call: headers as ``record_headers`` takes them, bodies as
        ``request_body``/``response_body`` do (``*_type``: their content types); headers
        given means ``responded``."""
        self._clock = clock
        self._budget = budget
        self._raw_request_headers = request_headers
        self._raw_response_headers = response_headers
        self._request_headers: Headers = ()
        self._response_headers: Headers = ()
        self.response_status = status
        self.request_media: media.Summary | None = None
        """What a media or form request body is (``media.summarise_body``), kept instead of
        its bytes; set by the route that read a form (``server/body.note_part``) too."""
        self.response_media: media.Summary | None = None
        """The same for the response (an audio file, an image)."""
        self._request_body: bytes | None = None
        self.request_body_size: int | None = None
        self._response_body: bytes | None = None
        self.response_body_size: int | None = None
        held = 0
        if request_body is not None:
            self.request_body_size = len(request_body)
            self._request_body, self.request_media = media.kept(request_body, request_type,
                                                                MAX_BODY)
            held = len(self._request_body or b"")
        self.request_body_note = request_body_note
        """Why there is no request body, when there is none (e.g. rejected before reading)."""
        if response_body is not None:
            self.response_body_size = len(response_body)
            self._response_body, self.response_media = media.kept(response_body,
                                                                  response_type, MAX_BODY)
            held += len(self._response_body or b"")
        self._known: tuple[str, ...] | None = None
        self.pii: tuple[tuple[str, str], ...] = ()
        """PII values the guardrails found in the request, with their entity: every copy
        read from this capture shows ``<ENTITY>`` instead (``unpii``), in shadow mode too."""
        self._frames: list[bytes] = []
        self.arrivals: list[float] = []
        """Monotonic time each stream event reached the relay, before its write."""
        self.frame_bytes = 0
        self.frames_dropped = 0
        self.responded = response_headers is not None
        """True once the response headers were recorded (``ResponseStarted`` published)."""
        self.released = False
        if budget is not None:
            budget.hold(self, held)

    # -- recording (gateway side) -----------------------------------------------------

    def record_headers(self, request: Iterable[tuple[str, str]],
                       response: Iterable[tuple[str, str]]) -> None:
        """Keep the raw request and response header pairs (a mapping's ``items()`` or an
        immutable copy: the caller must not change them afterwards). O(1): they are
        redacted, and the credentials among them found, when first read."""
        self._raw_request_headers = request
        self._raw_response_headers = response

    def set_known_secrets(self, secrets: tuple[str, ...]) -> None:
        """The credentials this request presented, so echoes of them are redacted too
        (found in the request headers when not set)."""
        self._known = tuple(s for s in secrets if len(s) >= scrub.MIN_KNOWN)

    def request_body(self, raw: bytes | None, note: str | None = None,
                     content_type: str | None = None) -> None:
        if raw is None:
            self.request_body_note = note
            return
        self.request_body_size = len(raw)
        self._request_body, self.request_media = media.kept(raw, content_type, MAX_BODY)
        self._charge(len(self._request_body or b""))

    def response_body(self, raw: bytes, content_type: str | None = None) -> None:
        self.response_body_size = len(raw)
        self._response_body, self.response_media = media.kept(raw, content_type, MAX_BODY)
        self._charge(len(self._response_body or b""))

    def media_response(self, line: str, size: int) -> None:
        """A media response the route wrote itself in pieces (speech): recorded as its
        ``media.describe`` line and size, its bytes never kept."""
        self.response_body_size = size
        self.response_media = media.summary(None, line)

    def frame(self, data: bytes) -> None:
        """One stream event about to be written. Hot path: append only (its time only for
        the first ``TIMELINE_MAX``, as the exchange keeps its departures)."""
        arrivals = self.arrivals
        if len(arrivals) < TIMELINE_MAX:
            arrivals.append(self._clock())
        size = len(data)
        self.frame_bytes += size
        if self.released or self.frame_bytes > MAX_STREAM:
            self.frames_dropped += 1
            return
        self._frames.append(data)
        if self._budget is not None:
            self._budget.charge(size)

    def _charge(self, n: int) -> None:
        if self._budget is not None:
            self._budget.charge(n)

    # -- memory -----------------------------------------------------------------------

    @property
    def held_bytes(self) -> int:
        frames = sum(len(f) for f in self._frames)
        return frames + len(self._request_body or b"") + len(self._response_body or b"")

    def release(self) -> int:
        """Drop bodies and raw events (timings stay); returns the bytes given back."""
        with self._lock:
            freed = self.held_bytes
            self.frames_dropped += len(self._frames)
            self._frames = []
            self._request_body = self._response_body = None
            self.released = True
        return freed

    # -- reading (always redacted) ----------------------------------------------------

    @property
    def request_headers(self) -> Headers:
        """The request headers, credentials redacted (scrub.redact_value)."""
        raw = self._raw_request_headers
        if raw is not None:
            self._redact_request(raw)
        return self._request_headers

    @property
    def response_headers(self) -> Headers:
        """The response headers as prepared, credentials redacted."""
        raw = self._raw_response_headers
        if raw is not None:
            self._response_headers = tuple([(k, redact_value(k, v)) for k, v in raw])
            self._raw_response_headers = None
        return self._response_headers

    @property
    def known(self) -> tuple[str, ...]:
        """The credentials the request presented (its secret headers' tokens)."""
        raw = self._raw_request_headers
        if raw is not None:
            self._redact_request(raw)
        return self._known or ()

    def _redact_request(self, raw: Iterable[tuple[str, str]]) -> None:
        # Idempotent, so a reader thread racing the loop's TUI only does it twice.
        pairs, found = [], []
        for name, value in raw:
            if name.lower() in SECRET_HEADERS:
                scheme, _, token = value.partition(" ")
                bare = token and scheme.lower() in ("bearer", "basic")
                found.append(token.strip() if bare else value)
                value = redact_value(name, value)
            pairs.append((name, value))
        self._request_headers = tuple(pairs)
        if self._known is None:
            self._known = tuple(s for s in found if len(s) >= scrub.MIN_KNOWN)
        self._raw_request_headers = None

    def redacted_request_body(self) -> str | None:
        """The request body as shown: its media summary, or its text with base64 media
        summarised (``media.summarise_fields``); redacted either way (a form's fields)."""
        return self._shown(self.request_media, self._request_body, self.request_body_size)

    def redacted_response_body(self) -> str | None:
        return self._shown(self.response_media, self._response_body, self.response_body_size)

    def _shown(self, summary: media.Summary | None, raw: bytes | None,
               size: int | None) -> str | None:
        if summary is not None:
            return scrub.redact_text(self._unpii_text(summary[0]), self.known)
        if raw is None:
            return None
        return scrub.redact_body(
            media.summarise_fields(self.unpii(raw), cut=len(raw) < (size or 0)), self.known)

    def media_parts(self, side: str) -> list[dict] | None:
        """The redacted summary of a media body on ``side`` (``request``/``response``), for
        a record: ``{"summary": line, "parts": [{name, filename, content_type, text}]}``,
        None when the body is not media."""
        summary = self.request_media if side == "request" else self.response_media
        if summary is None:
            return None
        known = self.known
        return {"summary": scrub.redact_text(summary[0], known),
                "parts": [{"name": name, "filename": filename, "content_type": ctype,
                           "text": scrub.redact_text(self._unpii_text(text), known)}
                          for name, filename, ctype, text in summary[1]]}

    def raw_frames(self) -> list[bytes]:
        """A snapshot of the kept frames, for ``record.build_record`` to decode and redact.

        Never shown as is: the only caller redacts on the joined text before anything
        leaves (scrub.redact_fragments). PII values are replaced frame by frame: a value
        a shadow-mode reply streams split across two events keeps its parts (a masked
        reply's restored values are whole in one event)."""
        with self._lock:
            frames = list(self._frames)
        return [self.unpii(f) for f in frames] if self.pii else frames

    def _unpii_text(self, text: str) -> str:
        """``unpii`` for text already decoded (a media summary's form fields)."""
        return self.unpii(text.encode()).decode(errors="replace") if self.pii else text

    def unpii(self, raw: bytes) -> bytes:
        """``raw`` with each of ``pii``'s values, as text or JSON-escaped, replaced by
        ``<ENTITY>``."""
        for value, entity in self.pii:
            for form in pii_forms(value):
                if form in raw:
                    raw = raw.replace(form, f"<{entity}>".encode())
        return raw

    # -- copied for the trace writer (observe/trace_writer.py) ---------------------------------

    def snapshot(self) -> tuple:
        """The capture as plain values, as recorded (raw headers while not yet read): the
        trace writer thread ``restore``s it and redacts there, as ``build_record`` does.
        Every slot but ``LOCAL`` ones, in slot order (``CARRIED``)."""
        with self._lock:  # one consistent view against ``release``
            values = list(_carried(self))
        for index, copy in _COPIES:
            value = values[index]
            if value is not None:  # raw headers once read
                values[index] = copy(value)
        return tuple(values)

    @classmethod
    def restore(cls, values: tuple) -> Capture:
        """A capture equal, for every reader, to the one ``snapshot`` was taken of."""
        capture = cls(lambda: 0.0)
        for name, value in zip(CARRIED, values, strict=True):
            setattr(capture, name, value)
        return capture

    def __repr__(self) -> str:  # no bodies, no secrets
        return (f"Capture(status={self.response_status}, frames={len(self.arrivals)}, "
                f"kept_bytes={self.frame_bytes}, released={self.released})")


def pii_forms(value: str) -> tuple[bytes, ...]:
    """The bytes ``value`` may take in a body: as is, and JSON-escaped (ASCII or not)."""
    forms = {value.encode(), json.dumps(value)[1:-1].encode(),
             json.dumps(value, ensure_ascii=False)[1:-1].encode()}
    return tuple(sorted(forms, key=len, reverse=True))


def _plain_pairs(pairs: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """Header pairs as exact ``str``s: aiohttp's names are ``multidict.istr``, a subclass,
    which ``marshal`` (the trace writer's pipe) refuses."""
    return tuple([(str(name), str(value)) for name, value in pairs])


# -- what is copied for the trace writer, derived from the slots ----------------------------

LOCAL = frozenset({"_clock", "_budget", "__weakref__"})
"""Slots that stay in this process: the gateway's clock and budget, the weak reference."""
CARRIED = tuple(name for name in Capture.__slots__ if name not in LOCAL)
"""What ``snapshot`` carries and ``restore`` sets: every other slot, so a new one crosses
without being listed anywhere."""
_COPY = {
    # Header pairs as exact strs (marshal refuses istr); the lists copied, so a snapshot
    # never shares the capture's own (as ``raw_frames`` does not).
    "_raw_request_headers": _plain_pairs, "_request_headers": _plain_pairs,
    "_raw_response_headers": _plain_pairs, "_response_headers": _plain_pairs,
    "_frames": list, "arrivals": list,
}
_COPIES = tuple((CARRIED.index(name), copy) for name, copy in _COPY.items())
_carried = attrgetter(*CARRIED)
