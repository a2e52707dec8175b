"""What every fake upstream shares: its state, the request recorder, and the stream player.

``FakeState`` lives on the app under ``STATE``: the accepted key, the requests received
(auth headers removed, replaced by an ``auth_ok`` flag, so a recorded request never holds a
key), and three ``asyncio.Event``s tests synchronise on instead of sleeping:
``stream_started``, ``release`` (opens a ``[hold N]`` gate) and ``disconnected`` (set
when the client goes away before a reply finished: aiohttp cancels the handler when
``handler_cancellation`` is on, which ``aiohttp_server`` and ``fakes.serve`` both enable,
and a write to a closed connection fails).

``play`` writes a dialect's native stream frame by frame with the script's pacing and
cut points (``[slow]``, ``[hold]``, ``[fail]``, ``[truncate]``), one ``write`` per frame,
never buffered.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from behest_local.fakes.script import Script
from behest_local.secret import Secret

SSE_HEADERS = {"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"}
REDACTED_HEADERS = frozenset({"authorization", "x-api-key", "x-goog-api-key", "api-key"})


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    """The query string, without ``key`` (Gemini's key parameter)."""
    headers: dict[str, str]
    """Request headers without credential headers."""
    auth_ok: bool
    body: object


@dataclass(eq=False)
class FakeState:
    provider: str
    key: Secret | None
    """The key the fake accepts; None accepts any non-empty key."""
    requests: list[RecordedRequest] = field(default_factory=list)
    stream_started: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    disconnected: asyncio.Event = field(default_factory=asyncio.Event)

    def accepts(self, presented: str | None) -> bool:
        if not presented:
            return False
        return self.key is None or self.key == Secret(presented)

    def record(self, request: web.Request, body: object, auth_ok: bool) -> None:
        self.requests.append(RecordedRequest(
            request.method, request.path,
            {k: v for k, v in request.query.items() if k != "key"},
            {k: v for k, v in request.headers.items() if k.lower() not in REDACTED_HEADERS},
            auth_ok, body))


STATE = web.AppKey("fake_state", FakeState)


def new_app(provider: str, key: str | None) -> web.Application:
    app = web.Application()
    app[STATE] = FakeState(provider, Secret(key) if key else None)
    return app


async def read_json(request: web.Request) -> object:
    """The body as JSON, or None when it is empty or not JSON (the fake then says 400)."""
    raw = await request.read()
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def json_response(body: object, status: int = 200, headers: dict | None = None) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/json",
                        headers=headers)


async def hold(state: FakeState, script: Script) -> None:
    """A non-streamed reply under ``[hold]`` waits for ``state.release`` (or a disconnect)."""
    if script.hold_after is not None:
        try:
            await state.release.wait()
        except asyncio.CancelledError:
            state.disconnected.set()
            raise
    if script.slow_ms:
        await asyncio.sleep(script.slow_ms / 1000)


async def play(request: web.Request, frames: list[bytes], script: Script,
               error_frame: Callable[[], bytes] | None = None,
               headers: dict | None = None) -> web.StreamResponse:
    """Stream ``frames`` as the script directs. ``[fail N]`` sends ``error_frame()`` in
    place of frame N and ends the body cleanly; ``[truncate N]`` closes the connection
    after N frames, with no terminator (a dropped connection, as the client sees it)."""
    state = request.app[STATE]
    response = web.StreamResponse(status=200, headers={**SSE_HEADERS, **(headers or {})})
    finished = False
    try:
        await response.prepare(request)
        state.stream_started.set()
        for index, frame in enumerate(frames):
            if script.truncate_after is not None and index >= script.truncate_after:
                if request.transport is not None:
                    request.transport.close()
                finished = True
                return response
            if script.hold_after is not None and index == script.hold_after:
                await state.release.wait()
            if index and script.slow_ms:
                await asyncio.sleep(script.slow_ms / 1000)
            if script.fail_after is not None and index >= script.fail_after and error_frame:
                await response.write(error_frame())
                break
            await response.write(frame)
        await response.write_eof()
        finished = True
    except ConnectionError:
        pass  # the client went away mid-write; recorded below
    finally:
        if not finished:
            state.disconnected.set()
    return response
