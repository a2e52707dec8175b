"""The record of one exchange: a redacted, JSON-ready snapshot for every reader.

``build_record(exchange)`` is the single place where an ``Exchange`` and its
``Capture`` become data that leaves the gateway's memory: the TUI's detail view, the
trace database (observe/trace_db.py), JSONL and HAR exports (observe/export.py), copy-as-curl and
fixtures (observe/fixtures.py) all read records, never the capture's raw bytes. Redaction
happens here (exchange/scrub.py), so no reader can forget it, and so does summarising
media (exchange/media.py): an image or audio body, base64 or upload is its type and size.
Its summary (ids, model, status, tokens, cost…) is the exchange's recorded fields as
``exchange.FIELDS`` declares them, each under its own name.

Building a record decodes the kept stream events, so it is done off the hot path: on
the trace database's writer thread, or for the one exchange the TUI shows. A record
is also what ``trace_db`` stores, so ``record["timeline"]`` keeps times relative to the
exchange's start (``timing.build`` reads them back with ``started=0``).

``record["message"]`` (what the model said, assembled: observe/assemble.py) is a function of
the record's own redacted events or response body. The trace database stores records
without it (``message=False``: assembling costs the writer as much again) and
``with_message`` derives it when they are read, from the same data and so to the
same result.
"""

from __future__ import annotations

import copy
import json
from itertools import repeat

from behest_local import sse
from behest_local.exchange import media, scrub
from behest_local.exchange.exchange import FIELDS, Exchange
from behest_local.observe.assemble import assemble_body, assemble_events

VERSION = 1

_SUMMARY = tuple((f.name, f.plain) for f in FIELDS if f.recorded)
"""The record's summary keys: every recorded field the exchange declares (exchange.FIELDS),
under its name, as a plain value."""


def build_record(exchange: Exchange, *, events: bool = True, message: bool = True) -> dict:
    """The record of ``exchange``. ``events=False`` skips decoding the stream (events and
    the assembled message; ``record["partial"]`` is then True): what the TUI asks for
    while a long stream runs and only its summary or timeline is on screen.
    ``message=False`` leaves the ``"message"`` key out, for ``with_message`` to add."""
    capture = exchange.capture
    started = exchange.started
    record: dict = {"version": VERSION}
    for name, plain in _SUMMARY:
        value = getattr(exchange, name)
        record[name] = value if plain is None else plain(value)
    chunk_times = exchange.chunk_times
    record.update({
        "request": {"headers": [], "body": None, "body_size": None, "body_note": None,
                    "media": None},
        "response": {"status": exchange.status, "headers": [], "body": None, "body_size": None,
                     "media": None},
        "events": [], "events_dropped": 0, "message": None, "recorded": capture is not None,
        "partial": False,
        "timeline": {"departures": _offsets(chunk_times, started),
                     "arrivals": None, "sizes": None},
    })
    if not message:
        del record["message"]
    if capture is None:
        return record
    known = capture.known
    # Each body is redacted exactly once; the message is read from the redacted text.
    response_body = capture.redacted_response_body()
    record["request"].update(headers=[list(h) for h in capture.request_headers],
                             body=capture.redacted_request_body(),
                             body_size=capture.request_body_size,
                             body_note=capture.request_body_note,
                             media=capture.media_parts("request"))
    record["response"].update(status=capture.response_status or exchange.status,
                              headers=[list(h) for h in capture.response_headers],
                              body=response_body,
                              body_size=capture.response_body_size,
                              media=capture.media_parts("response"))
    frames = capture.raw_frames()
    arrivals = capture.arrivals
    record["timeline"]["arrivals"] = _offsets(arrivals, started)
    record["timeline"]["sizes"] = [len(f) for f in frames]
    record["released"] = capture.released
    if (frames or capture.frames_dropped) and not events:
        record["partial"] = True
    elif frames or capture.frames_dropped:
        labels = tuple((value, f"<{entity}>") for value, entity in capture.pii)
        decoded, payloads = _decode(frames, known, labels)
        record["events"] = decoded
        record["events_dropped"] = capture.frames_dropped
        if message:
            record["message"] = _message_of_events(payloads, known)
    elif response_body is not None and message:
        record["message"] = _message_of_body(response_body, known)
    return record


