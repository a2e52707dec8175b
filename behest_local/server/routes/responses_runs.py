"""Background responses (``background: true``): answered at once, run on their own task.

``start`` routes the request as a chat call on an exchange of its own (the run's: the
request's exchange ends when the ``queued`` response is sent, the run's when the model
has answered), stores the response as ``queued`` and returns it; the run then moves it to
``in_progress`` and to ``completed``/``incomplete`` (or ``failed``, with the error), each
state stored as it is reached, so ``GET /v1/responses/{id}`` polls it. The run's exchange
is authenticated as the request was, so its tokens are billed to the same project and
user, and it shows in traces as its own ``POST /v1/responses``.

``BackgroundRuns`` (``RUNS`` on the app) holds the running tasks: ``cancel`` stops one
(its response becomes ``cancelled``), ``stop`` cancels them all at shutdown without
marking them; a restart then finds them unfinished and marks them failed
(``stored.responses.interrupt_unfinished``, ``INTERRUPTED``): the request is not re-run,
since the principal and headers it was admitted with are gone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine

from aiohttp import web

from behest_local.dialects import responses as resp
from behest_local.dialects.responses_object import RESPONSE_ERROR_CODES, build_response
from behest_local.errors import GatewayError
from behest_local.exchange.exchange import CURRENT, Exchange
from behest_local.server.keys import EXCHANGE, GATEWAY, PRINCIPAL, STORED
from behest_local.server.render import json_response
from behest_local.server.routes.openai import prepare_chat
from behest_local.server.routes.translated import bill
from behest_local.stored import responses as stored

log = logging.getLogger("behest_local.stored")

INTERRUPTED = ("behest-local stopped while this background response ran; it was not "
               "finished. Create it again.")
CANCEL_WAIT_S = 5.0
"""How long a cancel waits for the run to record its cancellation."""


class BackgroundRuns:
    """The running background responses, by (project, response id)."""

    def __init__(self) -> None:
        self.tasks: dict[tuple[str, str], asyncio.Task] = {}
        self.stopping = False

    def add(self, key: tuple[str, str], run: Coroutine) -> None:
        task = asyncio.ensure_future(run)
        self.tasks[key] = task
        task.add_done_callback(lambda _: self.tasks.pop(key, None))

    async def cancel(self, project: str, response_id: str) -> None:
        """Cancel the run of ``response_id`` if it runs, and wait (bounded) until its
        cancellation is stored: a delete that follows then comes after that write, and
        nothing brings the response back."""
        task = self.tasks.get((project, response_id))
        if task is None:
            return
        task.cancel()
        await asyncio.wait([task], timeout=CANCEL_WAIT_S)

    async def stop(self) -> None:
        """Shutdown: cancel every run, leaving its response unfinished for the restart."""
        self.stopping = True
        tasks = list(self.tasks.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=CANCEL_WAIT_S)


RUNS = web.AppKey("response_runs", BackgroundRuns)


def _run_exchange(request: web.Request) -> Exchange:
    """A new exchange for the run, authenticated as ``request`` was."""
    exchange, origin = Exchange(request.app[GATEWAY].store, method="POST",
                                path=request.path), request[EXCHANGE]
    exchange.received(client="background", headers=())
    exchange.authenticated(tenant=origin.tenant or "", project=origin.project or "",
                           credential=origin.credential or "", user=origin.user,
                           session=origin.session)
    return exchange


async def start(request: web.Request, body: dict, chat: dict, keep, *, response_id: str,
                created_at: int) -> web.Response:
    """Store ``body``'s response as ``queued``, start its run, and answer with it."""
    exchange = _run_exchange(request)
    state, project = request.app[STORED], request[PRINCIPAL].project.id
    try:
        provider, call = prepare_chat(request, chat, exchange)

        def snapshot(status: str, **fields) -> dict:
            defaults = {"output": [], "usage": None}
            return build_response(body, response_id=response_id, created_at=created_at,
                                  model=call.model, status=status, **{**defaults, **fields})

        queued = snapshot("queued")
        await state.run(stored.save, project, queued, keep.inputs)
    except GatewayError as error:  # refused as it was routed or stored: the request's error
        exchange.fail(error.status, code=error.code, message=error.message)
        raise
    runs = request.app[RUNS]

    async def run() -> None:
        token = CURRENT.set(exchange)  # the upstream transport times its waits on it
        try:
            await state.run(stored.save, project, snapshot("in_progress"), None)
            completion = await provider.complete(call)
            bill(exchange, [(call, completion)])
            response = resp.from_chat_completion(completion, request=body,
                                                 response_id=response_id,
                                                 created_at=created_at, model=call.model)
            await state.run(stored.save, project, response, None, keep.conversation,
                            keep.inputs + response["output"])
            exchange.finish(200)
        except asyncio.CancelledError:
            if runs.stopping:
                exchange.fail(503, code="server_error", message=INTERRUPTED, cancelled=True)
                raise
            await state.run(stored.save, project, snapshot("cancelled"), None)
            exchange.fail(499, code="cancelled", message="background response cancelled",
                          cancelled=True)
        except Exception as exc:
            error = exc if isinstance(exc, GatewayError) else GatewayError(
                "The background response failed inside the gateway; the behest-local log "
                "has the details.", code="server_error")
            if not isinstance(exc, GatewayError):
                log.exception("background response %s failed", response_id)
            code = error.code if error.code in RESPONSE_ERROR_CODES else "server_error"
            await state.run(stored.save, project, snapshot(
                "failed", error={"code": code, "message": error.message}), None)
            exchange.fail(error.status, code=error.code, message=error.message)
        finally:
            CURRENT.reset(token)

    runs.add((project, response_id), run())
    return json_response(queued)
