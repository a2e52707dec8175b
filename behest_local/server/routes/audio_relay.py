"""``/v1/audio/*`` relayed to OpenAI: the routes of ``audio.py`` when the key rules send the
model upstream (``routing.keyed``, as images and moderations decide).

Speech goes as the client sent its JSON; its audio comes back piece by piece and each
piece is written as it arrives (``UpstreamProvider.native_bytes``: nothing buffered, a
long text starts playing at once), or, with ``stream_format: "sse"``, event by event
(``native_events``). A transcription or translation is re-sent as the multipart upload it
came as (``providers/form.Form``, encoded by the provider's transport): the file with its
filename and content type, every text field, repeated ones in order. Its answer is relayed
whole with the upstream's ``Content-Type`` (JSON, or ``text``, ``srt``, ``vtt``), or event
by event when ``stream=true``. Upstream errors raise before anything is sent, so the
middleware answers them in OpenAI's shape, as it does chat's.

Usage: what the upstream reports (a transcript's ``usage``, speech's ``speech.audio.done``),
else the units the emulated path records for the same request (``speech.billed`` on the
text's planned duration, ``transcribe`` on the upload's duration), recorded once the
upstream has answered (a refusal is not billed; a stream the client leaves is) and
replaced by what it reports.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from behest_local import sse
from behest_local.errors import GatewayError
from behest_local.exchange.exchange import Exchange
from behest_local.providers.form import Form
from behest_local.server.ending import ENDING, Ending
from behest_local.server.keys import EXCHANGE, GATEWAY
from behest_local.server.render import json_response
from behest_local.server.streaming import relay
from behest_local.sse import EventJSON, SSEEvent

Bill = Callable[[], Awaitable[tuple[int, int]]]
"""The usage to record when the upstream reports none: (input, output) billed units."""


async def relay_speech(request: web.Request, provider: str, body: dict,
                       units: tuple[int, int]) -> web.StreamResponse:
    """``POST /v1/audio/speech`` upstream: ``body`` as the client sent it (validated);
    ``units``, what the emulated voice would bill for it."""
    exchange: Exchange = request[EXCHANGE]
    upstream = request.app[GATEWAY].provider(provider)
    if body.get("stream_format") == "sse":
        events = upstream.native_events("speech", body, {})
        return await relay(request, relayed_events(events, exchange, "speech.audio.done",
                                                   units), terminator=None)
    answer = await upstream.native_bytes("speech", body, {})
    # Recorded once OpenAI has answered (a refusal is not billed) and before the audio, so
    # that a client leaving halfway is billed too: OpenAI reports no usage for it.
    exchange.usage(*units)
    response = web.StreamResponse(headers={"Content-Type": answer.content_type})
    task = asyncio.current_task()
    streams = request.app[GATEWAY].streams
    if task is not None:
        streams.add(task)
    try:
        await response.prepare(request)
        async for piece in answer.chunks:
            exchange.chunk_sent(len(piece))
            await response.write(piece)
        await response.write_eof()
    except GatewayError as error:  # cut or stalled upstream, the head already sent
        # Audio has no error event: the client must see a broken body, not a short file
        # that ends cleanly, so the connection is dropped.
        request[ENDING] = Ending(error.status, error.code, error.message, {"mid_stream": True})
        if request.transport is not None:
            request.transport.abort()
    except ConnectionError:
        request[ENDING] = Ending(499, "client_closed", "client disconnected mid-stream",
                                 cancelled=True)
    finally:
        await answer.chunks.aclose()  # client gone: closes the upstream connection too
        if task is not None:
            streams.discard(task)
    return response


async def relay_transcript(request: web.Request, provider: str, op: str, form: Form,
                           estimate: Bill) -> web.StreamResponse:
    """A transcription or translation (``op``) upstream, the upload re-sent as ``form``."""
    exchange: Exchange = request[EXCHANGE]
    upstream = request.app[GATEWAY].provider(provider)
    if form.streams():
        events = upstream.native_events(op, form, {})
        return await relay(request, relayed_events(events, exchange, "transcript.text.done",
                                                   await estimate()), terminator=None)
    content_type, raw = await upstream.native_body(op, form, {})
    reply = None
    if content_type.split(";", 1)[0].strip().lower() == "application/json":
        try:
            reply = json.loads(raw)
        except ValueError:
            pass  # relayed as it came: the client's SDK says what is wrong with it
    used = billed(reply.get("usage") if isinstance(reply, dict) else None)
    exchange.usage(*(used or await estimate()))
    if isinstance(reply, dict):
        return json_response(EventJSON(reply, raw.decode("utf-8", "replace")))
    return web.Response(body=raw, headers={"Content-Type": content_type})


async def relayed_events(events: AsyncIterator[SSEEvent], exchange: Exchange, final: str,
                         units: tuple[int, int]) -> AsyncIterator[bytes]:
    """The upstream's events as it sent them. ``units`` are recorded with the first (a
    refusal is not billed, a stream the client leaves is), then replaced by the usage of
    the ``final`` event, when it has one (only that event is decoded)."""
    first = True
    try:
        async for event in events:
            if first:
                exchange.usage(*units)
                first = False
            if final in event.data:
                try:
                    used = billed(json.loads(event.data).get("usage"))
                except (ValueError, AttributeError):
                    used = None
                if used is not None:
                    exchange.usage(*used)
            yield sse.encode(event.data, event=None if event.event == "message" else event.event)
    finally:
        await events.aclose()


def billed(usage: object) -> tuple[int, int] | None:
    """(input, output) units from OpenAI's audio ``usage``: seconds for ``duration``, else
    tokens; None when there is none to read."""
    if not isinstance(usage, dict):
        return None
    if usage.get("type") == "duration":
        seconds = usage.get("seconds")
        return (int(seconds + 0.999), 0) if isinstance(seconds, (int, float)) else None
    tokens_in, tokens_out = usage.get("input_tokens"), usage.get("output_tokens")
    if isinstance(tokens_in, int) and isinstance(tokens_out, int):
        return tokens_in, tokens_out
    return None
