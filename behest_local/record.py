"""The record of one exchange: a redacted, JSON-ready snapshot for every reader.

``build_record(exchange)`` is the single place where an ``Exchange`` and its
``Capture`` become data that leaves the gateway's memory: the TUI's detail view, the
trace database (trace_db.py), JSONL and HAR exports (export.py), copy-as-curl and
fixtures (fixtures.py) all read records, never the capture's raw bytes. Redaction
happens here (scrub.py), so no reader can forget it.

Building a record decodes the kept stream events, so it is done off the hot path: on
the trace database's writer thread, or for the one exchange the TUI shows. A record
is also what ``trace_db`` stores, so ``record["timeline"]`` keeps times relative to the
exchange's start (``timing.build`` reads them back with ``started=0``).
"""

from __future__ import annotations

import copy
import json
from typing import TYPE_CHECKING

from behest_local import scrub, sse
from behest_local.assemble import assemble_body, assemble_events

if TYPE_CHECKING:
    from behest_local.exchange import Exchange

VERSION = 1


def build_record(exchange: Exchange, *, events: bool = True) -> dict:
    """The record of ``exchange``. ``events=False`` skips decoding the stream (events and
    the assembled message; ``record["partial"]`` is then True): what the TUI asks for
    while a long stream runs and only its summary or timeline is on screen."""
    capture = getattr(exchange, "capture", None)
    started = exchange.started
    record = {
        "version": VERSION,
        "id": exchange.id, "trace_id": exchange.trace_id, "wall_time": exchange.wall_time,
        "method": exchange.method, "path": exchange.path, "phase": exchange.phase.value,
        "tenant": exchange.tenant, "project": exchange.project, "user": exchange.user,
        "session": exchange.session, "credential": exchange.credential,
        "requested_model": exchange.requested_model, "model": exchange.model,
        "provider": exchange.provider, "stream": exchange.stream, "status": exchange.status,
        "error": exchange.error, "ttft": exchange.ttft, "duration": exchange.duration,
        "prompt_tokens": exchange.prompt_tokens,
        "completion_tokens": exchange.completion_tokens,
        "cost": getattr(exchange, "cost", None),
        "chunks": len(exchange.chunk_times), "bytes_sent": exchange.bytes_sent,
        "request": {"headers": [], "body": None, "body_size": None, "body_note": None},
        "response": {"status": exchange.status, "headers": [], "body": None, "body_size": None},
        "events": [], "events_dropped": 0, "message": None, "recorded": capture is not None,
        "partial": False,
        "timeline": {"departures": [round(t - started, 6) for t in exchange.chunk_times],
                     "arrivals": None, "sizes": None},
    }
    if capture is None:
        return record
    known = capture.known
    record["request"].update(headers=[list(h) for h in capture.request_headers],
                             body=capture.redacted_request_body(),
                             body_size=capture.request_body_size,
                             body_note=capture.request_body_note)
    record["response"].update(status=capture.response_status or exchange.status,
                              headers=[list(h) for h in capture.response_headers],
                              body=capture.redacted_response_body(),
                              body_size=capture.response_body_size)
    frames = capture.raw_frames()
    arrivals = list(capture.arrivals)
    record["timeline"]["arrivals"] = [round(t - started, 6) for t in arrivals]
    record["timeline"]["sizes"] = [len(f) for f in frames]
    record["released"] = capture.released
    if (frames or capture.frames_dropped) and not events:
        record["partial"] = True
    elif frames or capture.frames_dropped:
        decoded, parsed = _decode(frames, known)
        record["events"] = decoded
        record["events_dropped"] = capture.frames_dropped
        record["message"] = scrub.redact_json(assemble_events(parsed), known)
    elif capture.redacted_response_body() is not None:
        record["message"] = _message_of_body(capture, known)
    return record


def _message_of_body(capture, known: tuple[str, ...]) -> dict | None:
    raw = capture.redacted_response_body()
    try:
        body = json.loads(raw)
    except (TypeError, ValueError):
        return None
    if not isinstance(body, dict) or not ("choices" in body or "output" in body):
        return None
    return scrub.redact_json(assemble_body(body), known)


def _decode(frames: list[bytes], known: tuple[str, ...]) -> tuple[list[dict], list[object]]:
    """Decode kept frames into redacted event dicts, plus the unredacted JSON payloads
    (for assembling; the caller redacts the assembled message as a whole)."""
    decoder = sse.SSEDecoder()
    items: list[tuple[int, sse.SSEEvent]] = []
    for index, frame in enumerate(frames):
        items.extend((index, event) for event in decoder.feed(frame))
    payloads: list[object] = []
    for _index, event in items:
        try:
            payloads.append(json.loads(event.data) if event.data != "[DONE]" else None)
        except ValueError:
            payloads.append(None)
    redacted = _redact_payloads(items, payloads, known)
    events = [{"frame": index, "event": event.event, "data": data}
              for (index, event), data in zip(items, redacted)]
    return events, [p for p in payloads if p is not None]


def _redact_payloads(items, payloads, known) -> list[str]:
    """Each event's data text with secrets removed, matching across events.

    Every string in an event sits at a JSON path (``choices/0/delta/content``); the
    strings at one path across the stream are fragments of one text, so they are
    redacted together (scrub.redact_fragments). Non-JSON data forms one more channel.
    Only events that change are copied and re-serialised: most events of a stream hold
    nothing to redact and keep their text as sent.
    """
    texts = [event.data for _index, event in items]
    changed: dict[int, object] = {}
    channels: dict[tuple, list[tuple[int, tuple, str]]] = {}
    for i, payload in enumerate(payloads):
        if payload is None:
            channels.setdefault(("#raw",), []).append((i, (), texts[i]))
            continue
        for path, value in _leaves(payload, ()):
            name = path[-1] if path else None
            if isinstance(name, str) and name.lower() in scrub.SECRET_KEYS and value:
                _replace(changed, payloads, i, path, scrub.hint(value))
            else:
                channels.setdefault(path, []).append((i, path, value))
    for path, places in channels.items():
        fragments = [value for _i, _p, value in places]
        redacted = scrub.redact_fragments(fragments, known)
        if redacted is fragments:
            continue
        for (i, place, old), new in zip(places, redacted):
            if new == old:
                continue
            if path == ("#raw",):
                texts[i] = new
            else:
                _replace(changed, payloads, i, place, new)
    for i, payload in changed.items():
        texts[i] = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return texts


def _replace(changed: dict, payloads: list, i: int, path: tuple, new: str) -> None:
    if i not in changed:
        changed[i] = copy.deepcopy(payloads[i])
    _set(changed[i], path, new)


def _leaves(value: object, path: tuple):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        for n, item in enumerate(value):
            yield from _leaves(item, (*path, n))
    elif isinstance(value, str):
        yield path, value


def _get(value, path):
    for step in path:
        value = value[step]
    return value


def _set(value, path, new) -> None:
    for step in path[:-1]:
        value = value[step]
    value[path[-1]] = new
