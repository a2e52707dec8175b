"""Helpers for the trace, TUI, export and probe tests.

* ``FakeClock`` and ``make_store``: a ``TraceStore`` on fixed monotonic and Unix clocks,
  so snapshots have fixed times.
* ``fake_exchange``: an exchange driven through its public phase methods with a fixed
  id, optionally a stream of chat chunks with a ``Capture`` (what the gateway records).
* ``start_gateway``: the real gateway (``make_app`` plus the inspection routes) bound
  on an ephemeral loopback port *in the caller's event loop*, as ``runtime.start`` does,
  so a Textual app can run in the same loop as in production.
* ``screen_text``: every piece of text the TUI holds (all tabs, all cells, inputs,
  the rendered screen), for the canary assertions.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from aiohttp import web

from behest_local import sse
from behest_local.exchange.capture import Capture
from behest_local.exchange.exchange import Exchange
from behest_local.identity.api_keys import KeyStore
from behest_local.runtime.running import RunningGateway
from behest_local.runtime.build import build_gateway
from behest_local.server.app import make_app
from behest_local.server.routes.inspect import setup_inspect_routes
from behest_local.exchange.bus import TraceStore

CANARY = "sk-proj-CANARY7f3a9b2c4d5e6f708192a3b4c5d6e7f8"
CANARY_MARK = "CANARY7f3a9b2c"
WALL_START = 1_767_268_800.0  # 2026-01-01T12:00:00Z


class FakeClock:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_store(clock: FakeClock | None = None, capacity: int = 1000) -> tuple[TraceStore, FakeClock]:
    clock = clock or FakeClock()
    # Unix time moves with the monotonic clock, from a fixed start.
    return TraceStore(capacity=capacity, clock=clock,
                      wall_clock=lambda: WALL_START + clock.now - 1000.0), clock


def chunk(content: str | None = None, *, finish: str | None = None, role: bool = False,
          usage: dict | None = None) -> bytes:
    delta: dict = {}
    if role:
        delta = {"role": "assistant", "content": ""}
    elif content is not None:
        delta = {"content": content}
    body = {"id": "chatcmpl-fixed", "object": "chat.completion.chunk", "created": 1767268800,
            "model": "gpt-4o-mini",
            "choices": [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish}]}
    if usage:
        body["usage"] = usage
    return sse.encode_json(body)


def fake_exchange(store: TraceStore, clock: FakeClock, n: int, *, path="/v1/chat/completions",
                  project="local", user=None, model="gpt-4o-mini", requested=None,
                  status: int | None = 200, stream=False, pieces=(), gap=0.02,
                  error: str | None = None, body: dict | None = None,
                  headers: list[tuple[str, str]] | None = None,
                  warning: str | None = None) -> Exchange:
    """An exchange with id ``req_<n>`` moved through its phases on the fake clock.

    ``status=None`` leaves it running (for "streaming in progress" states)."""
    exchange = Exchange(store, method="POST", path=path)
    exchange.id = f"req_{n:024d}"
    exchange.trace_id = f"{n:032x}"
    headers = headers or [("Host", "127.0.0.1:7717"), ("Content-Type", "application/json"),
                          ("Authorization", "Bearer behest_sk_live_0123456789abcdef0123456789abcdef")]
    exchange.received(client="127.0.0.1:50000", headers=headers)
    clock.advance(0.001)
    exchange.authenticated(tenant="t", project=project, credential="behest_sk_live_01234…",
                           user=user)
    exchange.warning = warning  # set before Routed, as the routes do
    exchange.routed(requested_model=requested, model=model, provider="emulated",
                    reason="the project's default model", stream=stream)
    exchange.upstream_started()
    capture = Capture(store.clock)
    response_headers = (("Content-Type", "text/event-stream" if stream else "application/json"),
                        ("X-Request-Id", exchange.id))
    capture.record_headers(tuple(headers), response_headers)  # redacted when read
    raw = json.dumps(body or {"model": requested or model, "stream": stream,
                              "messages": [{"role": "user", "content": "Hello"}]}).encode()
    capture.request_body(raw)
    capture.response_status = 200 if stream else status
    capture.responded = True
    exchange.capture = capture
    if stream:
        clock.advance(0.2)
        frames = [chunk(role=True)] + [chunk(p) for p in pieces]
        if status is not None and not error:
            frames.append(chunk(finish="stop"))
        gaps = gap if isinstance(gap, (list, tuple)) else [gap] * len(frames)
        for frame, pause in zip(frames, gaps):
            capture.frame(frame)
            exchange.chunk_sent(len(frame))
            clock.advance(pause)
    else:
        clock.advance(0.05)
        if status is not None and status < 400:
            capture.response_body(json.dumps({
                "id": "chatcmpl-fixed", "object": "chat.completion", "model": model,
                "choices": [{"index": 0, "finish_reason": "stop", "message": {
                    "role": "assistant", "content": "".join(pieces) or "Hi."}}]}).encode())
    if status is None:
        return exchange
    exchange.usage(12, len(pieces) or 2)
    if error:
        exchange.fail(status, code="emulated", message=error)
    elif status >= 400:
        exchange.fail(status, code="invalid_api_key", message="Incorrect API key provided")
    else:
        exchange.finish(status)
    return exchange


async def start_gateway(home: Path, settings) -> tuple[RunningGateway, str]:
    """The gateway with inspection routes on 127.0.0.1:0 in this loop; returns it and a
    project API key for ``local``. Close with ``await running.close()``."""
    keys = KeyStore(home, scrypt_n=2**4)
    gateway = build_gateway(settings, home, keys=keys)
    app = make_app(gateway)
    setup_inspect_routes(app)  # a no-op once make_app wires it itself
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    key, _ = keys.create("local")
    return RunningGateway(gateway, runner, "127.0.0.1", runner.addresses[0][1]), key


class EventWaiter:
    """A trace subscriber to await events on: ``await waiter.wait(pred)`` returns the first
    event (published from now on, or already seen) for which ``pred(event, exchange)``."""

    def __init__(self) -> None:
        self.seen: list[tuple[object, object]] = []
        self._waiting: list[tuple[object, asyncio.Future]] = []

    def __call__(self, event, exchange) -> None:
        self.seen.append((event, exchange))
        for pred, future in list(self._waiting):
            if not future.done() and pred(event, exchange):
                future.set_result(event)

    async def wait(self, pred, timeout: float = 10.0):
        for event, exchange in self.seen:
            if pred(event, exchange):
                return event
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((pred, future))
        return await asyncio.wait_for(future, timeout)


def screen_text(app) -> str:
    """All text the app holds: rendered screen, every Static, Log, list row and Input."""
    from textual.widgets import Input, Log, Static

    from behest_local.tui.exchange_list import ExchangeList

    parts = [rendered(app)]
    for log in app.query(Log):
        parts.extend(log.lines)
    for table in app.query(ExchangeList):
        parts.extend(table.row_text(i) for i in table.shown_ids)
    for widget in app.query(Static):
        parts.append(str(widget.render()))
    for box in app.query(Input):
        parts.append(box.value)
    parts.append(app.clipboard)
    return "\n".join(parts)


def rendered(app) -> str:
    """The characters on the app's screen right now, one line per terminal row."""
    update = app.screen._compositor.render_full_update(simplify=True)
    return "\n".join("".join(s.text for s in row) for row in update.strips)


async def settle(pilot) -> None:
    """Wait for the app's workers (a replaced exclusive worker counts as done) and for the
    screen to catch up: the detail view is built in a worker thread."""
    app = pilot.app
    while True:
        pending = [w for w in list(app.workers) if not w.is_finished]
        if not pending:
            break
        await asyncio.gather(*(w.wait() for w in pending), return_exceptions=True)
    await pilot.pause()


async def until(pilot, predicate, timeout: float = 5.0) -> None:
    """Let the app run (its own timers included) until ``predicate()`` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "the app never reached the expected state"
        await pilot.pause(0.02)
    await settle(pilot)
