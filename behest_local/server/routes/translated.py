"""``/v1/completions``: a public dialect served through chat (``/v1/responses`` is
``routes/responses.py``, which shares ``bill``).

The handler validates its own dialect, translates the body to a chat request
(``dialects/``), then follows exactly the chat path (``routes/openai.prepare_chat``:
routing, system prompt, exchange events) and translates the answer back, streamed event
by event through ``streaming.relay`` or as one JSON object. Billing is chat's too: the
chat chunks pass through a ``StreamMeter`` (``finops/meter.py``), so a stream cut short is
billed for what was sent, and a reply without the provider's usage is counted. A
completion of several prompts is one chat call per prompt on one exchange: routed once
(``prepare_chats``), its tokens summed.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import time
from collections.abc import AsyncIterator

from aiohttp import web

from behest_local import sse
from behest_local.dialects import completions as legacy
from behest_local.dialects.chat import validate_chat_request
from behest_local.exchange.exchange import Exchange
from behest_local.finops.meter import StreamMeter, reply_usage
from behest_local.json_text import EncodedJSON, encode_body
from behest_local.offload import off_loop
from behest_local.providers.base import ChatCall
from behest_local.server.body import beside_body, read_json
from behest_local.server.keys import EXCHANGE
from behest_local.server.routes.openai import prepare_chats
from behest_local.server.render import json_response
from behest_local.server.streaming import relay


def bill(exchange: Exchange, replies: list[tuple[ChatCall, dict]]) -> None:
    """The exchange's tokens for its non-streamed replies: each one's usage, else counted."""
    prompt = completion = 0
    for call, reply in replies:
        tokens = reply_usage(call.request["messages"], reply)
        prompt, completion = prompt + tokens[0], completion + tokens[1]
    exchange.usage(prompt, completion)


# -- /v1/completions (legacy) -------------------------------------------------------------

_LARGE_ECHO = 64 * 1024
"""Characters of an echoed prompt past which its stream events are encoded off the loop."""


async def completions(request: web.Request) -> web.StreamResponse:
    body = await read_json(request, legacy.validate_completions_request)
    exchange = request[EXCHANGE]
    completion_id = "cmpl-" + secrets.token_hex(14)
    created = int(time.time())
    # One chat call per prompt (OpenAI answers a list of prompts with one choice set each),
    # the prompts rendered once: picking each from a fresh rendering was quadratic.
    texts = await beside_body(request, legacy.prompts, body)  # token prompts: millions of ids
    calls = prepare_chats(request, (
        validate_chat_request(legacy.to_chat_request(body, index, prompt=text))
        for index, text in enumerate(texts)))
    first = next(calls)
    model = first[1].model
    calls = itertools.chain([first], calls)  # the rest are built one by one, as they run
    if body.get("stream"):
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        frames = _completion_frames(calls, texts, body, exchange, completion_id=completion_id,
                                    created=created, model=model, include_usage=include_usage)
        return await relay(request, frames, terminator=sse.DONE)
    parts, replies = [], []
    for index, (provider, call) in enumerate(calls):
        if index:
            # Up to 2,048 replies in a row, each computed on the loop by the emulated model:
            # let other clients in between them.
            await asyncio.sleep(0)
        completion = await provider.complete(call)
        replies.append((call, completion))
        parts.append(legacy.from_chat_completion(completion, request=body,
                                                 completion_id=completion_id, created=created,
                                                 prompt_index=index, model=model,
                                                 prompt=texts[index]))
    bill(exchange, replies)
    merged = legacy.merge_completions(parts)
    if body.get("echo"):  # the prompts come back: for a large body, encoded beside the loop
        merged = await beside_body(request, _encoded, merged)
    return json_response(merged)


def _encoded(reply: dict) -> EncodedJSON:
    return EncodedJSON(reply, encode_body(reply))


def _event(chunk: dict) -> bytes:
    """``sse.encode_json(chunk)``, the JSON made a piece at a time (``json_text``)."""
    return b"data: " + bytes(encode_body(chunk)) + b"\n\n"


async def _completion_frames(calls, texts: list[str], body: dict, exchange: Exchange, *,
                             completion_id: str, created: int, model: str, include_usage: bool
                             ) -> AsyncIterator[bytes]:
    usages = []
    meter: StreamMeter | None = None
    for index, (provider, call) in enumerate(calls):
        if meter is None:
            meter = StreamMeter(exchange, call.request["messages"])
        else:
            meter.next_stream(call.request["messages"])
            await asyncio.sleep(0)  # as in ``completions``: one prompt at a time
        translator = legacy.CompletionsStreamTranslator(
            request=body, completion_id=completion_id, created=created, model=model,
            prompt_index=index, emit_usage=False, prompt=texts[index])
        # An echoed prompt of MiBs is one event: made beside the loop.
        large = bool(body.get("echo")) and len(texts[index]) > _LARGE_ECHO
        async for chunk in meter.metered(provider.stream(call)):
            for out in translator.feed(chunk):
                yield await off_loop(_event, out) if large else sse.encode_json(out)
        if translator.usage:
            usages.append(translator.usage)
    if usages and include_usage:
        yield sse.encode_json(legacy.usage_chunk(completion_id, created, model,
                                                 legacy.sum_usage(usages)))
