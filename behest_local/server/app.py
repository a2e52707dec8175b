"""``make_app``: the one place that knows how the aiohttp application is wired.

One middleware, ``gateway_middleware`` (``middleware.py``), runs every request through
these phases in order, each a plain call into the module that owns it: open the
Exchange (and render every error) → the ``Host`` check (``host.check_host``: a
DNS-rebinding guard, on every route) → CORS preflights (``cors.preflight``: answered before
anything can refuse them, browsers send them without credentials, Fetch standard §4.8) →
the control plane (``behest_errors.serve_management``: dashboard token, Behest's flat
errors; it calls their handlers itself) → the per-IP safety limit (``limits.check_ip``,
before JWT validation as in the cloud) → data-plane authentication (``auth``: project API
keys and Behest JWTs; Behest's own routes get Behest's error shapes) → the authenticated
caller's project, user, tier, quota and budget limits (``limits.check_caller``) → handler.
The gateway's response headers (trace ids, Server-Timing, CORS, rate limits) are one
``on_response_prepare`` hook, ``prepare_response``, so streams and errors carry them too;
it also records a stream's capture, while a whole response's is recorded by the
middleware once the response has been written. The route table lists every endpoint the
gateway serves; ``management.setup_routes`` adds Behest's management API,
``setup_admin_routes`` the admin kill switches, ``setup_behest_routes`` mint, JWKS and
threads, ``setup_usage`` the usage endpoints (and the usage store's lifetime),
``setup_responses`` and ``setup_conversations`` the stored Responses API (and its
database's lifetime).
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from behest_local.exchange.exchange import WARNING_HEADER, Exchange
from behest_local.server.gateway import Gateway
from behest_local.server.routes import management
from behest_local.server.routes import messages as messages_routes
from behest_local.server.routes import moderations as moderation_routes
from behest_local.server.routes import openai as openai_routes
from behest_local.server.routes import translated as translated_routes
from behest_local.server.routes.admin import setup_admin_routes
from behest_local.server.routes.conversations import setup_conversations
from behest_local.server.routes.responses import setup_responses
from behest_local.server.admission.auth import PRINCIPALS, PrincipalCache
from behest_local.server.behest_errors import speaks_anthropic
from behest_local.server.routes.behest import setup_behest_routes
from behest_local.server.admission.cors import cors_headers, setup_cors
from behest_local.server.admission.host import setup_host_check
from behest_local.server.routes.image_edits import setup_edit_routes
from behest_local.server.routes.images import setup_image_routes
from behest_local.server.routes.inspect import record_response, setup_inspect_routes
from behest_local.server.keys import EXCHANGE, GATEWAY, INTERNAL_CALLERS
from behest_local.server.admission.limits import limit_headers, setup_limits
from behest_local.server.middleware import gateway_middleware
from behest_local.server.timing_header import HEADER as SERVER_TIMING, format_server_timing
from behest_local.server.routes.telemetry import setup_telemetry
from behest_local.server.routes.usage import setup_usage
from behest_local.server.routes.files import setup_files
from behest_local.files.store import FileStore
from behest_local.batches.store import BatchStore
from behest_local.server.routes.batches import setup_batches
from behest_local.server.routes.audio import setup_audio_routes


def make_app(gateway: Gateway) -> web.Application:
    app = web.Application(
        middlewares=[gateway_middleware],
        client_max_size=gateway.settings.server.max_body_bytes,
    )
    app[GATEWAY] = gateway
    app[PRINCIPALS] = PrincipalCache()
    app[INTERNAL_CALLERS] = {}
    setup_routes(app)
    setup_host_check(app)
    setup_cors(app)
    setup_limits(app)
    app.on_response_prepare.append(prepare_response)
    setup_inspect_routes(app)
    app.on_shutdown.append(_close_streams)
    app.on_cleanup.append(_close_upstream_pool)
    return app


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", openai_routes.healthz)
    app.router.add_post("/v1/chat/completions", openai_routes.chat_completions)
    app.router.add_post("/v1/completions", translated_routes.completions)
    app.router.add_post("/v1/embeddings", openai_routes.embeddings)
    app.router.add_post("/v1/moderations", moderation_routes.moderations)
    # The models list answers in Anthropic's shape when asked with ``anthropic-version``.
    app.router.add_get("/v1/models", messages_routes.list_models)
    app.router.add_get("/v1/models/{model:.+}", messages_routes.get_model)
    messages_routes.setup_messages_routes(app)
    setup_responses(app)
    setup_conversations(app)
    management.setup_routes(app)
    setup_admin_routes(app)
    setup_behest_routes(app)
    setup_image_routes(app)
    setup_edit_routes(app)
    setup_usage(app)
    setup_telemetry(app)
    setup_files(app, FileStore(app[GATEWAY].home))
    setup_batches(app, BatchStore(app[GATEWAY].home))
    setup_audio_routes(app)


async def prepare_response(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: the one hook every response runs (aiohttp awaits each hook
    in turn, streams included): the gateway's headers, then the capture that records them
    (``routes/inspect.record_response``). A whole response of an exchange still open is
    the gateway middleware's to write, and it records the capture itself once the
    response has left (``middleware.gateway_middleware``); streams (and the response of
    an exchange somehow already ended) are recorded here."""
    exchange = request.get(EXCHANGE)
    add_gateway_headers(request, response, exchange)
    if exchange is not None and exchange.capture is None and (
            exchange.ended is not None or type(response) is not web.Response):
        await record_response(request, response, exchange)


def add_gateway_headers(request: web.Request, response: web.StreamResponse,
                        exchange: Exchange | None) -> None:
    """Every header the gateway adds to a response. In order: ``X-Request-Id``/
    ``X-Trace-Id`` (every response names its exchange), ``Server-Timing`` (timed here, at
    headers-out), ``x-behest-warning`` when the exchange has a warning for the client, the CORS headers (``cors.cors_headers``, which may extend ``Vary``; only
    requests with an ``Origin`` get any) and the rate-limit headers
    (``limits.limit_headers``).
    """
    if exchange is not None:
        headers = response.headers
        headers["X-Request-Id"] = exchange.id
        headers["X-Trace-Id"] = exchange.trace_id
        if speaks_anthropic(request):  # where the Anthropic SDKs read the request id
            headers["request-id"] = exchange.id
        headers[SERVER_TIMING] = format_server_timing(exchange.elapsed(),
                                                      exchange.provider_time)
        warning = exchange.warning
        if warning is not None:
            headers[WARNING_HEADER] = warning
    if "Origin" in request.headers:
        cors_headers(request, response)
    limit_headers(request, response)


async def _close_streams(app: web.Application) -> None:
    """On shutdown, end in-flight streams with a final error event instead of hanging."""
    gateway = app[GATEWAY]
    gateway.closing = True
    tasks = list(gateway.streams)
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=2)


async def _close_upstream_pool(app: web.Application) -> None:
    await app[GATEWAY].http.close()
