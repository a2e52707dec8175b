"""``POST /v1/moderations``: OpenAI's moderation endpoint, relayed or emulated.

Admission (auth, limits, the exchange) has run in the middleware. The handler validates the
body (``providers/emulated/moderation.py``, the same 400s either way), routes it the way
embeddings are routed: to OpenAI when the model is one of its moderation models and the
vault holds an OpenAI key (the plan and key rules of ``policy/routing.keyed``), else to the
offline keyword model. Moderation is free at OpenAI, so the exchange records no tokens and
no cost. An upstream reply is relayed as OpenAI sent it (its own JSON text).
"""

from __future__ import annotations

from aiohttp import web

from behest_local.config.models import is_unspecified
from behest_local.dialects import emulate as directives
from behest_local.policy import routing
from behest_local.providers.emulated import moderation
from behest_local.providers.emulated.provider import emulated_error
from behest_local.server.body import read_json
from behest_local.server.keys import EXCHANGE, GATEWAY, PRINCIPAL
from behest_local.server.render import json_response
from behest_local.sse import EventJSON

UPSTREAM = "openai"  # the one provider with a moderation API


async def moderations(request: web.Request) -> web.Response:
    raw = await read_json(request)
    body = moderation.validate_moderation_request(raw)
    emulate = directives.parse(request.headers.get(directives.HEADER))
    target = _route(request, raw.get("model"), body["model"])
    exchange = request[EXCHANGE]
    exchange.routed(requested_model=raw.get("model"), model=target.model,
                    provider=target.provider, reason=target.reason, stream=False)
    exchange.upstream_started()
    if target.provider == routing.EMULATED:
        if status := emulate.get("status"):
            raise emulated_error(int(status), emulate)
        pinned = moderation.pinned_categories(emulate.get("flag"))
        result = moderation.moderate(body, exchange.id, pinned)
    else:
        # The body as the client sent it: OpenAI's own API, nothing to translate.
        provider = request.app[GATEWAY].provider(target.provider)
        text, reply = await provider.native_json("moderations", raw, {})
        result = EventJSON(reply, text) if text is not None else reply
    exchange.usage(0, 0)
    return json_response(result)


def _route(request: web.Request, requested: object, model: str) -> routing.Target:
    """OpenAI with a key (its moderation models only), else the emulated model."""
    if is_unspecified(requested):
        requested = None
    principal = request[PRINCIPAL]
    if model not in moderation.MODERATION_MODELS:
        return routing.Target(routing.EMULATED, model, f"{model!r} is no OpenAI moderation "
                              "model: emulated moderation", unknown=True)
    keys = request.app[GATEWAY].provider_keys
    return routing.keyed(model, "requested model" if requested else "default moderation model",
                         UPSTREAM, principal.settings,
                         keys.has if keys else lambda provider: False,
                         fallback="emulated moderation")
