"""Background responses (``background: true``): answered at once, run on their own task.

``start`` routes the request as a chat call on an exchange of its own (the run's: the
request's exchange ends when the ``queued`` response is sent, the run's when the model
has answered), stores the response as ``queued`` together with the run's ``Run`` spec,
and returns it; the run then moves it to ``in_progress`` and to ``completed``/
``incomplete`` (or ``failed``, with the error), each state stored as it is reached, so
``GET /v1/responses/{id}`` polls it. The run's exchange is authenticated as the request
was, so its tokens are billed to the same project and user, and it shows in traces as
its own ``POST /v1/responses``.

``BackgroundRuns`` (``RUNS`` on the app) holds the running tasks: ``cancel`` stops one
(its response becomes ``cancelled``), ``stop`` cancels them all at shutdown without
marking them. The next start ``resume``s each from its spec (the chat request with its
stored context, the emulation directives, the caller's identity), routed again with the
settings of that start; a response left unfinished without a spec is marked failed
(``stored.responses.interrupt_unfinished``, ``INTERRUPTED``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import asdict, dataclass

from aiohttp import web

from behest_local.dialects import emulate as directives
from behest_local.dialects import responses as resp
from behest_local.dialects.responses_object import RESPONSE_ERROR_CODES, build_response
from behest_local.errors import GatewayError
from behest_local.exchange.exchange import CURRENT, Exchange
from behest_local.providers.base import ChatCall, ChatProvider
from behest_local.server.admission.principal import Principal
from behest_local.server.keys import EXCHANGE, GATEWAY, PRINCIPAL, STORED
from behest_local.server.render import json_response
from behest_local.server.routes.openai import prepare_call
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


@dataclass(slots=True)
class Run:
    """One background response's run: everything it needs to start, as plain JSON values,
    stored with the queued response so a restart starts it again."""

    project: str
    response_id: str
    created_at: int
    body: dict
    """The Responses body without ``input`` (its settings, echoed by the response)."""
    chat: dict
    """The chat request: the stored context and ``input``, mapped."""
    emulate: dict
    inputs: list[dict]
    conversation: str | None
    tenant: str
    credential: str
    user: str | None
    session: str | None

    def snapshot(self, status: str, model: str | None, **fields) -> dict:
        defaults = {"output": [], "usage": None}
        return build_response(self.body, response_id=self.response_id,
                              created_at=self.created_at, model=model, status=status,
                              **{**defaults, **fields})


def _run_exchange(app: web.Application, run: Run) -> Exchange:
    """A new exchange for the run, authenticated as its request was."""
    exchange = Exchange(app[GATEWAY].store, method="POST", path="/v1/responses")
    exchange.received(client="background", headers=())
    exchange.authenticated(tenant=run.tenant, project=run.project, credential=run.credential,
                           user=run.user, session=run.session)
    return exchange


async def start(request: web.Request, body: dict, chat: dict, keep, *, response_id: str,
                created_at: int) -> web.Response:
    """Store ``body``'s response as ``queued`` with its run, start it, answer with it."""
    origin, principal = request[EXCHANGE], request[PRINCIPAL]
    run = Run(principal.project.id, response_id, created_at,
              {k: v for k, v in body.items() if k != "input"}, chat,
              directives.parse(request.headers.get(directives.HEADER)), keep.inputs,
              keep.conversation, origin.tenant or principal.tenant,
              origin.credential or principal.credential, origin.user, origin.session)
    app = request.app
    exchange = _run_exchange(app, run)
    try:
        provider, call = prepare_call(app[GATEWAY], principal, chat, run.emulate, exchange)
        queued = run.snapshot("queued", call.model)
        await app[STORED].run(stored.save_run, run.project, queued, run.inputs, asdict(run))
    except GatewayError as error:  # refused as it was routed or stored: the request's error
        exchange.fail(error.status, code=error.code, message=error.message)
        raise
    _launch(app, run, exchange, provider, call)
    return json_response(queued)


async def resume(app: web.Application, spec: dict) -> None:
    """Start again a run a stop interrupted, routed with the current settings; a run
    that cannot be (its project gone or suspended) ends ``failed`` with the reason."""
    run = Run(**spec)
    gateway = app[GATEWAY]
    settings = gateway.settings
    exchange = _run_exchange(app, run)
    try:
        project = settings.project(run.project)
        if project is None:
            raise GatewayError(f"Project {run.project!r} is no longer configured: its "
                               "background response cannot run.", status=404,
                               code="server_error")
        principal = Principal(tenant=run.tenant, project=project, credential=run.credential,
                              settings=settings, user=run.user, session=run.session)
        provider, call = prepare_call(gateway, principal, run.chat, run.emulate, exchange)
    except GatewayError as error:
        await app[STORED].run(stored.save, run.project, run.snapshot(
            "failed", None, error={"code": "server_error", "message": error.message}), None)
        exchange.fail(error.status, code=error.code, message=error.message)
        return
    _launch(app, run, exchange, provider, call)


def _launch(app: web.Application, run: Run, exchange: Exchange, provider: ChatProvider,
            call: ChatCall) -> None:
    state, runs = app[STORED], app[RUNS]

    async def save(response: dict, appended: list[dict] | None = None) -> None:
        await state.run(stored.save, run.project, response, None,
                        run.conversation if appended else None, appended)

    async def go() -> None:
        token = CURRENT.set(exchange)  # the upstream transport times its waits on it
        try:
            await save(run.snapshot("in_progress", call.model))
            completion = await provider.complete(call)
            bill(exchange, [(call, completion)])
            response = resp.from_chat_completion(completion, request=run.body,
                                                 response_id=run.response_id,
                                                 created_at=run.created_at, model=call.model)
            await save(response, run.inputs + response["output"])
            exchange.finish(200)
        except asyncio.CancelledError:
            if runs.stopping:
                exchange.fail(503, code="server_error", message=INTERRUPTED, cancelled=True)
                raise
            await save(run.snapshot("cancelled", call.model))
            exchange.fail(499, code="cancelled", message="background response cancelled",
                          cancelled=True)
        except Exception as exc:
            error = exc if isinstance(exc, GatewayError) else GatewayError(
                "The background response failed inside the gateway; the behest-local log "
                "has the details.", code="server_error")
            if not isinstance(exc, GatewayError):
                log.exception("background response %s failed", run.response_id)
            code = error.code if error.code in RESPONSE_ERROR_CODES else "server_error"
            await save(run.snapshot("failed", call.model,
                                    error={"code": code, "message": error.message}))
            exchange.fail(error.status, code=error.code, message=error.message)
        finally:
            CURRENT.reset(token)

    runs.add((run.project, run.response_id), go())
