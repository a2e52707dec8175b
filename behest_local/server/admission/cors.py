"""CORS on the wire: preflights answered before authentication, headers on every response.

**Placement.** ``preflight`` is the gateway middleware's first phase, once the exchange
is open and before the management, IP-limit and auth phases (style.md §3.1). A browser
sends its preflight ``OPTIONS`` without credentials (Fetch standard §4.8
"CORS-preflight fetch"), so it must be answered before authentication would refuse it;
and 401/402/403/429 responses need CORS headers too, or the page cannot read them and
sees only "TypeError: Failed to fetch".
Actual responses get their headers from ``cors_headers``, called by the app's one
``on_response_prepare`` hook (``app.prepare_response``), which runs for every response
the app prepares: handlers' JSON, errors rendered by the gateway middleware, and SSE
streams, before their first byte.

**Which project's list.** An actual request is checked against the caller's own project
(the principal set by auth). A preflight has no credentials: it is checked against the
project named by a slug host (``{slug}.localhost:7717``, how Kong tells projects apart)
or, without one, against every project's list; the actual request is then held to its
own project's. The management API (``/v1/projects``, ``/v1/tenants``) allows only the
dashboard origin. Routes outside ``/v1/``, ``/auth/v1/`` and JWKS (``/healthz``, the
``/_behest/`` inspection endpoints) get no CORS headers at all.

**Refusals** are traced (``CorsRefused``: the origin, the list it was checked against,
what to add where) and logged once per origin and project; the response itself carries no
``Access-Control-Allow-Origin``, which is how the browser learns to block it. A refused
preflight answers 403 with an error body for curl users.
"""

from __future__ import annotations

import logging

from aiohttp import web

from behest_local.policy.cors import (ALLOW_METHODS, EXPOSE_HEADERS, MAX_AGE, Decision,
                                      OriginTable, decide, refused_request_headers)
from behest_local.dialects.messages_wire import error_body
from behest_local.errors import GatewayError
from behest_local.exchange.events import CorsRefused
from behest_local.printable import printable
from behest_local.server.behest_errors import BehestAPIError, PathKind, nested_body, path_kind
from behest_local.server.ending import refuse
from behest_local.server.keys import EXCHANGE, GATEWAY, PRINCIPAL

log = logging.getLogger("behest_local.cors")

LOGGED = web.AppKey("cors_refusals_logged", set)
"""(origin, project) pairs already logged, so a polling page does not flood the log."""
PREFLIGHT_DONE = web.RequestKey("cors_preflight_done", bool)
ORIGINS = web.AppKey("cors_origin_table", OriginTable)
"""Each settings snapshot's allowed origins, indexed once (not per preflight)."""


def setup_cors(app: web.Application) -> None:
    """The refusal log's memory and the origin table. ``preflight`` is a phase of the
    gateway middleware (``server/middleware.py``), ``cors_headers`` part of the app's
    response hook."""
    app[LOGGED] = set()
    app[ORIGINS] = OriginTable()


def _same_origin(request: web.Request, origin: str) -> bool:
    return origin.lower() == f"{request.scheme}://{request.host}".lower()


def _decision(request: web.Request, origin: str) -> Decision:
    settings = request.app[GATEWAY].settings
    table = request.app[ORIGINS]
    if path_kind(request.path).management:
        return decide(origin, table.management(settings), scope="the management API")
    principal = request.get(PRINCIPAL)
    project = principal.project if principal is not None else \
        table.project_for_host(settings, request.host)
    if project is not None:
        return decide(origin, table.project(settings, project), scope=f"project {project.id!r}")
    return decide(origin, table.any_project(settings), scope="any project")


def preflight(request: web.Request, kind: PathKind) -> web.StreamResponse | None:
    """The answer to a CORS preflight on a gateway route (``kind`` is its path's), or None
    for any other request. The gateway middleware asks for ``OPTIONS`` requests only."""
    if request.method == "OPTIONS":
        origin = request.headers.get("Origin")
        if origin and kind.gateway and "Access-Control-Request-Method" in request.headers:
            return _preflight(request, origin)
    return None


