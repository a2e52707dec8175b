"""``/v1/responses``: create (stored, chained, in the background), retrieve, delete,
cancel, and a response's input items.

``POST /v1/responses`` validates the body (``dialects/responses``), brings in the stored
context (``previous_response_id``: the chain's input and output items, oldest first;
``conversation``: the conversation's items) ahead of its own ``input``, translates the
whole to a chat request and follows the chat path (``routes/openai.prepare_chat``), so
the context reaches whichever provider serves the model: every provider, OpenAI
included, is called through chat here, so the chain is always expanded by the gateway.
The answer is translated back, whole or as a stream, then kept (``store``, default true)
with its input items, and appended to its conversation; a stream's response is kept as
its terminal event is made, before that event is written, so a client that reads the
stream to its end finds it stored. ``background: true`` answers at once with a
``queued`` response and runs it on its own (``responses_runs``).

Every object belongs to the caller's project (``stored/``): another project's ids are
not found, a 404 worded as OpenAI's. The database is ``STORED`` (``server/keys.py``),
opened at startup off the loop; one it cannot open makes the stateful calls 503 while
plain, unstored responses are still served.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from behest_local import sse
from behest_local.dialects import responses as resp
from behest_local.dialects.chat import validate_chat_request
from behest_local.errors import GatewayError, InvalidRequestError, NotFoundError
from behest_local.finops.meter import StreamMeter
from behest_local.offload import off_loop
from behest_local.server.body import beside_body, read_json
from behest_local.server.keys import EXCHANGE, GATEWAY, PRINCIPAL, STORED
from behest_local.server.render import json_response
from behest_local.server.routes import responses_runs as runs
from behest_local.server.routes.openai import prepare_chat
from behest_local.server.routes.translated import bill
from behest_local.server.streaming import relay
from behest_local.stored import conversations, responses as stored
from behest_local.stored.database import StoredState
from behest_local.stored.pages import parse_page

log = logging.getLogger("behest_local.stored")


def setup_responses(app: web.Application) -> None:
    app[STORED] = StoredState.for_home(app[GATEWAY].home)
    app[runs.RUNS] = runs.BackgroundRuns()
    app.router.add_post("/v1/responses", create_response)
    app.router.add_get("/v1/responses/{id}", get_response)
    app.router.add_delete("/v1/responses/{id}", delete_response)
    app.router.add_post("/v1/responses/{id}/cancel", cancel_response)
    app.router.add_get("/v1/responses/{id}/input_items", input_items)
    app.cleanup_ctx.append(_stored_lifetime)
    # After every cleanup context (aiohttp runs those first): the usage recorder is
    # subscribed by then, so a resumed run is billed.
    app.on_startup.append(_resume_runs)
    app.on_shutdown.append(_stop_runs)


async def _stored_lifetime(app: web.Application):
    state = app[STORED]
    await state.open()
    if state.unavailable is None:
        left = await state.run(stored.interrupt_unfinished, runs.INTERRUPTED)
        if left:
            log.warning("%d background responses were left unfinished by an earlier "
                        "behest-local with nothing to resume them: marked failed", left)
    yield
    await state.close()


async def _resume_runs(app: web.Application) -> None:
    state = app[STORED]
    if state.unavailable is not None:
        return
    specs = await state.run(stored.runs_to_resume)
    for spec in specs:
        await runs.resume(app, spec)
    if specs:
        log.info("resumed %d background responses a stop interrupted", len(specs))


async def _stop_runs(app: web.Application) -> None:
    await app[runs.RUNS].stop()


def _project(request: web.Request) -> str:
    return request[PRINCIPAL].project.id


def not_found(response_id: str) -> NotFoundError:
    return NotFoundError(f"Response with id '{response_id}' not found.")


# -- create --------------------------------------------------------------------------------


class _Keeper:
    """Where a finished response goes: the store (``store``) and its conversation."""

    def __init__(self, state: StoredState, project: str, inputs: list[dict], *, store: bool,
                 conversation: str | None) -> None:
        self.state, self.project, self.inputs = state, project, inputs
        self.store, self.conversation = store, conversation

    def __call__(self, response: dict | None) -> None:
        if response is None:
            return
        appended = self.inputs + (response.get("output") or [])
        if self.store:
            self.state.submit(stored.save, self.project, response, self.inputs,
                              self.conversation, appended)
        elif self.conversation is not None:
            self.state.submit(conversations.append, self.project, self.conversation, appended)


async def create_response(request: web.Request) -> web.StreamResponse:
    body = await read_json(request, resp.validate_responses_request)
    state, project = request.app[STORED], _project(request)
    previous = body.get("previous_response_id")
    conversation = resp.conversation_id(body["conversation"]) \
        if body.get("conversation") is not None else None
    # Best effort without a database: only the calls that need it fail (503, ``run``).
    store = body.get("store", True) is not False and (
        state.unavailable is None or bool(previous or conversation or body.get("background")))
    inputs = await beside_body(request, resp.input_items, body)
    context = await _context(state, project, previous, conversation)
    if store or conversation is not None:
        state.admit(project, len(inputs) + 1)
    # A stored context may be thousands of items behind a small body: mapped beside the
    # loop whenever there is one.
    chat = await (off_loop(_chat_request, body, context, inputs) if context else
                  beside_body(request, _chat_request, body, context, inputs))
    keep = _Keeper(state, project, inputs, store=store, conversation=conversation)
    response_id, created_at = "resp_" + secrets.token_hex(24), int(time.time())
    if body.get("background"):
        return await runs.start(request, body, chat, keep, response_id=response_id,
                                created_at=created_at)
    provider, call = prepare_chat(request, chat)
    exchange = request[EXCHANGE]
    if body.get("stream"):
        translator = resp.ResponsesStreamTranslator(request=body, response_id=response_id,
                                                    created_at=created_at, model=call.model)

        def on_error(error: GatewayError) -> bytes:
            events = translator.fail(error.message, error.code)
            keep(translator.final)
            return b"".join(sse.encode_json(data, event=name) for name, data in events)

        meter = StreamMeter(exchange, call.request["messages"], call.request.get("tools"))
        frames = _frames(meter.metered(provider.stream(call)), translator, keep)
        return await relay(request, frames, terminator=None, on_error=on_error)
    completion = await provider.complete(call)
    bill(exchange, [(call, completion)])
    response = resp.from_chat_completion(completion, request=body, response_id=response_id,
                                         created_at=created_at, model=call.model)
    keep(response)
    return json_response(response)


async def _context(state: StoredState, project: str, previous: str | None,
                   conversation: str | None) -> list[dict]:
    """The stored items a request continues from, oldest first."""
    if previous is not None:
        items = await state.run(stored.chain, project, previous)
        if items is None:
            raise InvalidRequestError(f"Previous response with id '{previous}' not found.",
                                      param="previous_response_id",
                                      code="previous_response_not_found")
        return items
    if conversation is not None:
        items = await state.run(conversations.all_items, project, conversation,
                                stored.MAX_CONTEXT_ITEMS)
        if items is None:
            raise NotFoundError(f"Conversation with id '{conversation}' not found.",
                                param="conversation")
        return items
    return []


def _chat_request(body: dict, context: list[dict], inputs: list[dict]) -> dict:
    """The chat request of ``body`` with the stored context ahead of its input."""
    return validate_chat_request(resp.to_chat_request({**body, "input": context + inputs}))


async def _frames(chunks: AsyncIterator[dict], translator: resp.ResponsesStreamTranslator,
                  keep: Callable[[dict | None], None]) -> AsyncIterator[bytes]:
    # Each Responses event is its own SSE event and its own write, like OpenAI's stream.
    first = True
    async for chunk in chunks:
        if first:
            first = False
            for name, data in translator.start():
                yield sse.encode_json(data, event=name)
        for name, data in translator.feed(chunk):
            yield sse.encode_json(data, event=name)
    events = translator.finish()
    keep(translator.final)  # stored before the client can read the end and ask for it
    for name, data in events:
        yield sse.encode_json(data, event=name)


# -- stored responses ------------------------------------------------------------------------


async def get_response(request: web.Request) -> web.Response:
    if request.query.get("stream", "false").lower() == "true":
        raise InvalidRequestError("Streaming a stored response again is not supported "
                                  "locally: omit 'stream' to get the response object.",
                                  param="stream")
    response_id = request.match_info["id"]
    response = await request.app[STORED].run(stored.get, _project(request), response_id)
    if response is None:
        raise not_found(response_id)
    return json_response(response)


async def delete_response(request: web.Request) -> web.Response:
    response_id, project = request.match_info["id"], _project(request)
    await request.app[runs.RUNS].cancel(project, response_id)
    if not await request.app[STORED].run(stored.delete, project, response_id):
        raise not_found(response_id)
    return json_response({"id": response_id, "object": "response", "deleted": True})


async def cancel_response(request: web.Request) -> web.Response:
    response_id, project, state = request.match_info["id"], _project(request), request.app[STORED]
    response = await state.run(stored.get, project, response_id)
    if response is None:
        raise not_found(response_id)
    if not response.get("background"):
        raise InvalidRequestError(f"Response '{response_id}' was not created with "
                                  "'background': true: only background responses can be "
                                  "cancelled.", param=None)
    if response["status"] in stored.UNFINISHED:
        await request.app[runs.RUNS].cancel(project, response_id)
        response = await state.run(stored.get, project, response_id) or response
    return json_response(response)


async def input_items(request: web.Request) -> web.Response:
    response_id = request.match_info["id"]
    page = await request.app[STORED].run(stored.input_page, _project(request), response_id,
                                         parse_page(request.query))
    if page is None:
        raise not_found(response_id)
    return json_response(page)