def _offsets(times: list[float], started: float) -> list[float]:
    """Seconds since ``started``, to the microsecond (``round(x * 1e6) / 1e6`` is
    ``round(x, 6)`` up to the last bit, without its decimal conversion)."""
    return [round((t - started) * 1e6) / 1e6 for t in times]


def with_message(record: dict) -> dict:
    """``record`` with ``"message"``, assembled from its events or body if it has none
    (a record as the trace database stores it). Returns ``record``, completed in place."""
    if "message" in record:
        return record
    message = None
    if record.get("events") or record.get("events_dropped"):
        payloads = []
        for event in record["events"]:
            if event["data"] != "[DONE]":
                try:
                    payloads.append(json.loads(event["data"]))
                except ValueError:
                    pass
        message = _message_of_events(payloads, ())
    elif record.get("response", {}).get("body") is not None:
        message = _message_of_body(record["response"]["body"], ())
    record["message"] = message
    return record


def _message_of_events(payloads: list[object], known: tuple[str, ...]) -> dict:
    """The assembled message of redacted event payloads. Assembling joins fragments
    (each channel already redacted as a whole), hence one more (cheap) pass."""
    return scrub.redact_json(assemble_events(payloads), known)


def _message_of_body(body_text: str, known: tuple[str, ...]) -> dict | None:
    """The assembled message of a redacted JSON body. Its strings are already redacted;
    assembling may join several (Responses API parts), hence one more (cheap) pass."""
    try:
        body = json.loads(body_text)
    except ValueError:
        return None
    if not isinstance(body, dict) or not ("choices" in body or "output" in body):
        return None
    return scrub.redact_json(assemble_body(body), known)


def _decode(frames: list[bytes], known: tuple[str, ...], pii: tuple[tuple[str, str], ...] = ()
            ) -> tuple[list[dict], list[object]]:
    """Decode kept frames into redacted event dicts, plus the JSON payloads of those
    events as redacted (what parsing each event's redacted ``data`` gives). ``pii``:
    values the guardrails found and their labels, replaced across events too."""
    # Base64 media in an event (an image's partial, a speech delta) is shown as its
    # summary; kept frames are whole events, so each value is whole (exchange/media.py).
    indexes, names, texts = _split_events(list(map(media.summarise_fields, frames)))
    payloads = [None if data == "[DONE]" else _parse(data) for data in texts]
    redacted, changed = _redact_payloads(texts, payloads, known, pii)
    events = [{"frame": index, "event": name, "data": data}
              for index, name, data in zip(indexes, names, redacted)]
    for i, payload in changed.items():
        payloads[i] = payload
    return events, [p for p in payloads if p is not None]


def _split_events(frames: list[bytes]) -> tuple[list[int], list[str], list[str]]:
    """Each event's frame index, name and data, as ``sse.SSEDecoder`` reads the frames.

    Nearly every relayed frame is one ``data: …`` line and its blank line, which the
    decoder reads as exactly that line's text. When every frame is (each ends with a
    blank line, all hold two line feeds and no CR in total, each starts ``data: ``, all
    valid UTF-8), the texts are cut out of the joined frames in one go; any other
    framing goes through the decoder."""
    count = len(frames)
    if count and all(map(bytes.endswith, frames, repeat(b"\n\n", count))):
        joined = b"".join(frames)
        if (joined.count(b"\n") == 2 * count and b"\r" not in joined
                and joined.startswith(b"data: ")
                # Line feeds are only at frame ends, so each match is a frame start.
                and joined.count(b"\n\ndata: ") == count - 1):
            try:
                texts = joined[6:-2].decode().split("\n\ndata: ")
            except UnicodeDecodeError:
                pass
            else:
                return list(range(count)), ["message"] * count, texts
    decoder = sse.SSEDecoder()
    indexes: list[int] = []
    names: list[str] = []
    texts = []
    for index, frame in enumerate(frames):
        for event in decoder.feed(frame):
            indexes.append(index)
            texts.append(event.data)
            names.append(event.event)
    return indexes, names, texts