def _preflight(request: web.Request, origin: str) -> web.StreamResponse:
    """Answer a CORS-preflight request (Fetch standard §3.2, "HTTP requests") without running
    auth or the route."""
    request[PREFLIGHT_DONE] = True
    decision = _decision(request, origin)
    method = request.headers["Access-Control-Request-Method"].strip().upper()
    requested = request.headers.get("Access-Control-Request-Headers", "")
    problem = decision.reason
    if decision.allowed_origin and method not in ALLOW_METHODS:
        problem = f"method {method} is not allowed (allowed: {', '.join(ALLOW_METHODS)})"
    refused_headers = refused_request_headers(requested) if decision.allowed_origin else []
    if refused_headers and not problem:
        problem = (f"request header(s) {', '.join(refused_headers)} are not allowed; "
                   "behest-local allows the headers Behest's and OpenAI's clients send")
    vary = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
    if problem:
        _refused(request, decision, problem, preflight=True)
        response = _refusal_body(request, problem)
        response.headers["Vary"] = vary
        return response
    headers = {"Access-Control-Allow-Origin": decision.allow_origin,
               "Access-Control-Allow-Methods": ", ".join(ALLOW_METHODS),
               "Access-Control-Max-Age": str(MAX_AGE), "Vary": vary}
    if requested.strip():  # echoed by name: "*" would not cover Authorization (Fetch §3.2)
        headers["Access-Control-Allow-Headers"] = ", ".join(
            name.strip() for name in requested.split(",") if name.strip())
    if decision.credentials:
        headers["Access-Control-Allow-Credentials"] = "true"
    if request.headers.get("Access-Control-Request-Private-Network", "").lower() == "true":
        # WICG Private Network Access: a public page calling localhost asks this first.
        headers["Access-Control-Allow-Private-Network"] = "true"
    return web.Response(status=204, headers=headers)


def _refusal_body(request: web.Request, reason: str) -> web.Response:
    """A refused preflight's 403, in the shape of the route it was for (the browser hides
    it; curl users and logs see why)."""
    message = f"CORS preflight refused: {reason}"
    kind = path_kind(request.path)
    if kind.management:
        body = BehestAPIError(message, status=403, code="CORS_ORIGIN_NOT_ALLOWED").body()
    else:
        error = GatewayError(message, status=403, type="invalid_request_error",
                             code="cors_origin_not_allowed")
        # Behest's nested shape knows no CORS code: nested_body falls back to "forbidden".
        body = nested_body(error) if kind.behest else error_body(
            403, message, request[EXCHANGE].id) if kind.anthropic else error.to_openai()
    return refuse(request, body, status=403, code="cors_origin_not_allowed", message=message)


def _refused(request: web.Request, decision: Decision, reason: str, *, preflight: bool) -> None:
    gateway = request.app[GATEWAY]
    exchange = request.get(EXCHANGE)
    if exchange is not None:
        gateway.store.publish(CorsRefused(exchange.id, gateway.store.clock(), decision.origin,
                                          decision.project, decision.allowed, reason,
                                          preflight), exchange)
    logged = request.app[LOGGED]
    key = (decision.origin, decision.project, preflight)
    if key not in logged:
        if len(logged) < 10_000:
            logged.add(key)
        # The path and origin are the client's text: escaped, they cannot forge a line.
        log.warning("CORS: %s %s from %s refused: %s", request.method,
                    printable(request.path), printable(decision.origin), printable(reason))


def _add_vary(response: web.StreamResponse, name: str) -> None:
    present = [v.strip().lower() for v in response.headers.get("Vary", "").split(",")]
    if name.lower() not in present and "*" not in present:
        current = response.headers.get("Vary")
        response.headers["Vary"] = f"{current}, {name}" if current else name


def cors_headers(request: web.Request, response: web.StreamResponse) -> None:
    """From ``on_response_prepare``: the CORS response headers of an actual request (Fetch
    §3.2, "HTTP responses"), set while the headers can still change, streams included."""
    origin = request.headers.get("Origin")
    if not origin or request.get(PREFLIGHT_DONE) or not path_kind(request.path).gateway \
            or _same_origin(request, origin):
        return
    # The answer depends on Origin: say so to caches (Fetch §3.2, "CORS protocol and HTTP
    # caches").
    _add_vary(response, "Origin")
    decision = _decision(request, origin)
    if not decision.allowed_origin:
        _refused(request, decision, decision.reason, preflight=False)
        return
    response.headers["Access-Control-Allow-Origin"] = decision.allow_origin
    if decision.credentials:
        response.headers["Access-Control-Allow-Credentials"] = "true"
    response.headers["Access-Control-Expose-Headers"] = ", ".join(EXPOSE_HEADERS)
    # W3C Resource Timing, Timing-Allow-Origin: the page's PerformanceResourceTiming may
    # then show Server-Timing and the detailed timings of this cross-origin response.
    response.headers["Timing-Allow-Origin"] = decision.allow_origin
