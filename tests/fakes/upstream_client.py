"""The upstream round trip the gateway's relay will make, in a dozen lines, for tests.

``exchange`` does what the lead's ``providers/upstream.py`` is meant to do with an
``Adapter``: build the native request, POST it, map an error status, and either translate
the JSON or feed the SSE body, read as it arrives, through ``SSEDecoder`` and the adapter's
stream translator. A connection cut mid-body surfaces as aiohttp's ``ClientPayloadError``.
"""

from __future__ import annotations

import aiohttp

from behest_local.providers.base import ChatCall
from behest_local.providers.registry import ADAPTERS
from behest_local.sse import SSEDecoder


async def exchange(session: aiohttp.ClientSession, provider: str, payload, key: str,
                   base_url: str, op: str = "chat") -> dict | list[dict]:
    adapter = ADAPTERS[provider]
    up = adapter.request(op, payload, key, base_url=base_url)
    async with session.request(up.method, up.url, headers=up.headers, json=up.json) as resp:
        if resp.status >= 400:
            raise adapter.error(resp.status, await resp.read(), resp.headers, key=key)
        if not (isinstance(payload, ChatCall) and payload.request.get("stream")):
            return adapter.from_native(op, await resp.json(), payload)
        translator, decoder, chunks = adapter.translator(payload), SSEDecoder(), []
        async for data in resp.content.iter_any():
            for event in decoder.feed(data):
                chunks += translator.feed(event)
        decoder.close()
        return chunks + translator.finish()
