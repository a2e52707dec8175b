"""Anthropic's Messages API, the gateway's second front door: ``/v1/messages``,
``/v1/messages/count_tokens``, and ``/v1/models`` in Anthropic's shape.

Admission is the data plane's (``server/middleware.py``): the key may come as
``x-api-key`` or a Bearer token (``auth.credential_header``), limits answer 429/402 with
Anthropic's error JSON and ``anthropic-ratelimit-*`` headers (``limits``), and every error
the middleware renders on these paths is Anthropic's envelope (``render.error_response``),
because ``behest_errors.speaks_anthropic`` says so. ``?beta=true`` (SDK ≤ 1.17 and Claude
Code) is a query string the router ignores.

A Messages body is validated once (``dialects/messages_request``), then routed like chat
(``openai.route_model``). Two paths from there:

* **native** (``messages_native``): a model the Anthropic provider serves with a key in the
  vault is relayed as the client wrote it (routed model and project system prompt aside),
  and its answer passed back event by event;
* **translated**: anything else, the emulated model included, gets the chat request
  ``messages_to_chat`` makes and answers through the chat path (``openai.chat_call``,
  scripted replies and ``x-behest-emulate`` included); the answer is turned back into a
  Message (``messages_reply``) or Anthropic's event sequence (``messages_stream``), metered
  as chat streams are (``StreamMeter``).

``cache_control`` breakpoints are played by the emulated model (``messages_cache``): a
prefix seen within its TTL is reported as ``cache_read_input_tokens``, a new one as
``cache_creation_input_tokens``; real providers report their own.

``anthropic-version`` selects the checks (sampling parameters are a 400 from
``2026-10-21``); without the header the older, laxer version's rules apply.
"""

from __future__ import annotations

import functools
import time
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from typing import NamedTuple

from aiohttp import web

from behest_local.dialects import emulate as directives
from behest_local.dialects.chat import validate_chat_request
from behest_local.dialects.messages_cache import PromptCache, breakpoints, total_chars
from behest_local.dialects.messages_reply import emulated_thinking, from_chat_completion
from behest_local.dialects.messages_request import thinking_requested, validate_messages_request
from behest_local.dialects.messages_stream import MessagesStreamTranslator
from behest_local.dialects.messages_to_chat import reminders_as_system, to_chat_request
from behest_local.dialects.messages_wire import VERSION_HEADER, message_id, prompt_tokens
from behest_local.errors import InvalidRequestError, NotFoundError
from behest_local.finops.meter import StreamMeter
from behest_local.policy import routing
from behest_local.providers.tokens import count_prompt_tokens, count_tokens
from behest_local.server.body import read_json
from behest_local.server.keys import EXCHANGE
from behest_local.server.render import json_response
from behest_local.server.routes import messages_native as native
from behest_local.server.routes import openai as openai_routes
from behest_local.server.streaming import relay

PROMPT_CACHE = web.AppKey("prompt_cache", PromptCache)
"""The prefixes the emulated model has cached (``messages_cache``)."""


class _Checked(NamedTuple):
    body: dict
    chat: dict
    """The chat request the body becomes (the translated path's)."""
    points: list
    """Its ``cache_control`` breakpoints (``messages_cache``), for the emulated model."""
    chars: int
    """The prompt's characters as the breakpoints count them (0 without breakpoints)."""


def _checked(raw: object, version: str | None, count_only: bool = False) -> _Checked:
    """The checked Messages body, the chat request it becomes and its cache breakpoints
    (beside the loop when the body is large: ``read_json``)."""
    body = validate_messages_request(raw, version, count_only=count_only)
    chat = to_chat_request(body)
    if count_only:
        chat["max_tokens"] = 1  # chat's checks want one; nothing is generated
        return _Checked(body, validate_chat_request(chat), [], 0)
    points = breakpoints(body)
    return _Checked(body, validate_chat_request(chat), points,
                    total_chars(body) if points else 0)


