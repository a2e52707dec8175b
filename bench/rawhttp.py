"""A minimal HTTP/1.1 client on an ``asyncio.Protocol``, so every TCP read is visible.

Two things need a client this bare. Scenario c must show that no two upstream events were
merged into one write: a library client hands back re-assembled data, while here each
``data_received`` call is one read from the socket, and each ``Transfer-Encoding: chunked``
chunk is one ``write`` of the server (aiohttp frames every ``StreamResponse.write`` as its
own chunk). And at 1,000 concurrent streams the client must stay cheap, or its own delays
would be counted as the gateway's stalls.

One ``RawConnection`` carries requests one after another (keep-alive). ``request()``
returns a ``Reply``; for a stream it also records, per event carrying the fake upstream's
``#seq:time_ns;`` stamp, the time its last byte arrived (``time.time_ns()`` at the read,
on the upstream's clock: same machine), and how many stamped events each read and each
HTTP chunk completed.
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
    reads: int = 0
    max_events_per_read: int = 0
    merged_reads: int = 0
    """Reads that completed more than one stamped event."""
    chunks: int = 0
    max_events_per_chunk: int = 0
    merged_chunks: int = 0
    """HTTP chunks (server writes) that carried more than one stamped event."""


class RawConnection(asyncio.Protocol):
    """One keep-alive connection; ``request`` may be awaited again once it returned."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._reply: Reply | None = None
        self._done: asyncio.Future | None = None
        self._buf = bytearray()
        self._state = "idle"
        self._length = 0  # body bytes expected (content-length) or left in this chunk
        self._chunked = False
        self._chunk_events = 0
        self._sse = bytearray()
        self.closed = asyncio.get_running_loop().create_future()

    @classmethod
    async def open(cls, host: str, port: int) -> RawConnection:
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_connection(cls, host, port)
        return protocol

    def connection_made(self, transport) -> None:
        self.transport = transport

    def connection_lost(self, exc) -> None:
        if self._done is not None and not self._done.done():
            if self._state == "until-eof":
                self._finish()
            else:
                self._done.set_exception(ConnectionError(f"connection lost in {self._state}"))
        if not self.closed.done():
            self.closed.set_result(None)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    async def request(self, method: str, path: str, *, host: str, headers: dict[str, str],
                      body: bytes = b"") -> Reply:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self._reply = Reply()
        self._done = asyncio.get_running_loop().create_future()
        self._state, self._buf, self._sse = "head", bytearray(), bytearray()
        self._reply.sent_ns = time.time_ns()
        self.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        return await self._done

    # -- parsing ---------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        reply = self._reply
        if reply is None or self._done is None or self._done.done():
            return
        now = time.time_ns()
        reply.reads += 1
        self._buf += data
        completed = 0
        while self._buf and not self._done.done():
            if self._state == "head":
                if not self._parse_head(now):
                    break
            elif self._state == "length":
                take = bytes(self._buf[:self._length])
                del self._buf[:len(take)]
                self._length -= len(take)
                completed += self._body(take, now)
                if self._length == 0:
                    self._finish()
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
        reply = self._reply
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
                self._finish()
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
                reply = self._reply
                reply.chunks += 1
                reply.max_events_per_chunk = max(reply.max_events_per_chunk, self._chunk_events)
                if self._chunk_events > 1:
                    reply.merged_chunks += 1
            return bool(take), completed
        if len(self._buf) < 2:  # the CRLF after a chunk's data, or ending the trailer
            return False, 0
        del self._buf[:2]
        if self._state == "trailer":
            self._finish()
        else:
            self._state = "chunk-size"
        return True, 0

    def _body(self, data: bytes, now: int) -> int:
        """Append body bytes; stamped SSE events completed by them get arrival ``now``."""
        reply = self._reply
        reply.body += data
        if not reply.headers.get("content-type", "").startswith("text/event-stream"):
            return 0
        self._sse += data
        end = self._sse.rfind(b"\n\n")
        if end < 0:
            return 0
        complete = bytes(self._sse[:end + 2])
        del self._sse[:end + 2]
        stamps = STAMP.findall(complete)
        for seq, sent in stamps:
            reply.events.append((int(seq), int(sent), now))
        return len(stamps)

    def _finish(self) -> None:
        self._reply.end_ns = time.time_ns()
        self._state = "idle"
        if not self._done.done():
            self._done.set_result(self._reply)
