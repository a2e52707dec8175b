"""``/v1/audio/*``: OpenAI's audio routes, answered by the emulated voice and ear.

``POST /v1/audio/speech`` (JSON in, audio out) validates with
``providers/emulated/speech.py``, records the routing decision on the exchange, and
streams the audio as it is rendered: each word's samples are made beside the event loop
(``offload.off_loop``) and written as soon as they are ready, so a long text starts
playing at once. ``stream_format: "sse"`` sends the same bytes as base64
``speech.audio.delta`` events and a closing ``speech.audio.done``. Authentication, limits
and the exchange's end are the gateway middleware's, as for every route.
"""

from __future__ import annotations

import asyncio
import base64

from aiohttp import web

from behest_local import sse
from behest_local.errors import InvalidRequestError
from behest_local.exchange.exchange import Exchange
from behest_local.offload import off_loop
from behest_local.policy import routing
from behest_local.providers.emulated import speech
from behest_local.providers.tokens import count_tokens
from behest_local.server.body import read_json
from behest_local.server.keys import EXCHANGE, GATEWAY

_EMULATED_REASON = "audio is answered by the emulated voice"


def setup_audio_routes(app: web.Application) -> None:
    app.router.add_post("/v1/audio/speech", create_speech)


async def create_speech(request: web.Request) -> web.StreamResponse:
    """``POST /v1/audio/speech``."""
    body = await read_json(request, speech.validate_speech_request)
    fmt = body["response_format"]
    if fmt not in speech.PRODUCED:
        raise InvalidRequestError(
            f"The emulated voice cannot write response_format {fmt!r} yet; it writes "
            f"{', '.join(speech.PRODUCED)}.", param="response_format",
            code="unsupported_response_format")
    exchange: Exchange = request[EXCHANGE]
    sse_out = body["stream_format"] == "sse"
    exchange.routed(requested_model=body["model"], model=body["model"],
                    provider=routing.EMULATED, reason=_EMULATED_REASON, stream=sse_out)
    exchange.upstream_started()
    said = await off_loop(speech.plan, body["input"], body["voice"], body["speed"])
    chunks = speech.speech_chunks(said, fmt)
    if sse_out:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                               "Cache-Control": "no-cache"})
    else:
        response = web.StreamResponse(headers={"Content-Type": speech.CONTENT_TYPES[fmt]})
        response.content_length = (said.samples * 2 + (44 if fmt == "wav" else 0))
    task = asyncio.current_task()
    streams = request.app[GATEWAY].streams
    if task is not None:
        streams.add(task)
    try:
        await response.prepare(request)
        while (chunk := await off_loop(next, chunks, None)) is not None:
            if sse_out:
                chunk = sse.encode_json({"type": "speech.audio.delta",
                                         "audio": base64.b64encode(chunk).decode()})
            exchange.chunk_sent(len(chunk))
            await response.write(chunk)
        if sse_out:
            text_in, audio_out = count_tokens(body["input"]), speech.audio_tokens(said.seconds)
            await response.write(sse.encode_json({
                "type": "speech.audio.done",
                "usage": {"input_tokens": text_in, "output_tokens": audio_out,
                          "total_tokens": text_in + audio_out}}))
        await response.write_eof()
    finally:
        if task is not None:
            streams.discard(task)
    return response
