"""One keep-alive connection to an upstream: the socket, its parser and its timers.

``HttpPool`` (http.py) opens, pools and hands out ``Connection``s; ``HttpResponse`` reads
through them. A connection runs one request at a time: ``send`` writes the request and
waits for the response's head; the body's pieces queue here as ``http_wire``'s parser
finds them, and readers ``wait`` for the next one. It also owns what can go wrong on the
wire, as the transport's errors (``HttpError`` and its kinds), and two mechanisms:

* the read timeout: one timer per response, moved only when it fires (a read in between
  just notes its time), for the head and for every gap between two reads;
* flow control: past ``PAUSE_BYTES`` unread, reading from the socket pauses until the
  reader has taken most of it, so a slow client of a stream cannot make the gateway
  buffer without bound.

A reader parked in ``wait`` may pass a ``tap``: a piece that arrives while nothing is
queued goes to it first, inside this socket's read callback, and is queued (waking the
reader) only if the tap declines it. That is how a stream event is relayed without
waking the relay's task (``UpstreamProvider.stream``): on a machine whose cores sleep
between events, every layer an event passes through costs it tens of microseconds.
"""

from __future__ import annotations

import asyncio
import zlib
from collections import deque
from collections.abc import Callable
from typing import Protocol

from behest_local.providers.http_wire import ProtocolError, ResponseParser



class Pool(Protocol):
    """What a connection tells the pool that owns it (``http.HttpPool``), declared here so
    the connection does not import the pool that imports it."""

    def _put_idle(self, conn: Connection) -> None: ...

    def _forget(self, conn: Connection) -> None: ...

PAUSE_BYTES = 256 * 1024
"""Unread body bytes at which reading from the upstream pauses (resumed at a quarter)."""
MAX_INFLATE = 16 * 1024 * 1024
"""Most a compressed read may inflate to (one read is at most 256 KiB: 64 to 1, where
JSON and SSE compress about 10 to 1). Past it the response fails: flow control pauses
between reads, so this bounds the memory a compressed body takes in one step (a
"decompression bomb" of 256 KiB would be 256 MiB)."""

class HttpError(Exception):
    """Base of the transport's failures. Messages never contain a URL's query or a header."""


class ConnectError(HttpError):
    """The connection could not be made (refused, unknown host, TLS failure)."""


class ConnectTimeout(HttpError):
    """The connection was not made within the connect timeout."""


class ReadTimeout(HttpError):
    """Nothing arrived for the read timeout: before the head, or between two reads."""


class ConnectionCut(HttpError):
    """The connection closed, or sent bytes that are not HTTP, before the response ended."""


