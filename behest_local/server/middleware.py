"""The outermost middleware: opens the ``Exchange`` and owns how every request ends.

Each request gets an ``Exchange`` (request id, trace id) before anything else runs, so
even a 404 or a malformed body is traced. Whatever the handler raises is turned into an
OpenAI-format error here: ``GatewayError`` as itself, aiohttp's HTTP exceptions (router
404/405, body 413) reworded, anything else a logged 500 that names the request id. The
``X-Request-Id``/``X-Trace-Id`` headers are added by ``app.add_gateway_headers`` on
``on_response_prepare``, which also covers streamed responses.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from behest_local.errors import GatewayError
from behest_local.events import RequestReceived
from behest_local.exchange import CURRENT, Exchange
from behest_local.server.keys import EXCHANGE, GATEWAY
from behest_local.server.render import error_response, from_http_exception

log = logging.getLogger("behest_local.server")


@web.middleware
async def exchange_middleware(request: web.Request, handler) -> web.StreamResponse:
    if request.path.startswith("/_behest/"):  # self-inspection (probe, TUI): not traced
        return await handler(request)
    gateway = request.app[GATEWAY]
    store = gateway.store
    exchange = Exchange(store, method=request.method, path=request.path)
    request[EXCHANGE] = exchange
    token = CURRENT.set(exchange)
    # The peer and headers only go into ``RequestReceived``: skip the peer when nobody
    # takes that event (headless mode); the headers are an O(1) view, redacted only then.
    exchange.received(client=_client(request) if store.wants(RequestReceived) else "?",
                      headers=request.headers.items())
    try:
        response = await handler(request)
    except GatewayError as error:
        return _failed(exchange, error)
    except web.HTTPException as exc:
        if exc.status < 400:  # redirects and the like pass through untouched
            raise
        error = from_http_exception(exc, request, body_limit=gateway.settings.server.max_body_bytes)
        return _failed(exchange, error)
    except asyncio.CancelledError:
        exchange.fail(499, code="client_closed", message="client disconnected", cancelled=True)
        raise
    except Exception:
        log.exception("unhandled error while serving %s %s (request %s)", request.method,
                      request.path, exchange.id)
        error = GatewayError(
            f"The gateway failed while processing your request (request id {exchange.id}); the "
            "behest-local log has the details.", status=500, type="server_error",
            code="internal_error")
        return _failed(exchange, error)
    finally:
        CURRENT.reset(token)
    if exchange.ended is None:
        if response.status >= 400:
            exchange.fail(response.status, code=None, message=response.reason or "")
        else:
            exchange.finish(response.status)
    return response


def _client(request: web.Request) -> str:
    peer = request.transport.get_extra_info("peername") if request.transport else None
    return f"{peer[0]}:{peer[1]}" if peer else "?"


def _failed(exchange: Exchange, error: GatewayError) -> web.Response:
    exchange.fail(error.status, code=error.code, message=error.message)
    return error_response(error)
