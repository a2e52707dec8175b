"""Relaying a stream to the client, event by event, never buffered.

``relay`` pulls the first event before sending headers, so a failure before the first
byte (an upstream 429, say) is still a proper HTTP error. After that, each SSE event is
written with its own ``write`` as soon as it exists and recorded on the exchange
(``chunk_sent``: its time appended; subscribers hear of it a few times a second, as
``ChunkSent``). A failure mid-stream becomes a final OpenAI-format error event and a
clean close; an emulated drop aborts the connection; a client that goes away stops the
upstream at once (closing its generator cancels the upstream request). The relay ends
no exchange itself: a stream that did not end well leaves its ``Ending`` on the request
(``server/ending.py``) and the gateway middleware ends the exchange once the relay
returns (or re-raises a cancellation).

Every event, whichever task has it, takes one path: ``EventWriter.send`` (capture,
write, count; ``send_chunk`` frames a chat chunk and meters it around that). The relay's
loop calls it and, only when the client is behind, waits for it to drain. After the
first event, a provider's events need not wake this task at all: the ``EventWriter``,
handed to the provider as ``ChatCall.sink``, takes them in the upstream socket's read
callback (``UpstreamProvider.stream`` says how, and that order holds). It is armed once
the head is out, and is not ready while the client's write buffer is past
``DIRECT_LIMIT`` or the client is gone: those reads come here, where the loop waits for
the client to drain (flow control) or finds it gone. The loop runs once per event of
every stream, so it does nothing else.

What the read-callback path buys, measured for issue 25 (2026-12-07, 2-core AMD EPYC VM,
load average ~7 from other work) against the same build with no sink given (every event
through this task): bench d at 128 streams, eight interleaved pairs, CPU per relayed event
51 µs with it against 57.5 without (medians; 1.24× and 1.45× the bare proxy's in the same
runs; higher without it in 7 of the 8 pairs); c's added p50 +0.20 to +0.25 ms with it
(bare +0.20 to +0.23), +0.24 without (bare +0.19, +0.21).

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
from behest_local.server.ending import ENDING, Ending
from behest_local.server.keys import EXCHANGE, GATEWAY

log = logging.getLogger("behest_local.server")

SSE_HEADERS = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache, no-transform",
    "X-Accel-Buffering": "no",
}


DIRECT_LIMIT = 0x10000
"""Bytes waiting in the client's transport beyond which ``EventWriter`` is not ready for
the read callback, and the relay's task waits for the client to drain (the limit past
which aiohttp's own ``write`` would wait)."""


class EventWriter:
    """A stream's events on their way to the client: ``send`` is the one path every
    event takes (capture, write, count; ``send_chunk`` frames and meters a chunk around
    it), whether the relay's task has the event or the upstream's read callback does.

    Given to the provider as ``ChatCall.sink`` (``providers.base.ChunkSink``: ``ready``,
    and ``__call__``, which is ``send_chunk``), it takes chunks there too. Armed once
    the response's head is out; ready for the read callback only while armed and the
    client keeps up. ``framer`` (``routes/openai.ChatFramer``) turns chunks into frames
    and meters them; without one, the events are frames already."""

    __slots__ = ("frame", "count", "capture", "sent", "transport", "chunked")

    def __init__(self, framer=None) -> None:
        self.frame = framer.frame if framer is not None else None
        self.count = framer.count if framer is not None else None
        self.capture = self.sent = self.transport = None
        self.chunked = False

    def arm(self, request: web.Request, exchange: Exchange) -> None:
        """After ``prepare``: the head goes out now, so every event after it is one write
        of its own (one HTTP chunk) under it."""
        writer = request.writer
        writer.send_headers()  # aiohttp holds it for the first write, which is ours
        # The framing aiohttp chose for this response (HTTP/1.1: chunked, RFC 9112 §7.1).
        self.chunked = writer.chunked
        # Attached as the head went out (app.prepare_response): fixed from here on.
        self.capture, self.sent = exchange.capture, exchange.chunk_sent
        self.transport = request.transport

    def disarm(self) -> None:
        self.transport = None

    def ready(self) -> bool:
        transport = self.transport
        return (transport is not None and not transport.is_closing()
                and transport.get_write_buffer_size() <= DIRECT_LIMIT)

    def send(self, frame: bytes) -> None:
        """Write one SSE event (``frame``) to the client: recorded in the capture before
        the write (its arrival), counted on the exchange after it (its departure).
        Raises ``ConnectionResetError`` once the client has gone."""
        transport = self.transport
        if transport is None or transport.is_closing():
            raise ConnectionResetError("the client has gone")
        capture = self.capture
        if capture is not None:
            capture.frame(frame)
        transport.write(b"%x\r\n%b\r\n" % (len(frame), frame) if self.chunked else frame)
        self.sent(len(frame))

    def send_chunk(self, chunk: dict) -> None:
        """``chunk`` framed and sent, then metered (after the write: counting never
        delays an event); a chunk that frames to nothing (a usage chunk the client did
        not ask for) is neither."""
        frame = self.frame(chunk)
        if frame is not None:
            self.send(frame)
            count = self.count
            if count is not None:
                count(chunk)

    __call__ = send_chunk  # as the provider's sink (its own name: tests count its calls)


