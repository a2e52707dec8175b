"""Stream fixtures: a recorded stream, saved to a file and replayed with its timing.

"Save as fixture" (the TUI's ``w`` key, ``behest-local traces fixture ID``) turns an
exchange record (observe/record.py) into a small JSON file, so a user can capture how a real
upstream behaved (its pace, its pauses, its exact chunks) and replay it as a
deterministic test through the emulated provider. The file format, version 1::

    {
      "behest_fixture": 1,
      "dialect": "chat",                  # chat | completions | responses | other
      "source": {"id": "req_…", "model": "…", "provider": "…", "path": "/v1/…",
                 "wall_time": 1735689600.0},
      "request": {…},                     # the recorded request body (redacted), or null
      "status": 200,
      "events": [{"at": 0.231, "event": "message", "data": "{…}"}, …]
    }

``at`` is seconds after the request started at which the event reached the gateway
from upstream (its departure time when no arrival was recorded). ``[DONE]`` is kept in
the file but not replayed as a chunk: the relay sends its own terminator. Everything is
already redacted, because it comes from a record.

``replay_chunks`` is the emulated provider's hook: it yields the recorded chat chunks
at their recorded offsets (scaled by ``speed``), as ``ChatProvider.stream`` does.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from behest_local.atomic import atomic_write
from behest_local.home import private_dir

FORMAT = 1
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class FixtureError(Exception):
    """A fixture cannot be saved or loaded; the message says why and which file."""


@dataclass(frozen=True, slots=True)
class FixtureEvent:
    at: float
    data: str
    event: str = "message"


@dataclass(frozen=True, slots=True)
class Fixture:
    dialect: str
    events: tuple[FixtureEvent, ...]
    status: int = 200
    source: dict | None = None
    request: object = None


def _dialect(path: str) -> str:
    for suffix, name in (("/chat/completions", "chat"), ("/completions", "completions"),
                         ("/responses", "responses")):
        if path.endswith(suffix):
            return name
    return "other"


def fixture_from_record(record: dict) -> dict:
    """The fixture document for a finished, streamed exchange record."""
    if not record.get("stream") or not record.get("events"):
        raise FixtureError(f"{record.get('id')} is not a recorded stream: only streamed "
                           "exchanges whose events were kept can become fixtures.")
    if record.get("events_dropped"):
        raise FixtureError(f"{record['id']}: {record['events_dropped']} events were not kept "
                           "(the per-exchange capture cap), so the fixture would be incomplete.")
    timeline = record["timeline"]
    times = timeline.get("arrivals") or timeline["departures"]
    request = record["request"]["body"]
    try:
        request = json.loads(request) if request else None
    except ValueError:
        pass
    events = [{"at": times[e["frame"]] if e["frame"] < len(times) else times[-1],
               "event": e["event"], "data": e["data"]} for e in record["events"]]
    return {"behest_fixture": FORMAT, "dialect": _dialect(record["path"]),
            "source": {"id": record["id"], "model": record["model"],
                       "provider": record["provider"], "path": record["path"],
                       "wall_time": record["wall_time"]},
            "request": request, "status": record["status"], "events": events}


def fixture_path(directory: Path, name: str) -> Path:
    """``directory/<name>.json``; the name is checked, so a request naming a fixture (a
    replay directive) can never reach outside ``directory``."""
    if not _NAME.fullmatch(name) or ".." in name:
        raise FixtureError(f"fixture name {name!r}: use letters, digits, '.', '_' or '-'.")
    return Path(directory) / f"{name}.json"


def save_fixture(record: dict, directory: Path, name: str | None = None) -> Path:
    """Write ``record``'s fixture as ``directory/<name>.json`` (default: the exchange id)."""
    path = fixture_path(directory, name or record["id"])
    document = fixture_from_record(record)
    private_dir(directory)  # a fixture holds a recorded prompt and reply: the user's only
    atomic_write(path, (json.dumps(document, ensure_ascii=False, indent=1) + "\n").encode())
    return path


def load_fixture(path: Path) -> Fixture:
    """Read and validate a fixture file.

    Raises:
        FixtureError: missing file, not JSON, wrong format version, or malformed events.
    """
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FixtureError(f"{path}: no such fixture file") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise FixtureError(f"{path}: not a JSON fixture ({exc})") from None
    if not isinstance(document, dict) or document.get("behest_fixture") != FORMAT:
        raise FixtureError(f"{path}: not a behest-local fixture (expected "
                           f"\"behest_fixture\": {FORMAT})")
    events, last = [], 0.0
    for n, raw in enumerate(document.get("events") or []):
        try:
            at, data = float(raw["at"]), str(raw["data"])
        except (KeyError, TypeError, ValueError):
            raise FixtureError(f"{path}: event {n} needs a numeric \"at\" and a \"data\" "
                               "string") from None
        if at < last:
            raise FixtureError(f"{path}: event {n} is at {at}s, before event {n - 1} ({last}s)")
        last = at
        events.append(FixtureEvent(at, data, str(raw.get("event") or "message")))
    if not events:
        raise FixtureError(f"{path}: the fixture has no events")
    return Fixture(str(document.get("dialect") or "other"), tuple(events),
                   int(document.get("status") or 200), document.get("source"),
                   document.get("request"))


async def replay_chunks(fixture: Fixture, *, speed: float = 1.0, model: str | None = None,
                        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
                        ) -> AsyncIterator[dict]:
    """Yield the fixture's chat chunks at their recorded offsets (divided by ``speed``).

    Offsets are kept against an absolute schedule so slow consumers do not add drift.
    ``model`` replaces each chunk's ``model`` (the routed model of the replaying call).
    """
    if fixture.dialect != "chat":
        raise FixtureError(f"this fixture was recorded from a {fixture.dialect} stream; only "
                           "chat completion streams replay through the emulated provider")
    if speed <= 0:
        raise FixtureError("replay speed must be positive")
    loop = asyncio.get_running_loop()
    start = loop.time()
    for event in fixture.events:
        if event.data == "[DONE]":
            continue
        try:
            chunk = json.loads(event.data)
        except ValueError:
            continue
        delay = start + event.at / speed - loop.time()
        if delay > 0:
            await sleep(delay)
        if model is not None and isinstance(chunk, dict) and "model" in chunk:
            chunk["model"] = model
        yield chunk
