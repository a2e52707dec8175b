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

``serve_inspection`` admits every ``/_behest/`` request (the gateway middleware hands
them over untraced): the ``Host`` check every route gets (``admission/host.py``), then
loopback peers only, then no browser. The endpoints carry no secret (timings, statuses,
redacted headers), but no page may drive or read them: a request a browser made
carries ``Origin`` (every CORS request, every POST) or ``Sec-Fetch-Site`` other than
``none`` (every request of current browsers, ``<img>`` and ``no-cors`` GETs included;
``none`` is an address typed by the user), and is refused. The POST also requires a
JSON content type (which a page could only send after a preflight). Refusals, router
404/405s and anything a handler raises answer in OpenAI's error shape.
"""

from __future__ import annotations

import ipaddress
import json

from aiohttp import web

from behest_local.exchange.capture import Capture, CaptureBudget
from behest_local.exchange.media import summary
from behest_local.exchange.events import ProbeReported, ResponseStarted
from behest_local.errors import GatewayError
from behest_local.exchange.exchange import Exchange
from behest_local.server.admission.host import check_host
from behest_local.server.behest_errors import path_kind
from behest_local.server.body import payload_error
from behest_local.server.keys import FORM_PARTS, GATEWAY
from behest_local.server.render import error_response, from_http_exception

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
        response_body=sent if isinstance(sent, (bytes, bytearray)) else None,
        request_type=request.headers.get("Content-Type"),
        response_type=headers.get("Content-Type"))
    parts = request.get(FORM_PARTS)
    if parts:  # a form the route read part by part: the parts it noted (server/body.py)
        capture.request_media = summary(parts)
        capture.request_body_size = request.content_length
        capture.request_body_note = None
    if exchange.pii:  # what the guardrails found is replaced in every copy read from it
        capture.pii = exchange.pii
    if ResponseStarted in store.wanted:
        store.publish(ResponseStarted(exchange.id, store.clock(), response.status,
                                      capture.response_headers, streamed), exchange)


def _is_loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _refuse(status: int, code: str, message: str) -> web.Response:
    return error_response(GatewayError(message, status=status, type="invalid_request_error",
                                       code=code))


async def serve_inspection(request: web.Request, handler) -> web.StreamResponse:
    """Admit a ``/_behest/`` request and answer it (see the module docstring)."""
    refused = check_host(request, path_kind(request.path))
    if refused is None:
        refused = _guard(request)
    if refused is not None:
        return refused
    try:
        return await handler(request)
    except GatewayError as error:
        return error_response(error)
    except web.RequestPayloadError as exc:  # a probe report that does not decode
        return error_response(payload_error(exc))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(from_http_exception(exc, request, body_limit=MAX_PROBE_BODY))


def _guard(request: web.Request) -> web.Response | None:
    if not _is_loopback(request.remote):
        return _refuse(403, "loopback_only", "The /_behest/ inspection endpoints answer only "
                                             "on the machine running behest-local.")
    headers = request.headers
    if "Origin" in headers or headers.get("Sec-Fetch-Site", "none") != "none":
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