def error_event(error: GatewayError) -> bytes:
    """The in-stream error OpenAI sends once the status line has already said 200."""
    return sse.encode_json(error.to_openai())


async def relay(request: web.Request, events: AsyncIterator, *, terminator: bytes | None,
                on_error=error_event, writer: EventWriter | None = None
                ) -> web.StreamResponse:
    """Stream ``events`` to the client; a stream that does not end well leaves its
    ``Ending`` on the request for the gateway middleware, which ends the exchange.

    Args:
        events: one item per event, produced as the upstream delivers: chunks to frame
            when ``writer`` has a framer, else SSE-encoded frames.
        terminator: sent after the last event (``data: [DONE]``), or None.
        on_error: encodes a mid-stream ``GatewayError`` as the final event(s).
        writer: the stream's ``EventWriter`` (one without a framer by default), armed
            once the head is out and disarmed when the relay ends; the provider may have
            it as its sink.
    """
    exchange: Exchange = request[EXCHANGE]
    gateway = request.app[GATEWAY]
    if writer is None:
        writer = EventWriter()
    iterator = aiter(events)
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
    ending: Ending | None = None
    try:
        await response.prepare(request)
        writer.arm(request, exchange)
        if first is not None:
            put = writer.send if writer.frame is None else writer.send_chunk
            put(first)
            transport, drain = writer.transport, request.writer.drain
            async for event in iterator:  # once per event of every stream: nothing else
                put(event)
                if transport.get_write_buffer_size() > DIRECT_LIMIT:
                    await drain()  # flow control: waits while the client is behind
        if terminator is not None:
            writer.send(terminator)
        await response.write_eof()
    except GatewayError as error:
        ending = Ending(error.status, error.code, error.message, {"mid_stream": True})
        await _close_with(response, writer, exchange, on_error(error))
    except StreamDropped as drop:
        ending = Ending(200, "stream_dropped", str(drop))
        if request.transport is not None:
            request.transport.abort()  # no terminating chunk: the client sees a broken stream
    except (ConnectionResetError, ConnectionError):
        ending = Ending(499, "client_closed", "client disconnected mid-stream", cancelled=True)
    except asyncio.CancelledError:
        closing = gateway.closing
        request[ENDING] = Ending(503 if closing else 499, "cancelled", "gateway shutting down"
                                 if closing else "client disconnected", cancelled=not closing)
        if closing:
            # In the route's own shape (``on_error``), as any mid-stream failure.
            await _close_with(response, writer, exchange, on_error(GatewayError(
                "behest-local is shutting down; the stream was closed.", status=503,
                code="shutting_down")), quiet=True)
        raise
    finally:
        writer.disarm()
        if task is not None:
            gateway.streams.discard(task)
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()
    if ending is not None:
        request[ENDING] = ending
    return response


async def _close_with(response: web.StreamResponse, writer: EventWriter, exchange: Exchange,
                      frame: bytes, quiet: bool = False) -> None:
    try:
        writer.send(frame)
        await response.write_eof()
    except (ConnectionError, RuntimeError):
        if not quiet:
            log.debug("client gone before the final error event of %s", exchange.id)
