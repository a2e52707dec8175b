"""The gateway's one middleware: opens the ``Exchange``, runs the admission phases in
order, and owns how every request ends.

Each request gets an ``Exchange`` (request id, trace id) before anything else runs, so
even a 404 or a malformed body is traced. Then the phases, each a plain call into the
module that owns it (the order is ``server/app.py``'s docstring): the ``Host`` check
(``host.check_host``, a DNS-rebinding guard), CORS preflights
(``cors.preflight``), the control plane (``behest_errors.serve_management``, which
answers its routes itself), the per-IP limit (``limits.check_ip``), data-plane
authentication (``auth``; Behest's own routes through ``auth.serve_behest_route``), the
caller's limits (``limits.check_caller``), then the route's handler. They run in one
coroutine, not six stacked middlewares: aiohttp would wrap each in its own frame and
``functools.partial`` on every request.

Whatever the phases or the handler raise is turned into an OpenAI-format error here
(Anthropic's envelope for a request in its dialect, ``behest_errors.speaks_anthropic``):
``GatewayError`` as itself, aiohttp's HTTP exceptions (router 404/405, body 413)
reworded, anything else a logged 500 that names the request id; but a connection error
of a client that left (mid-body, say) ends the exchange as a cancellation: nothing
broke, so no 500 and no traceback. A whole (not streamed)
response, a phase's refusal included, is written here, then its capture recorded
(``routes/inspect.record_response``) and its exchange ended, so neither the capture nor
the trace subscribers stand between the answer and its bytes.

This is the one place an exchange ends (``Exchange.finish``/``fail``), once: after a
whole response's write, a stream's relay, or a cancellation. A refusing phase returns
its response and leaves an ``Ending`` on the request (``server/ending.py``: status,
code, message, details), as the stream relay does for a stream that did not end well;
anything else ends as its status says.
The ``X-Request-Id``/``X-Trace-Id`` headers are added by ``app.prepare_response`` on
``on_response_prepare``, which also covers streamed responses. The ``/_behest/``
inspection routes are not traced: ``inspect.serve_inspection`` admits them (the ``Host``
check too) and renders their errors.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable

from aiohttp import web

from behest_local.errors import GatewayError
from behest_local.exchange.events import RequestReceived
from behest_local.exchange.exchange import CURRENT, Exchange
from behest_local.printable import printable
from behest_local.server.admission.auth import authenticate_async, serve_behest_route
from behest_local.server.behest_errors import path_kind, serve_management, speaks_anthropic
from behest_local.server.admission.cors import preflight
from behest_local.server.body import release_body
from behest_local.server.ending import ENDING, Ending
from behest_local.server.admission.host import check_host
from behest_local.server.routes.inspect import record_response, serve_inspection
from behest_local.server.keys import EXCHANGE, GATEWAY
from behest_local.server.admission.limits import check_caller, check_ip
from behest_local.server.render import error_response, from_http_exception

log = logging.getLogger("behest_local.server")

_CANCELLED = Ending(499, "client_closed", "client disconnected", cancelled=True)
"""The end of a request cancelled before it was answered."""


@web.middleware
async def gateway_middleware(request: web.Request, handler) -> web.StreamResponse:
    path = request.path
    if path.startswith("/_behest/"):  # self-inspection (probe, TUI): not traced
        return await serve_inspection(request, handler)
    gateway = request.app[GATEWAY]
    store = gateway.store
    method = request.method
    exchange = Exchange(store, method=method, path=path)
    request[EXCHANGE] = exchange
    token = CURRENT.set(exchange)
    # The peer and headers only go into ``RequestReceived``: skip the peer when nobody
    # takes that event (headless mode); the headers are an O(1) view, redacted only then.
    exchange.received(client=_client(request) if RequestReceived in store.wanted else "?",
                      headers=request.headers.items())
    kind = path_kind(path)
    failure: GatewayError | None = None
    try:
        response = check_host(request, kind)
        if response is not None:
            pass
        elif method == "OPTIONS" and (response := preflight(request, kind)) is not None:
            pass
        elif kind.management:
            response = await _uncancelled(serve_management(request))
        elif (response := check_ip(request, kind)) is not None:
            pass
        elif kind.behest:
            response = await serve_behest_route(request, lambda: _limited(request, handler))
        else:
            if (kind.data and method != "OPTIONS"
                    and request.match_info.http_exception is None):
                await authenticate_async(request)
            response = check_caller(request, kind)
            if response is None:
                response = await handler(request)
    except GatewayError as error:
        error.__traceback__ = None  # its frames would keep the request's body alive
        failure = error
    except web.HTTPException as exc:
        if exc.status < 400:  # redirects and the like pass through untouched
            raise
        failure = from_http_exception(exc, request,
                                      body_limit=gateway.settings.server.max_body_bytes)
    except asyncio.CancelledError:
        # No response to write: a stream cancelled mid-way left its ending (the relay's),
        # anything else was cancelled before it answered.
        ending = request.get(ENDING) or _CANCELLED
        exchange.fail(ending.status, code=ending.code, message=ending.message,
                      details=ending.details, cancelled=ending.cancelled)
        raise
    except Exception as exc:
        if isinstance(exc, ConnectionError) and _client_gone(request):
            # The client left before its answer (while sending its body, say): nothing
            # broke and nobody reads a reply. Ended as a cancellation; the response below
            # only gives aiohttp something to fail to write.
            request[ENDING] = _CANCELLED
            response = web.Response(status=_CANCELLED.status)
        else:
            log.exception("unhandled error while serving %s %s (request %s)", method,
                          printable(path), exchange.id)
            failure = GatewayError(
                f"The gateway failed while processing your request (request id "
                f"{exchange.id}); the behest-local log has the details.", status=500,
                type="server_error", code="internal_error")
    finally:
        CURRENT.reset(token)
        release_body(request)  # a large body's values are freed beside the loop
    if failure is not None:
        response = error_response(failure, anthropic_id=exchange.id
                                  if speaks_anthropic(request) else None)
    whole = type(response) is web.Response
    try:
        # Write a whole response now, then trace its end: the subscribers (trace database,
        # usage, the log line) run after its bytes have left, still in this task step.
        # aiohttp's own prepare and write_eof then find it sent (web_protocol's
        # finish_response), and meet a vanished client as they would have.
        if whole and not response.prepared:
            await response.prepare(request)
            await response.write_eof()
    except ConnectionError:
        pass
    finally:
        if whole and exchange.capture is None:
            # Its capture too (``app.prepare_response`` leaves it to us): its headers and
            # body are final on the response object, and recording them no longer delays
            # its last byte. ResponseStarted still comes before the end.
            await record_response(request, response, exchange, written=True)
        # The exchange's one end (server/ending.py): a raised error's, else the ending a
        # refusal or the stream relay left (looked up only where one may be), else the
        # status's.
        status = response.status
        if failure is not None:
            exchange.fail(failure.status, code=failure.code, message=failure.message)
        elif whole and status < 400:
            exchange.finish(status)
        elif (ending := request.get(ENDING)) is not None:
            exchange.fail(ending.status, code=ending.code, message=ending.message,
                          details=ending.details, cancelled=ending.cancelled)
        elif status >= 400:
            exchange.fail(status, code=None, message=response.reason or "")
        else:
            exchange.finish(status)
    return response


async def _uncancelled(answer: Awaitable[web.StreamResponse]) -> web.StreamResponse:
    """``answer`` run to its end even if the client leaves (the runner cancels the handler
    of a client gone, runtime/running.py): the control plane changes state in steps (a
    vault write, then the key index; a deploy, then its check and undo) that a
    cancellation must not split. This request still ends as cancelled; its answer is
    dropped."""
    task = asyncio.ensure_future(answer)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        task.add_done_callback(_dropped)
        raise


def _dropped(task: asyncio.Task) -> None:
    """The end of an answer nobody waits for: a failure the client would have seen as a 500
    is logged (a ``GatewayError`` was only its answer)."""
    if not task.cancelled() and not isinstance(task.exception(), (GatewayError, type(None))):
        log.error("a management request whose client left failed", exc_info=task.exception())


async def _limited(request: web.Request, handler) -> web.StreamResponse:
    """The caller's limits, then the route: the tail of a Behest route's admission."""
    refused = check_caller(request, path_kind(request.path))
    return refused if refused is not None else await handler(request)


def _client_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


def _client(request: web.Request) -> str:
    peer = request.transport.get_extra_info("peername") if request.transport else None
    return f"{peer[0]}:{peer[1]}" if peer else "?"
