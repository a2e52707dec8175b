"""Handlers of the OpenAI-compatible data plane: chat, models, embeddings.

Each handler reads and validates its body (``dialects/``), routes the model
(``routing.resolve``), records the decision on the exchange, and calls the provider.
Chat streams go through ``streaming.relay``; everything else is one JSON response (a
reply the upstream sent in OpenAI's shape keeps its own text, ``render.json_response``).
Embeddings and the models list ask ``providers.catalog`` which providers serve them.
``/v1/completions`` and ``/v1/responses`` are translated to chat in
``server/routes/translated.py``, reusing ``prepare_chat`` from here; ``/v1/messages``
(``server/routes/messages.py``) routes first (``route_model``), since a Claude model with an
Anthropic key is relayed natively, then builds its chat call (``chat_call``).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import replace

from aiohttp import web

from behest_local import __version__, sse
from behest_local.config import ProjectConfig
from behest_local.config.models import is_unspecified
from behest_local.policy import routing
from behest_local.providers.emulated import scripted
from behest_local.dialects.chat import validate_chat_request
from behest_local.errors import GatewayError, InvalidRequestError, NotFoundError
from behest_local.exchange.exchange import Exchange
from behest_local.finops.meter import StreamMeter, estimate_completion
from behest_local.providers import catalog
from behest_local.providers.base import ChatCall, ChatProvider
from behest_local.dialects import emulate as directives
from behest_local.providers.emulated.embeddings import (
    DEFAULT_EMBEDDING_MODEL,
    EMBEDDING_MODELS,
    validate_embeddings_request,
)
from behest_local.providers.emulated.provider import CHAT_MODELS
from behest_local.server.routes.behest import THREAD_HEADER, begin_turn
from behest_local.server.admission.principal import Principal
from behest_local.server.body import beside_body, read_json
from behest_local.server.gateway import Gateway
from behest_local.guardrails.shield import active as guards_on
from behest_local.server.guard import GuardedProvider
from behest_local.server.guard_inputs import guard_field
from behest_local.server.keys import EXCHANGE, GATEWAY, PRINCIPAL
from behest_local.server.render import json_response
from behest_local.server.streaming import EventWriter, relay


def prepare_chat(request: web.Request, body: dict, exchange: Exchange | None = None
                 ) -> tuple[ChatProvider, ChatCall]:
    """Route a validated chat body and build the provider call.

    Routing (``routing.resolve``) uses the settings snapshot the request authenticated
    with and the vault's provider-key index; a suspended project is refused (403). The
    project's system prompt goes first (Behest injects it ahead of the client's
    messages); the routed model replaces the requested one; a matching scripted reply of
    the project pins the emulated model's answer. The gateway always asks the provider
    for usage on streams, so every exchange is metered; ``ChatFramer`` drops the usage
    chunk again when the client did not ask for it.
    """
    emulate = directives.parse(request.headers.get(directives.HEADER))
    return prepare_call(request.app[GATEWAY], request[PRINCIPAL], body, emulate,
                        exchange or request[EXCHANGE])


def prepare_call(gateway: Gateway, principal: Principal, body: dict, emulate: dict,
                 exchange: Exchange) -> tuple[ChatProvider, ChatCall]:
    """``prepare_chat`` without a request: for ``principal``, with the ``emulate``
    directives, recorded on ``exchange`` (a background response resumed after a restart,
    ``routes/responses_runs.py``)."""
    target = _route(gateway, principal, body, exchange)
    provider, call = _chat_call(gateway, principal.project, target, body, emulate, exchange)
    exchange.upstream_started()
    return provider, call


def prepare_chats(request: web.Request, bodies: Iterator[dict]
                  ) -> Iterator[tuple[ChatProvider, ChatCall]]:
    """``prepare_chat`` for several chat bodies of one request (a completion's prompts):
    they share model and stream, so they are routed once, on the first, and the exchange
    is routed and sent upstream once. Each call is built when it is asked for: a caller
    working through 2,048 of them yields to the loop in between."""
    emulate = directives.parse(request.headers.get(directives.HEADER))
    first = next(bodies)
    gateway, project = request.app[GATEWAY], request[PRINCIPAL].project
    exchange = request[EXCHANGE]
    target = _route(gateway, request[PRINCIPAL], first, exchange)
    exchange.upstream_started()
    return (_chat_call(gateway, project, target, body, emulate, exchange)
            for body in itertools.chain([first], bodies))


def route_model(request: web.Request, body: dict) -> routing.Target:
    """Where ``body`` goes, recorded on the request's exchange (``Routed``)."""
    return _route(request.app[GATEWAY], request[PRINCIPAL], body, request[EXCHANGE])


def _route(gateway: Gateway, principal: Principal, body: dict, exchange: Exchange
           ) -> routing.Target:
    """Where ``body`` goes, recorded on ``exchange`` (``Routed``)."""
    project = principal.project
    if project.status != "active":
        raise GatewayError(f"Project {project.id!r} is {project.status}: it accepts no requests "
                           "(status in behest.toml).", status=403, type="invalid_request_error",
                           code="forbidden")
    keys = gateway.provider_keys
    target = routing.resolve(body.get("model"), project, principal.settings,
                             keys.has if keys else lambda provider: False)
    if target.unknown:
        exchange.warning = routing.unknown_model_warning(target.model, CHAT_MODELS)
    exchange.routed(requested_model=body.get("model"), model=target.model,
                    provider=target.provider, reason=target.reason,
                    stream=bool(body.get("stream")))
    if gateway.kills is not None and gateway.kills.providers:
        gateway.kills.check_provider(target, principal.tenant)
    return target


def chat_call(request: web.Request, target: routing.Target, body: dict, emulate: dict
              ) -> tuple[ChatProvider, ChatCall]:
    """The provider and call that send ``body`` to ``target`` for the request's project."""
    return _chat_call(request.app[GATEWAY], request[PRINCIPAL].project, target, body, emulate,
                      request[EXCHANGE])


def _chat_call(gateway: Gateway, project: ProjectConfig, target: routing.Target, body: dict,
               emulate: dict, exchange: Exchange) -> tuple[ChatProvider, ChatCall]:
    """The provider and call that send ``body`` to ``target``: every chat-shaped call is
    built here, so this is where the project's guardrails wrap the provider
    (``server/guard.py``)."""
    upstream = dict(body, model=target.model)
    prompt = project.system_prompt
    if prompt:
        upstream["messages"] = [{"role": "system", "content": prompt}, *body["messages"]]
    if body.get("stream"):
        upstream["stream_options"] = {**(body.get("stream_options") or {}), "include_usage": True}
    provider = gateway.provider(target.provider)
    rule = scripted.find_rule(project.scripted, body["messages"]) \
        if target.provider == routing.EMULATED else None
    if rule is not None:
        provider = scripted.ScriptedProvider(provider, rule)
    if guards_on(project.guardrails):
        provider = GuardedProvider(provider, project.guardrails, exchange, project=project.id,
                                   skip=1 if prompt else 0)
    return provider, ChatCall(request=upstream, model=target.model, emulate=emulate)


def wants_usage(body: dict) -> bool:
    return bool((body.get("stream_options") or {}).get("include_usage"))


class ChatFramer:
    """A chat stream's chunks as SSE events, metering usage on the way past.

    ``frame`` encodes one chunk (None: not for the client, a usage chunk it did not ask
    for); ``count`` then meters what was sent: without a usage chunk from the provider
    (or before it), ``meter`` counts it. A chunk relayed as the upstream sent it
    (``sse.EventJSON``) is written as its own text. ``streaming.EventWriter`` calls both
    for every chunk, whichever task relays it (the relay's, or the upstream's read
    callback).
    """

    __slots__ = ("exchange", "include_usage", "meter", "count")

    def __init__(self, exchange: Exchange, *, include_usage: bool,
                 meter: StreamMeter | None = None) -> None:
        self.exchange, self.include_usage, self.meter = exchange, include_usage, meter
        self.count = meter.count if meter is not None else None

    def frame(self, chunk: dict) -> bytes | None:
        usage = chunk.get("usage")
        if usage:
            if self.meter is not None:
                self.meter.reported(usage)
            else:
                self.exchange.usage(usage.get("prompt_tokens"), usage.get("completion_tokens"))
            if not self.include_usage:
                return None
        elif not self.include_usage:
            chunk.pop("usage", None)
        return sse.encode_json(chunk)


async def chat_completions(request: web.Request) -> web.StreamResponse:
    body = await read_json(request, validate_chat_request)
    # X-Thread-Id: history in, reply recorded. Without the header no thread work at all.
    turn = await begin_turn(request, body) if THREAD_HEADER in request.headers else None
    provider, call = prepare_chat(request, body if turn is None else turn.body)
    exchange = request[EXCHANGE]
    if call.request.get("stream"):
        meter = StreamMeter(exchange, call.request["messages"], call.request.get("tools"))
        writer = EventWriter(ChatFramer(exchange, include_usage=wants_usage(body),
                                        meter=meter))
        # A thread records every chunk as it passes (turn.tap), so its events all go
        # through the relay's task; otherwise the common ones may go directly.
        if turn is None:
            chunks = provider.stream(replace(call, sink=writer))
        else:
            chunks = turn.tap(provider.stream(call))
        return await relay(request, chunks, terminator=sse.DONE, writer=writer)
    completion = await provider.complete(call)
    if turn is not None:
        turn.record(completion)
    usage = completion.get("usage") or {}
    exchange.usage(usage.get("prompt_tokens"), usage.get("completion_tokens"))
    if not usage:  # a provider that reports none: count it (finops/recorder.py)
        estimate_completion(exchange, call.request["messages"], completion)
    return json_response(completion)


async def embeddings(request: web.Request) -> web.Response:
    """``POST /v1/embeddings``: the model's provider when it has an embeddings API and a
    usable key (``catalog.route_embeddings``), else the emulated embeddings."""
    raw = await read_json(request)
    requested = raw.get("model") if isinstance(raw, dict) else None
    model = DEFAULT_EMBEDDING_MODEL if is_unspecified(requested) or not isinstance(requested, str) \
        else requested
    gateway = request.app[GATEWAY]
    keys = gateway.provider_keys
    target = catalog.route_embeddings(requested, model, _settings(request),
                                      keys.has if keys else lambda provider: False)
    # Up to 2,048 inputs (token arrays, maybe millions of ids): checked beside the loop.
    if target.provider == routing.EMULATED:
        body = await beside_body(request, _emulated_embeddings_body, raw, model)
    else:
        body = await beside_body(request, _upstream_embeddings_body, raw, model)
    exchange = request[EXCHANGE]
    if target.unknown:
        exchange.warning = routing.unknown_model_warning(target.model, EMBEDDING_MODELS)
    exchange.routed(requested_model=requested, model=target.model, provider=target.provider,
                    reason=target.reason, stream=False)
    if gateway.kills is not None and gateway.kills.providers:
        gateway.kills.check_provider(target, gateway.settings.tenant_id)
    body = await guard_field(request, body, "input")
    exchange.upstream_started()
    result = await gateway.provider(target.provider).embed(body, target.model)
    usage = result.get("usage") or {}
    exchange.usage(usage.get("prompt_tokens"), 0)
    return json_response(result)


def _emulated_embeddings_body(raw: object, model: str) -> dict:
    return validate_embeddings_request(raw, model=model)


def _upstream_embeddings_body(raw: object, model: str) -> dict:
    """OpenAI's checks, except ``dimensions``: the upstream knows which of its models take
    it and up to what size (the emulated check knows only OpenAI's)."""
    dims = raw.get("dimensions") if isinstance(raw, dict) else None
    if dims is None:
        return validate_embeddings_request(raw, model=model)
    if isinstance(dims, bool) or not isinstance(dims, int) or dims < 1:
        raise InvalidRequestError(f"Invalid value for 'dimensions': {dims!r}; expected a "
                                  "positive integer.", param="dimensions")
    body = validate_embeddings_request({k: v for k, v in raw.items() if k != "dimensions"},
                                       model=model)
    return {**body, "dimensions": dims}


async def all_models(request: web.Request) -> list[dict]:
    gateway = request.app[GATEWAY]
    keys = gateway.provider_keys
    return await catalog.list_models(gateway.providers, _settings(request),
                                     keys.has if keys else lambda provider: False)


def _settings(request: web.Request):
    """The snapshot the caller authenticated with (the gateway's current one otherwise)."""
    principal = request.get(PRINCIPAL)
    return principal.settings if principal is not None else request.app[GATEWAY].settings


async def list_models(request: web.Request) -> web.Response:
    """``GET /v1/models``: the models of every provider with a key, plus the emulated ones."""
    return json_response({"object": "list", "data": await all_models(request)})


async def get_model(request: web.Request) -> web.Response:
    model_id = request.match_info["model"]
    for model in await all_models(request):
        if model["id"] == model_id:
            return json_response(model)
    raise NotFoundError(f"The model '{model_id}' does not exist.", param="model",
                        code="model_not_found")


async def healthz(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY]
    return json_response({"status": "ok", "version": __version__,
                          "config": gateway.settings.source,
                          "projects": [p.id for p in gateway.settings.projects]})