_scan = json.JSONDecoder().scan_once


def _parse(data: str) -> object:
    """``json.loads(data)``, or None when it is not JSON. Calls the C scanner directly
    (``json.loads`` wraps it in three Python calls and a regex: dearer than the parse of
    a small event)."""
    try:
        value, end = _scan(data, 0)
        if end == len(data):
            return value
    except (StopIteration, ValueError):
        pass
    try:  # surrounding whitespace, or not JSON: the full rules decide
        return json.loads(data)
    except ValueError:
        return None


_RAW = ("#raw",)


def _redact_payloads(texts: list[str], payloads: list[object], known,
                     pii: tuple[tuple[str, str], ...] = ()
                     ) -> tuple[list[str], dict[int, object]]:
    """Each event's data text with secrets removed, matching across events, and the
    redacted copies of the payloads that changed (by event index).

    Every string in an event sits at a JSON path (``choices/0/delta/content``); the
    strings at one path across the stream are fragments of one text, so they are
    redacted together (scrub.redact_fragments). Non-JSON data forms one more channel.
    Only events that change are copied and re-serialised: most events of a stream hold
    nothing to redact and keep their text as sent.
    """
    texts = list(texts)
    changed: dict[int, object] = {}
    root = _Channel(())
    raw = _Channel(_RAW)
    for i, payload in enumerate(payloads):
        if payload is None:
            raw.events.append(i)
            raw.fragments.append(texts[i])
        elif type(payload) is dict or type(payload) is list:
            _collect(payload, root.children, root.path, i)
        elif type(payload) is str:
            root.events.append(i)
            root.fragments.append(payload)
    for channel in (raw, *_channels(root)):
        fragments = channel.fragments
        if channel.secret:
            redacted = [scrub.hint(value) if value else value for value in fragments]
        else:
            redacted = scrub.redact_fragments(fragments, known)
            if pii:  # a value a shadow-mode reply streamed in pieces (Capture.pii)
                redacted = scrub.replace_values(redacted, pii)
            if redacted is fragments:
                continue
        path = channel.path
        for i, old, new in zip(channel.events, fragments, redacted):
            if new == old:
                continue
            if path is _RAW:
                texts[i] = new
            elif not path:  # the whole payload is one JSON string
                changed[i] = new
            else:
                if i not in changed:
                    changed[i] = copy.deepcopy(payloads[i])
                _set(changed[i], path, new)
    for i, payload in changed.items():
        texts[i] = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return texts, changed


class _Channel:
    """The strings found at one JSON path across a stream's events (``fragments``, with
    the index of the event each came from), and the paths below it: a tree walked along
    with each payload, so no path is built or hashed per event."""

    __slots__ = ("path", "secret", "events", "fragments", "children")

    def __init__(self, path: tuple) -> None:
        self.path = path
        name = path[-1] if path else None
        # A field named like a secret is replaced whatever it holds (as scrub.redact_json).
        self.secret = isinstance(name, str) and name.lower() in scrub.SECRET_KEYS
        self.events: list[int] = []
        self.fragments: list[str] = []
        self.children: dict[object, _Channel] = {}


def _collect(value: dict | list, children: dict, path: tuple, i: int) -> None:
    for key, item in (value.items() if type(value) is dict else enumerate(value)):
        kind = type(item)
        if kind is str or kind is dict or kind is list:
            channel = children.get(key)
            if channel is None:
                channel = children[key] = _Channel((*path, key))
            if kind is str:
                channel.events.append(i)
                channel.fragments.append(item)
            else:
                _collect(item, channel.children, channel.path, i)


def _channels(root: _Channel):
    stack = [root]
    while stack:
        channel = stack.pop()
        if channel.fragments:
            yield channel
        stack.extend(channel.children.values())


def _set(value, path, new) -> None:
    for step in path[:-1]:
        value = value[step]
    value[path[-1]] = new
