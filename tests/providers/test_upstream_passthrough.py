"""A non-streamed OpenAI-compatible reply that needs no repair reaches the client as sent.

``UpstreamProvider.complete`` returns it as an ``sse.EventJSON`` holding the upstream's
text, and ``render.json_response`` sends that text instead of encoding the object again;
a reply that needs repair is translated and encoded as before.
"""

from __future__ import annotations

import json

from aiohttp import web

from behest_local.config import ProviderConfig
from behest_local.providers.base import ChatCall
from behest_local.providers.http import HttpPool
from behest_local.providers.registry import ADAPTERS
from behest_local.providers.upstream import UpstreamProvider
from behest_local.server.render import json_response
from behest_local.sse import EventJSON

PLAIN = ('{"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m", '
         '"choices": [{"index": 0, "message": {"role": "assistant", "content": "h\\u00e9"}, '
         '"logprobs": null, "finish_reason": "stop"}], '
         '"usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}}')


async def _complete(aiohttp_server, body: bytes, content_type: str) -> dict:
    async def chat(request: web.Request) -> web.Response:
        return web.Response(body=body, headers={"Content-Type": content_type})

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    server = await aiohttp_server(app)
    pool = HttpPool()
    provider = UpstreamProvider("local", ADAPTERS["custom"], pool=pool,
                                key_for=lambda name: None,
                                config=ProviderConfig(base_url=str(server.make_url("/v1"))))
    try:
        return await provider.complete(ChatCall(
            request={"model": "m", "messages": [{"role": "user", "content": "hi"}]}, model="m"))
    finally:
        await pool.close()


async def test_a_reply_needing_no_repair_is_sent_as_the_upstream_wrote_it(aiohttp_server):
    reply = await _complete(aiohttp_server, b"\n" + PLAIN.encode() + b" \n", "application/json")
    assert type(reply) is EventJSON and reply == json.loads(PLAIN)
    assert json_response(reply).body == PLAIN.encode()


async def test_a_reply_needing_repair_is_translated_and_encoded(aiohttp_server):
    native = json.loads(PLAIN)
    native["choices"][0]["finish_reason"] = "model_length"
    del native["usage"]["total_tokens"]
    reply = await _complete(aiohttp_server, json.dumps(native).encode(), "application/json")
    assert type(reply) is dict
    assert reply["choices"][0]["finish_reason"] == "length"
    assert reply["usage"]["total_tokens"] == 3
    assert json.loads(json_response(reply).body) == reply


async def test_a_declared_charset_is_honoured(aiohttp_server):
    reply = await _complete(aiohttp_server, PLAIN.encode("utf-16"),
                            "application/json; charset=utf-16")
    assert reply == json.loads(PLAIN)
    assert json.loads(json_response(reply).body) == json.loads(PLAIN)
