"""The native path of ``/v1/messages``: a Claude model relayed to Anthropic untranslated.

When routing sends a Messages request to the Anthropic provider (a ``claude-*`` model with
an Anthropic key in the vault), nothing is translated: the client's body goes upstream as
it was written, with two changes the gateway always makes, the routed model and the
project's system prompt ahead of the client's (as a first ``system`` text block). The
``anthropic-version`` and ``anthropic-beta`` headers are forwarded byte for byte (Claude
Code's gateway contract, anthropic-ingress.md §2); the key is the vault's, in
``x-api-key``. The answer comes back as Anthropic sent it: the JSON text unchanged, or each
SSE event re-framed with its own name and data, one write each.

On the way past, the usage Anthropic reports (``message_start``, then each
``message_delta``'s cumulative counts) is the exchange's, so usage, limits and cost see it;
an ``event: error`` becomes the relay's failure (``UpstreamError``), answered with the same
error event and recorded as the exchange's end. Failures before the first byte (an upstream
429 or 529, a timeout) are the upstream's status and message in Anthropic's error JSON.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from aiohttp import web

from behest_local import sse
from behest_local.dialects.messages_wire import (API_VERSIONS, VERSION_HEADER, error_body,
                                                 prompt_tokens)
from behest_local.exchange.exchange import Exchange
from behest_local.policy import routing
from behest_local.providers.anthropic.translate import stream_error
from behest_local.guardrails.shield import active as guards_on
from behest_local.server.keys import EXCHANGE, GATEWAY, PRINCIPAL
from behest_local.server.render import json_response
from behest_local.server.streaming import relay
from behest_local.sse import EventJSON, SSEEvent

PROVIDER = "anthropic"
BETA_HEADER = "anthropic-beta"
_USAGE_EVENTS = frozenset({"message_start", "message_delta"})


def serves(request: web.Request, target: routing.Target) -> bool:
    """Whether ``target`` is relayed natively: the Anthropic provider, able to take a
    Messages body as it is (the emulated model and every other provider are translated).
    A project with a guardrail on is always translated: the guardrails run where the chat
    call is built (``server/guard.py``), and a native relay would pass its prompt
    unchecked."""
    if target.provider != PROVIDER or guards_on(request[PRINCIPAL].project.guardrails):
        return False
    adapter = getattr(request.app[GATEWAY].provider(PROVIDER), "adapter", None)
    return adapter is not None and "messages" in adapter.operations


def _upstream(request: web.Request, body: dict, target: routing.Target) -> tuple[dict, dict]:
    """The body and headers sent upstream (see the module docstring)."""
    native = dict(body, model=target.model)
    prompt = request[PRINCIPAL].project.system_prompt
    if prompt:
        system = body.get("system")
        blocks = [{"type": "text", "text": system}] if isinstance(system, str) and system \
            else list(system or ())
        native["system"] = [{"type": "text", "text": prompt}, *blocks]
    headers = {VERSION_HEADER: request.headers.get(VERSION_HEADER, API_VERSIONS[0])}
    if BETA_HEADER in request.headers:
        headers[BETA_HEADER] = request.headers[BETA_HEADER]
    return native, headers


async def relay_messages(request: web.Request, body: dict,
                         target: routing.Target) -> web.StreamResponse:
    provider = request.app[GATEWAY].provider(PROVIDER)
    exchange = request[EXCHANGE]
    native, headers = _upstream(request, body, target)
    exchange.upstream_started()
    if body.get("stream"):
        frames = _frames(provider.native_events("messages", native, headers), exchange)
        return await relay(request, frames, terminator=None, on_error=lambda error: (
            sse.encode_json(error_body(error.status, error.message, exchange.id),
                            event="error")))
    text, reply = await provider.native_json("messages", native, headers)
    usage = reply.get("usage") or {}
    exchange.usage(prompt_tokens(usage), usage.get("output_tokens") or 0)
    return json_response(EventJSON(reply, text) if text is not None else reply)


async def _frames(events: AsyncIterator[SSEEvent], exchange: Exchange) -> AsyncIterator[bytes]:
    usage: dict = {}
    try:
        async for event in events:
            name = event.event
            if name in _USAGE_EVENTS or name == "error":
                data = json.loads(event.data)
                if name == "error":
                    raise stream_error(data.get("error") or {})
                reported = (data.get("message") or {}).get("usage") \
                    if name == "message_start" else data.get("usage")
                if reported:  # cumulative: the newest value of each count wins
                    usage.update((k, v) for k, v in reported.items() if v is not None)
                    exchange.usage(prompt_tokens(usage), usage.get("output_tokens") or 0)
            yield sse.encode(event.data, event=name)
    finally:
        await events.aclose()


async def relay_count(request: web.Request, body: dict, target: routing.Target) -> web.Response:
    """``count_tokens`` asked of Anthropic itself, its answer passed back."""
    provider = request.app[GATEWAY].provider(PROVIDER)
    native, headers = _upstream(request, body, target)
    request[EXCHANGE].upstream_started()
    text, reply = await provider.native_json("count_tokens", native, headers)
    return json_response(EventJSON(reply, text) if text is not None else reply)