class BodyTooLarge(HttpError):
    """A body read whole (``HttpResponse.read``) is larger than the reader's limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the response body is larger than {limit} bytes")
        self.limit = limit


class Connection(asyncio.Protocol):
    """One socket to an upstream, and the response being read from it."""

    __slots__ = ("pool", "key", "loop", "transport", "parser", "pieces", "unread", "complete",
                 "error", "lost", "paused", "busy", "waiter", "timer", "timeout", "last_read",
                 "idle_since", "decoder", "tap")

    def __init__(self, pool: Pool, key: tuple, loop: asyncio.AbstractEventLoop) -> None:
        self.pool, self.key, self.loop = pool, key, loop
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.parser = ResponseParser(self)
        self.pieces: deque[bytes] = deque()
        self.unread = 0
        self.complete = False
        self.error: HttpError | None = None
        self.lost = self.paused = self.busy = False
        self.waiter: asyncio.Future | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.timeout: float | None = None
        self.last_read = self.idle_since = 0.0
        self.decoder = None
        self.tap: Callable[[bytes], bool] | None = None

    # -- driven by HttpPool / HttpResponse -------------------------------------------------

    async def send(self, message: bytes, *, head_request: bool, timeout: float | None) -> None:
        self.parser.expect(head_request=head_request)  # first: ``received`` is this request's
        if self.lost or self.transport.is_closing():
            raise ConnectionCut("the connection was closed")
        self.pieces.clear()
        self.unread, self.complete, self.error, self.decoder = 0, False, None, None
        self.busy = True
        self.timeout = timeout
        self.last_read = self.loop.time()
        if timeout is not None:
            self.timer = self.loop.call_at(self.last_read + timeout, self._check_timeout)
        self.transport.write(message)
        try:
            while not self.parser.started:
                await self.wait()
        except HttpError:
            if not self.parser.started:
                raise
            # The head came, and the body failed in the same read (a decompression bomb,
            # a bad chunk): the reader of the body meets the error, named as the body's.

    async def wait(self, tap: Callable[[bytes], bool] | None = None) -> None:
        """Until something arrives (a head, a piece, the end) or the response fails.

        Meanwhile ``tap`` (if given) is offered each body piece that arrives while none is
        queued; it returns True when it has dealt with the piece, which then neither
        queues nor ends the wait. It runs in the read callback: it must not block, and
        should not raise (an exception there closes the connection)."""
        if self.error is not None:
            raise self.error
        self.waiter = self.loop.create_future()
        self.tap = tap
        try:
            await self.waiter
        finally:
            self.waiter = None
            self.tap = None
        if self.error is not None:
            raise self.error

    def take(self) -> bytes:
        piece = self.pieces.popleft()
        self.unread -= len(piece)
        if self.paused and self.unread <= PAUSE_BYTES // 4:
            self.paused = False
            self.transport.resume_reading()
        return piece

    def release(self) -> None:
        self._stop_timer()
        self.busy = False
        if self.paused:
            self.paused = False
            self.transport.resume_reading()
        if self.complete and self.parser.keep_alive and not self.lost and self.error is None:
            self.pool._put_idle(self)
        else:
            self.close()

    def close(self) -> None:
        self._stop_timer()
        self.lost = True
        if self.transport is not None:
            self.transport.close()
        self.pool._forget(self)

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if not self.busy:  # bytes on an idle connection (a 408 before closing): not reusable
            self.close()
            return
        self.last_read = self.loop.time()
        try:
            self.parser.feed(data)
        except ProtocolError as exc:
            self._fail(ConnectionCut(f"the upstream sent a malformed response: {exc}"))

    def eof_received(self) -> bool:
        try:
            self.parser.feed_eof()
        except ProtocolError as exc:
            self._fail(ConnectionCut(str(exc)))
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self.busy and not self.complete and self.error is None:
            cause = f": {describe(exc)}" if exc else ""
            self._fail(ConnectionCut(f"the connection was closed before the response ended{cause}"))
        self._stop_timer()
        self.pool._forget(self)

    # -- ResponseParser's sink -------------------------------------------------------------

    def on_head(self) -> None:
        coding = self.parser.headers.get("Content-Encoding", "").strip().lower()
        if coding in ("gzip", "x-gzip", "deflate"):
            self.decoder = zlib.decompressobj(wbits=47)  # 32 + 15: zlib or gzip header
        elif coding not in ("", "identity"):
            raise ProtocolError(f"unsupported Content-Encoding {coding[:40]!r}")
        self._wake()

    def on_body(self, piece: bytes) -> None:
        if not piece:  # never queued: HttpResponse.take's b"" means the end of the body
            return
        if self.decoder is not None:
            try:
                piece = self.decoder.decompress(piece, MAX_INFLATE)
            except zlib.error as exc:
                raise ProtocolError(f"the body does not decompress: {exc}") from None
            if self.decoder.unconsumed_tail:
                raise ProtocolError(f"its compressed body inflates past {MAX_INFLATE} bytes "
                                    "from one read")
            if not piece:
                return
        tap = self.tap
        if tap is not None and not self.pieces and tap(piece):
            return
        self.pieces.append(piece)
        self.unread += len(piece)
        if self.unread > PAUSE_BYTES and not self.paused:
            self.paused = True
            self.transport.pause_reading()
        self._wake()

    def on_complete(self) -> None:
        if self.decoder is not None:
            rest = self.decoder.flush()
            if rest:
                self.pieces.append(rest)
                self.unread += len(rest)
        self.complete = True
        self._stop_timer()
        self._wake()

    # -- internals -------------------------------------------------------------------------

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, error: HttpError) -> None:
        if self.error is None and not self.complete:
            self.error = error
        self._wake()
        self.close()

    def _stop_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _check_timeout(self) -> None:
        # One timer per response, moved only when it fires: a read in between just
        # updates ``last_read`` (cheaper than re-arming a timer on every read).
        self.timer = None
        if self.complete or self.timeout is None:
            return
        now = self.loop.time()
        due = self.last_read + self.timeout
        if self.paused:  # the reader is behind: the upstream is not the one waiting
            due = now + self.timeout
        if now >= due - 0.001:
            self._fail(ReadTimeout(f"nothing received for {self.timeout:g} s"))
        else:
            self.timer = self.loop.call_at(due, self._check_timeout)


def describe(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return text.split("?", 1)[0][:200]
