"""Self-inspection: recording each exchange's detail, and the read-only trace endpoints.

``setup_inspect_routes(app)`` wires the routes into the app built by ``make_app``; three
things live here:

* ``record_response``, called by the app's ``on_response_prepare`` hook
  (``app.prepare_response``) after the gateway's headers are set, or for a whole
  response by the gateway middleware once it has written it: it attaches a ``Capture``
  (exchange/capture.py) to the exchange (request/response headers and bodies, redacted when
  read) and publishes ``ResponseStarted`` when someone wants it; streaming.py then adds
  each stream event to the capture;
* ``GET /_behest/exchanges/{id}/timeline``: the departure time of every stream event of a
  recent exchange, so ``behest-local probe`` (another process) can compare them with the
  arrival times it measured behind the user's proxy;
* ``POST /_behest/exchanges/{id}/probe``: the probe reports its verdict back, published as
  ``ProbeReported`` so the TUI shows it next to the exchange it measured.

Both endpoints answer loopback peers only and carry no secret (timings, statuses,
redacted headers). Cross-site pages cannot drive them: requests with an ``Origin``
header are refused, and the POST requires a JSON content type (which a page can only
send after a CORS preflight nothing here answers).
"""

from __future__ import annotations

import ipaddress
import json

from aiohttp import web

from behest_local.exchange.capture import Capture, CaptureBudget
from behest_local.exchange.events import ProbeReported, ResponseStarted
from behest_local.exchange.exchange import Exchange
from behest_local.server.keys import GATEWAY

PREFIX = "/_behest/"
CAPTURE_BUDGET = web.AppKey("capture_budget", CaptureBudget)
MAX_PROBE_BODY = 4 * 1024 * 1024
LEVELS = ("ok", "warning", "buffered")


def setup_inspect_routes(app: web.Application, *, budget: CaptureBudget | None = None) -> None:
    """The capture budget and the ``/_behest/`` routes. Idempotent. (``record_response``
    runs from the app's one response hook, after the gateway's headers are set, so the
    recorded response headers include ``X-Request-Id``.)"""
    if CAPTURE_BUDGET in app:
        return
    app[CAPTURE_BUDGET] = budget or CaptureBudget()
    app.router.add_get(PREFIX + "exchanges/{id}/timeline", timeline)
    app.router.add_post(PREFIX + "exchanges/{id}/probe", probe_report)


async def record_response(request: web.Request, response: web.StreamResponse,
                          exchange: Exchange, *, written: bool = False) -> None:
    """Attach the capture of ``response`` to ``exchange``: from the app's response hook
    (``app.prepare_response``) as its headers go out, or, for a whole response the
    gateway middleware writes itself, from the middleware once it has been written
    (``written``: off the time to the response's last byte; its headers are final then).

    Runs for every response, so it does O(1) work: the capture keeps the raw header
    pairs (the request's are immutable; the response's are copied while later hooks
    could still add theirs) and the body references, and redacts them when first read
    (exchange/capture.py). ``ResponseStarted`` is built only when a subscriber wants it (the TUI
    does; headless mode does not)."""
    if request.can_read_body:
        # Rejected before the handler read it (401, 413…): reading it now would wait on
        # the client for a body nobody needs.
        body, note = None, "not read: the request was answered before its body was read"
    else:
        body = await request.read()  # the handler's cached copy, or b"" without a body
        body, note = (body, None) if body else (None, "no body")
    streamed = not isinstance(response, web.Response)
    sent = None if streamed else response.body
    headers = response.headers
    app = request.app
    store = app[GATEWAY].store
    capture = exchange.capture = Capture(
        store.clock, app.get(CAPTURE_BUDGET), request_headers=request.headers.items(),
        response_headers=(headers if written else headers.copy()).items(),
        status=response.status, request_body=body, request_body_note=note,
        response_body=sent if isinstance(sent, (bytes, bytearray)) else None)
    if ResponseStarted in store.wanted:
        store.publish(ResponseStarted(exchange.id, store.clock(), response.status,
                                      capture.response_headers, streamed), exchange)


def _is_loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _refuse(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"message": message, "type": "invalid_request_error",
                                        "param": None, "code": code}}, status=status)


def _guard(request: web.Request) -> web.Response | None:
    if not _is_loopback(request.remote):
        return _refuse(403, "loopback_only", "The /_behest/ inspection endpoints answer only "
                                             "on the machine running behest-local.")
    if "Origin" in request.headers:
        return _refuse(403, "cross_origin", "The /_behest/ inspection endpoints do not answer "
                                            "browser pages.")
    return None


def _find(request: web.Request) -> Exchange | web.Response:
    store = request.app[GATEWAY].store
    exchange = store.find(request.match_info["id"])
    if exchange is None:
        return _refuse(404, "exchange_not_found",
                       f"No recent exchange {request.match_info['id']!r}: the gateway keeps the "
                       f"last {store.recent.maxlen} in memory (see `behest-local traces`).")
    return exchange


async def timeline(request: web.Request) -> web.Response:
    refused = _guard(request)
    if refused is not None:
        return refused
    exchange = _find(request)
    if isinstance(exchange, web.Response):
        return exchange
    return web.json_response(timeline_json(exchange))


def timeline_json(exchange: Exchange) -> dict:
    """Departure (and arrival) times of each event: relative seconds and Unix time."""
    started, wall = exchange.started, exchange.wall_time
    capture = exchange.capture
    arrivals = list(capture.arrivals) if capture is not None else []
    departures = [t - started for t in exchange.chunk_times]
    return {
        "id": exchange.id, "status": exchange.status, "phase": exchange.phase.value,
        "stream": exchange.stream, "complete": exchange.ended is not None,
        "events": exchange.chunks,  # the times below stop at timing.TIMELINE_MAX events
        "wall_time": wall, "ttft": exchange.ttft, "duration": exchange.duration,
        "departures": [round(d, 6) for d in departures],
        "departures_unix": [round(wall + d, 6) for d in departures],
        "arrivals": [round(t - started, 6) for t in arrivals],
        "headers": [list(h) for h in capture.response_headers] if capture else [],
    }


async def probe_report(request: web.Request) -> web.Response:
    refused = _guard(request)
    if refused is not None:
        return refused
    if request.content_type != "application/json":
        return _refuse(415, "unsupported_media_type", "Send the probe report as JSON.")
    exchange = _find(request)
    if isinstance(exchange, web.Response):
        return exchange
    raw = await request.content.read(MAX_PROBE_BODY + 1)
    try:
        body = json.loads(raw) if len(raw) <= MAX_PROBE_BODY else None
        verdict, level = str(body["verdict"])[:2000], str(body.get("level", "warning"))
        client = tuple(float(t) - exchange.wall_time for t in body.get("client_unix", []))
        findings = tuple(str(f)[:2000] for f in body.get("findings", []))[:50]
    except (ValueError, TypeError, KeyError):
        return _refuse(400, "invalid_probe_report", "Expected {\"verdict\": str, \"level\": "
                                                    "str, \"client_unix\": [float], "
                                                    "\"findings\": [str]}.")
    if level not in LEVELS:
        level = "warning"
    gateway = request.app[GATEWAY]
    gateway.store.publish(ProbeReported(exchange.id, gateway.store.clock(), verdict, level,
                                        client, findings), exchange)
    return web.json_response({"ok": True})