def _cache(request: web.Request, checked: _Checked, prompt_tokens: int) -> tuple[int, int]:
    """The emulated model's cache at work: (read, written) tokens of this prompt."""
    if not checked.points or not checked.chars:
        return 0, 0
    read, written = request.app[PROMPT_CACHE].use(checked.points, time.monotonic())
    return (prompt_tokens * read // checked.chars, prompt_tokens * written // checked.chars)


async def messages(request: web.Request) -> web.StreamResponse:
    version = request.headers.get(VERSION_HEADER)
    checked = await read_json(request, functools.partial(_checked, version=version))
    body, chat = checked.body, checked.chat
    emulate = directives.parse(request.headers.get(directives.HEADER))
    target = openai_routes.route_model(request, body)
    exchange = request[EXCHANGE]
    if native.serves(request, target):
        return await native.relay_messages(request, body, target)
    emulated = target.provider == routing.EMULATED
    if emulated:
        chat = reminders_as_system(chat)
    provider, call = openai_routes.chat_call(request, target, chat, emulate)
    exchange.upstream_started()
    want = thinking_requested(body)
    thinking = emulated_thinking(call.request) if want and emulated else None
    stops = body.get("stop_sequences") or ()
    prompt = count_prompt_tokens(call.request["messages"], call.request.get("tools"))
    cache = _cache(request, checked, prompt) if emulated else None
    if body.get("max_tokens") == 0:  # a cache pre-warm: nothing generated, nothing asked
        exchange.usage(prompt, 0)
        return json_response(from_chat_completion(
            {"choices": [{"message": {}, "finish_reason": "length"}],
             "usage": {"prompt_tokens": prompt}}, message_id=message_id(), model=call.model,
            thinking="", cache=cache))
    if call.request.get("stream"):
        messages_ = call.request["messages"]
        translator = MessagesStreamTranslator(
            message_id=message_id(), model=call.model, input_tokens=prompt,
            stop_sequences=stops, thinking=thinking, want_reasoning=want, count=count_tokens,
            cache=cache)
        meter = StreamMeter(exchange, messages_, call.request.get("tools"))
        frames = _frames(meter.metered(provider.stream(call)), translator)
        return await relay(request, frames, terminator=None,
                           on_error=lambda error: translator.fail(error.status, error.message,
                                                                  exchange.id))
    completion = await provider.complete(call)
    reply = from_chat_completion(completion, message_id=message_id(), model=call.model,
                                 stop_sequences=stops, thinking=thinking if want else "",
                                 count=count_tokens, cache=cache)
    usage = reply["usage"]
    exchange.usage(prompt_tokens(usage) or prompt, usage["output_tokens"])
    return json_response(reply)


async def _frames(chunks: AsyncIterator[dict], translator: MessagesStreamTranslator
                  ) -> AsyncIterator[bytes]:
    """The stream's events, each its own write (like Anthropic's); reading stops at a stop
    sequence, which closes the upstream (its generator is closed here, at once)."""
    started = False
    try:
        async for chunk in chunks:
            if not started:
                started = True
                for frame in translator.start():
                    yield frame
            for frame in translator.feed(chunk):
                yield frame
            if translator.stopped:
                break
    finally:
        await chunks.aclose()
    if not started:
        for frame in translator.start():
            yield frame
    for frame in translator.finish():
        yield frame


async def count_tokens_route(request: web.Request) -> web.Response:
    """``POST /v1/messages/count_tokens``: ``{"input_tokens": N}``, counted as the routed
    provider would bill the prompt (the native Anthropic API's own count when relayed)."""
    version = request.headers.get(VERSION_HEADER)
    checked = await read_json(request, functools.partial(_checked, version=version,
                                                         count_only=True))
    body, chat = checked.body, checked.chat
    target = openai_routes.route_model(request, body)
    if native.serves(request, target):
        return await native.relay_count(request, body, target)
    call = openai_routes.chat_call(request, target, chat, {})[1]
    return json_response({"input_tokens": count_prompt_tokens(call.request["messages"],
                                                              call.request.get("tools"))})


# -- /v1/models in Anthropic's shape ------------------------------------------------------

def _model(openai_model: dict) -> dict:
    created = openai_model.get("created") or 0
    return {"type": "model", "id": openai_model["id"], "display_name": openai_model["id"],
            "created_at": datetime.fromtimestamp(created, timezone.utc).strftime(
                "%Y-%m-%dT%H:%M:%SZ")}


async def list_models(request: web.Request) -> web.Response:
    """``GET /v1/models``: OpenAI's list, or with ``anthropic-version`` Anthropic's page
    (``limit`` 1–1000, default 20; ``after_id``/``before_id``; anthropic-ingress.md §7)."""
    if VERSION_HEADER not in request.headers:
        return await openai_routes.list_models(request)
    models = [_model(m) for m in await openai_routes.all_models(request)]
    query = request.query
    try:
        limit = int(query.get("limit", 20))
    except ValueError:
        limit = 0
    if not 1 <= limit <= 1000:
        raise InvalidRequestError("limit: Input should be an integer from 1 to 1000",
                                  param="limit")
    ids = [m["id"] for m in models]
    if "before_id" in query:
        end = ids.index(query["before_id"]) if query["before_id"] in ids else len(ids)
        page, more = models[max(0, end - limit):end], end - limit > 0
    else:
        start = ids.index(query["after_id"]) + 1 if query.get("after_id") in ids else 0
        page, more = models[start:start + limit], start + limit < len(models)
    return json_response({"data": page, "has_more": more,
                          "first_id": page[0]["id"] if page else None,
                          "last_id": page[-1]["id"] if page else None})


async def get_model(request: web.Request) -> web.Response:
    if VERSION_HEADER not in request.headers:
        return await openai_routes.get_model(request)
    model_id = request.match_info["model"]
    for model in await openai_routes.all_models(request):
        if model["id"] == model_id:
            return json_response(_model(model))
    raise NotFoundError(f"model: {model_id}", param="model", code="model_not_found")


def setup_messages_routes(app: web.Application) -> None:
    app[PROMPT_CACHE] = PromptCache()
    app.router.add_post("/v1/messages", messages)
    app.router.add_post("/v1/messages/count_tokens", count_tokens_route)

