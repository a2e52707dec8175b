"""A minimal HTTP/1.1 client on an ``asyncio.Protocol``, so every TCP read is visible.

Two things need a client this bare. Scenario c must show that no two upstream events were
merged into one write: a library client hands back re-assembled data, while here each
``data_received`` call is one read from the socket, and each ``Transfer-Encoding: chunked``
chunk is one ``write`` of the server (aiohttp frames every ``StreamResponse.write`` as its
own chunk). And at 1,000 concurrent streams the client must stay cheap, or its own delays
would be counted as the gateway's stalls.

``ReplyParser`` reads one response incrementally, one ``feed`` per TCP read. For every
event carrying the fake upstream's ``#seq:time_ns;`` stamp it records when its last byte
arrived (``time.time_ns()`` at the read, the upstream's clock: same machine), and how
many stamped events each read and each HTTP chunk completed; for every SSE event, stamped
or not, when it arrived. ``RawConnection`` parses
live on a keep-alive connection (sequential requests); ``StreamRecorder`` only records
``(time, bytes)`` per read while a stream runs and parses afterwards, which keeps the
client cheap at 1,000 concurrent streams.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field

STAMP = re.compile(rb"#(\d+):(\d+);")


@dataclass
class Reply:
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytearray = field(default_factory=bytearray)
    sent_ns: int = 0
    head_ns: int = 0
    """When the status line and headers had arrived."""
    end_ns: int = 0
    events: list[tuple[int, int, int]] = field(default_factory=list)
    """Stamped events: (seq, upstream send time_ns, arrival time_ns)."""
    arrivals: list[int] = field(default_factory=list)
    """Arrival time_ns of every SSE event, stamped or not (the emulated model's are not)."""
    reads: int = 0
    max_events_per_read: int = 0
    merged_reads: int = 0
    """Reads that completed more than one stamped event."""
    chunks: int = 0
    max_events_per_chunk: int = 0
    merged_chunks: int = 0
    """HTTP chunks (server writes) that carried more than one stamped event."""


class ReplyParser:
    """Incremental parser of one response; ``feed(data, now)`` once per TCP read."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.done = False
        self._buf = bytearray()
        self._state = "head"
        self._length = 0  # body bytes expected (content-length) or left in this chunk
        self._chunk_events = 0
        self._sse = bytearray()

    def eof(self) -> None:
        """The connection closed: the end of an ``until-eof`` body, else an error."""
        if not self.done:
            if self._state != "until-eof":
                raise ConnectionError(f"connection closed while reading the {self._state}")
            self._finish(self.reply.end_ns or time.time_ns())

    # -- parsing ---------------------------------------------------------------------

    def feed(self, data: bytes, now: int) -> None:
        reply = self.reply
        reply.reads += 1
        reply.end_ns = now
        self._buf += data
        completed = 0
        while self._buf and not self.done:
            if self._state == "head":
                if not self._parse_head(now):
                    break
            elif self._state == "length":
                take = bytes(self._buf[:self._length])
                del self._buf[:len(take)]
                self._length -= len(take)
                completed += self._body(take, now)
                if self._length == 0:
                    self._finish(now)
            elif self._state == "until-eof":
                completed += self._body(bytes(self._buf), now)
                self._buf.clear()
            else:
                ok, n = self._parse_chunk(now)
                completed += n
                if not ok:
                    break
        if completed:
            reply.max_events_per_read = max(reply.max_events_per_read, completed)
            if completed > 1:
                reply.merged_reads += 1

    def _parse_head(self, now: int) -> bool:
        end = self._buf.find(b"\r\n\r\n")
        if end < 0:
            return False
        head = bytes(self._buf[:end]).decode("latin-1").split("\r\n")
        del self._buf[:end + 4]
        reply = self.reply
        reply.status = int(head[0].split()[1])
        reply.head_ns = now
        for line in head[1:]:
            name, _, value = line.partition(":")
            reply.headers[name.strip().lower()] = value.strip()
        if reply.headers.get("transfer-encoding", "").lower() == "chunked":
            self._state, self._length = "chunk-size", 0
        elif "content-length" in reply.headers:
            self._state, self._length = "length", int(reply.headers["content-length"])
            if self._length == 0:
                self._finish(now)
        else:
            self._state = "until-eof"
        return True

    def _parse_chunk(self, now: int) -> tuple[bool, int]:
        """One step of chunked decoding; (made progress, stamped events completed)."""
        if self._state == "chunk-size":
            end = self._buf.find(b"\r\n")
            if end < 0:
                return False, 0
            self._length = int(bytes(self._buf[:end]).split(b";")[0], 16)
            del self._buf[:end + 2]
            self._chunk_events = 0
            self._state = "chunk-data" if self._length else "trailer"
            return True, 0
        if self._state == "chunk-data":
            take = bytes(self._buf[:self._length])
            del self._buf[:len(take)]
            self._length -= len(take)
            completed = self._body(take, now)
            self._chunk_events += len(STAMP.findall(take))
            if self._length == 0:
                self._state = "chunk-end"
                reply = self.reply
                reply.chunks += 1
                reply.max_events_per_chunk = max(reply.max_events_per_chunk, self._chunk_events)
                if self._chunk_events > 1:
                    reply.merged_chunks += 1
            return bool(take), completed
        if len(self._buf) < 2:  # the CRLF after a chunk's data, or ending the trailer
            return False, 0
        del self._buf[:2]
        if self._state == "trailer":
            self._finish(now)
        else:
            self._state = "chunk-size"
        return True, 0

    def _body(self, data: bytes, now: int) -> int:
        """Append body bytes; stamped SSE events completed by them get arrival ``now``."""
        reply = self.reply
        reply.body += data
        if not reply.headers.get("content-type", "").startswith("text/event-stream"):
            return 0
        self._sse += data
        end = self._sse.rfind(b"\n\n")
        if end < 0:
            return 0
        complete = bytes(self._sse[:end + 2])
        del self._sse[:end + 2]
        reply.arrivals += [now] * complete.count(b"\n\n")
        stamps = STAMP.findall(complete)
        for seq, sent in stamps:
            reply.events.append((int(seq), int(sent), now))
        return len(stamps)

    def _finish(self, now: int) -> None:
        self.reply.end_ns = now
        self._state = "idle"
        self.done = True


class RawConnection(asyncio.Protocol):
    """One keep-alive connection, parsed live; ``request`` may be awaited again once it
    returned. For non-streamed requests (scenario b)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._parser: ReplyParser | None = None
        self._done: asyncio.Future | None = None

    @classmethod
    async def open(cls, host: str, port: int) -> RawConnection:
        _, protocol = await asyncio.get_running_loop().create_connection(cls, host, port)
        return protocol

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        parser = self._parser
        if parser is None or self._done is None or self._done.done():
            return
        try:
            parser.feed(data, time.time_ns())
        except (ValueError, IndexError) as exc:
            self._done.set_exception(ConnectionError(f"unparseable response: {exc}"))
            return
        if parser.done:
            self._done.set_result(parser.reply)

    def connection_lost(self, exc) -> None:
        if self._done is not None and not self._done.done():
            try:
                self._parser.eof()
                self._done.set_result(self._parser.reply)
            except ConnectionError as error:
                self._done.set_exception(error)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    async def request(self, method: str, path: str, *, host: str, headers: dict[str, str],
                      body: bytes = b"") -> Reply:
        reply = Reply(sent_ns=time.time_ns())
        self._parser = ReplyParser(reply)
        self._done = asyncio.get_running_loop().create_future()
        self.transport.write(encode_request(method, path, host, headers, body))
        return await self._done


class StreamRecorder(asyncio.Protocol):
    """One request on a ``Connection: close`` connection whose reads are only recorded
    (time, bytes) while it runs and parsed afterwards (``Reply`` via ``ReplyParser``): the
    cheapest client there is, for many concurrent streams."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.reads: list[tuple[int, bytes]] = []
        self.closed: asyncio.Future = asyncio.get_running_loop().create_future()
        self.sent_ns = 0

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.reads.append((time.time_ns(), data))

    def connection_lost(self, exc) -> None:
        if not self.closed.done():
            self.closed.set_result(None)

    def send(self, method: str, path: str, *, host: str, headers: dict[str, str],
             body: bytes) -> None:
        self.sent_ns = time.time_ns()
        self.transport.write(encode_request(method, path, host,
                                            {**headers, "Connection": "close"}, body))

    def reply(self) -> Reply:
        """Parse what was recorded; raises ``ConnectionError`` for a cut-off response."""
        parser = ReplyParser(Reply(sent_ns=self.sent_ns))
        for now, data in self.reads:
            parser.feed(data, now)
        parser.eof()
        return parser.reply


def encode_request(method: str, path: str, host: str, headers: dict[str, str],
                   body: bytes) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body
