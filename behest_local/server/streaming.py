"""Relaying a stream to the client, event by event, never buffered.

``relay`` pulls the first event before sending headers, so a failure before the first
byte (an upstream 429, say) is still a proper HTTP error. After that, each SSE event is
written with its own ``write`` call as soon as it exists and recorded on the exchange
(``chunk_sent``: its time appended; subscribers hear of it a few times a second, as
``ChunkSent``). The loop runs once per event of every stream, so it does nothing else.
A failure mid-stream becomes a final OpenAI-format error event and a clean close; an
emulated drop aborts the connection; a client that goes away stops the upstream at once
(closing its generator cancels the upstream request).

After the first event, a provider's events need not wake this task: ``DirectWriter``,
handed to the provider as ``ChatCall.sink``, writes them from the upstream socket's read
callback (``UpstreamProvider.stream`` says how, and that order holds). It is armed once
the head and the first event are out, and is not ready while the client's write buffer
is past ``DIRECT_LIMIT`` or the client is gone: those reads come here, where ``write``
waits for the client to drain (flow control) or finds it gone.

SSE headers: ``text/event-stream`` (WHATWG HTML §9.2), ``Cache-Control: no-cache,
no-transform`` so intermediaries neither cache nor compress (RFC 9111 §5.2.2.6), and
``X-Accel-Buffering: no``, which turns off nginx's proxy buffering for this response. No
``Connection`` header of our own: aiohttp writes the one it acts on (``close`` when the
client asked for it or speaks HTTP/1.0, where the stream ends with the connection; RFC
9112 §9.3, §9.6), where a fixed ``keep-alive`` would claim the opposite.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from behest_local import sse
from behest_local.errors import GatewayError, StreamDropped
from behest_local.exchange.exchange import Exchange
from behest_local.server.keys import EXCHANGE, GATEWAY

log = logging.getLogger("behest_local.server")

SSE_HEADERS = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache, no-transform",
    "X-Accel-Buffering": "no",
}


DIRECT_LIMIT = 0x10000
"""Bytes waiting in the client's transport beyond which ``DirectWriter`` is not ready
(the limit past which aiohttp's own ``write`` waits for a drain)."""


class DirectWriter:
    """A stream's ``ChatCall.sink`` (``providers.base.ChunkSink``): frames a chunk
    (``openai_routes.ChatFramer``) and writes it to the client at once, as ``relay``'s
    loop would have. Ready only while armed and the client keeps up."""

    __slots__ = ("framer", "exchange", "transport", "chunked")

    def __init__(self, framer) -> None:
        self.framer = framer
        self.exchange: Exchange | None = None
        self.transport: asyncio.Transport | None = None
        self.chunked = False

    def arm(self, request: web.Request, exchange: Exchange) -> None:
        """After the response's head has been written: the writes below go under it."""
        self.exchange, self.transport = exchange, request.transport
        # The framing aiohttp chose for this response (HTTP/1.1: chunked, RFC 9112 §7.1).
        self.chunked = request.writer.chunked

    def disarm(self) -> None:
        self.transport = None

    def ready(self) -> bool:
        transport = self.transport
        return (transport is not None and not transport.is_closing()
                and transport.get_write_buffer_size() <= DIRECT_LIMIT)

    def __call__(self, chunk: dict) -> None:
        frame = self.framer.frame(chunk)
        if frame is None:
            return
        exchange = self.exchange
        if exchange.capture is not None:
            exchange.capture.frame(frame)
        self.transport.write(b"%x\r\n%b\r\n" % (len(frame), frame) if self.chunked
                             else frame)
        exchange.chunk_sent(len(frame))
        count = self.framer.count
        if count is not None:
            count(chunk)


def error_event(error: GatewayError) -> bytes:
    """The in-stream error OpenAI sends once the status line has already said 200."""
    return sse.encode_json(error.to_openai())


async def relay(request: web.Request, frames: AsyncIterator[bytes], *,
                terminator: bytes | None, on_error=error_event,
                direct: DirectWriter | None = None) -> web.StreamResponse:
    """Stream ``frames`` (already SSE-encoded) to the client.

    Args:
        frames: one encoded SSE event per item, produced as the upstream delivers.
        terminator: sent after the last frame (``data: [DONE]``), or None.
        on_error: encodes a mid-stream ``GatewayError`` as the final event(s).
        direct: the sink ``frames``' provider may send events through instead (armed
            after the first event, disarmed when the relay ends).
    """
    exchange: Exchange = request[EXCHANGE]
    gateway = request.app[GATEWAY]
    iterator = aiter(frames)
    # Errors here propagate to the middleware: nothing is sent yet, so they get a status.
    waiting = exchange.now()
    first = await anext(iterator, None)
    exchange.provider_waited(exchange.now() - waiting)  # Server-Timing's "provider" part
    # Never compressed: a compressor holds events back until its window fills. aiohttp
    # compresses only when enable_compression() is called, which nothing here does.
    response = web.StreamResponse(status=200, headers=SSE_HEADERS)
    task = asyncio.current_task()
    if task is not None:
        gateway.streams.add(task)
    try:
        await response.prepare(request)
        if first is not None:
            await _send(response, exchange, first)
            if direct is not None:
                direct.arm(request, exchange)
            # _send, inlined: this loop runs once per event of every stream.
            capture, write, sent = exchange.capture, response.write, exchange.chunk_sent
            async for frame in iterator:
                if capture is not None:
                    capture.frame(frame)
                await write(frame)
                sent(len(frame))
        if terminator is not None:
            await _send(response, exchange, terminator)
        await response.write_eof()
        exchange.finish(200)
    except GatewayError as error:
        exchange.fail(error.status, code=error.code, message=error.message,
                      details={"mid_stream": True})
        await _close_with(response, exchange, on_error(error))
    except StreamDropped as drop:
        exchange.fail(200, code="stream_dropped", message=str(drop))
        if request.transport is not None:
            request.transport.abort()  # no terminating chunk: the client sees a broken stream
    except (ConnectionResetError, ConnectionError):
        exchange.fail(499, code="client_closed", message="client disconnected mid-stream",
                      cancelled=True)
    except asyncio.CancelledError:
        reason = "gateway shutting down" if gateway.closing else "client disconnected"
        exchange.fail(499 if not gateway.closing else 503, code="cancelled", message=reason,
                      cancelled=not gateway.closing)
        if gateway.closing:
            await _close_with(response, exchange, error_event(GatewayError(
                "behest-local is shutting down; the stream was closed.", status=503,
                code="shutting_down")), quiet=True)
        raise
    finally:
        if direct is not None:
            direct.disarm()
        if task is not None:
            gateway.streams.discard(task)
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()
    return response


async def _send(response: web.StreamResponse, exchange: Exchange, frame: bytes) -> None:
    if exchange.capture is not None:  # before the write: its arrival, not its departure
        exchange.capture.frame(frame)
    await response.write(frame)
    exchange.chunk_sent(len(frame))


async def _close_with(response: web.StreamResponse, exchange: Exchange, frame: bytes,
                      quiet: bool = False) -> None:
    try:
        await _send(response, exchange, frame)
        await response.write_eof()
    except (ConnectionError, RuntimeError):
        if not quiet:
            log.debug("client gone before the final error event of %s", exchange.id)
