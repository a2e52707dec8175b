"""``make_app``: the one place that knows how the aiohttp application is wired.

Middleware order, outermost first: ``exchange_middleware`` (opens the Exchange, renders
every error) → ``management_middleware`` (control-plane routes: dashboard token, Behest's
flat errors; it calls their handlers itself) → ``auth_middleware`` (data plane: project
API keys and Behest JWTs; Behest's own routes get Behest's error shapes) → handler. CORS
and rate limits slot in between in later issues (CORS outside auth: browsers send
preflights without credentials, Fetch standard §4.8). The route table lists every
endpoint the gateway serves; ``management.setup_routes`` adds Behest's management API,
``setup_behest_routes`` mint, JWKS and threads.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from behest_local.gateway import Gateway
from behest_local.server import management, openai_routes, translated_routes
from behest_local.server.auth import auth_middleware
from behest_local.server.behest_errors import management_middleware
from behest_local.server.behest_routes import setup_behest_routes
from behest_local.server.keys import GATEWAY
from behest_local.server.middleware import add_trace_headers, exchange_middleware


def make_app(gateway: Gateway) -> web.Application:
    app = web.Application(
        middlewares=[exchange_middleware, management_middleware, auth_middleware],
        client_max_size=gateway.settings.server.max_body_bytes,
    )
    app[GATEWAY] = gateway
    setup_routes(app)
    app.on_response_prepare.append(add_trace_headers)
    app.on_shutdown.append(_close_streams)
    app.on_cleanup.append(_close_upstream_pool)
    return app


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", openai_routes.healthz)
    app.router.add_post("/v1/chat/completions", openai_routes.chat_completions)
    app.router.add_post("/v1/completions", translated_routes.completions)
    app.router.add_post("/v1/responses", translated_routes.responses)
    app.router.add_post("/v1/embeddings", openai_routes.embeddings)
    app.router.add_get("/v1/models", openai_routes.list_models)
    app.router.add_get("/v1/models/{model:.+}", openai_routes.get_model)
    management.setup_routes(app)
    setup_behest_routes(app)


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
