"""The upstream client's pool and connections (providers/http.py, http_connection.py)
against real sockets.

Each test scripts a raw asyncio server on an ephemeral port, so the exact bytes, the
timing of writes and closes, and the number of accepted connections are the test's.
Waits synchronise on events; the few timeouts are a fraction of a second.
"""

from __future__ import annotations

import asyncio
import gzip
import socket
import ssl
import subprocess
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import uvloop

from behest_local.providers.http import HttpPool
from behest_local.providers.proxy import DIRECT
from behest_local.providers.http_connection import (PAUSE_BYTES, ConnectError, ConnectionCut,
                                                    ConnectTimeout, HttpError, ReadTimeout)

SECRET = "sk-canary-5e1f0b7d"


class Peer:
    """The server's side of one accepted connection."""

    def __init__(self, upstream: Upstream, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.upstream, self.reader, self.writer = upstream, reader, writer

    async def request(self) -> tuple[bytes, bytes] | None:
        """The next request's head and body, or None when the client closed."""
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return None
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        body = await self.reader.readexactly(length) if length else b""
        self.upstream.requests.append((head, body))
        return head, body

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def until_closed(self) -> None:
        """Until the client closes the connection, whatever it sends meanwhile."""
        while await self.reader.read(65536):
            pass


Script = Callable[[Peer], Awaitable[None]]


class Upstream:
    def __init__(self, script: Script) -> None:
        self.script = script
        self.accepted = 0
        self.requests: list[tuple[bytes, bytes]] = []
        self.client_closed = asyncio.Event()
        self._writers: list[asyncio.StreamWriter] = []
        self._tasks: list[asyncio.Task] = []
        self._server: asyncio.Server | None = None

    async def start(self, tls: ssl.SSLContext | None = None) -> Upstream:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=tls)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def url(self, path: str = "/v1/chat", scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self._writers.append(writer)
        self._tasks.append(asyncio.current_task())
        try:
            await self.script(Peer(self, reader, writer))
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # the client went away, or the test is over
        finally:
            writer.close()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in self._writers:
            writer.close()
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=1)


def response(body: bytes = b"ok", *, status: str = "200 OK", extra: bytes = b"") -> bytes:
    return (b"HTTP/1.1 %s\r\nContent-Length: %d\r\n%s\r\n%s"
            % (status.encode(), len(body), extra, body))


def small_buffers(transport: asyncio.BaseTransport, option: int) -> None:
    # Loopback buffers autotune to megabytes: small ones make back-pressure visible.
    transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, option, 32768)


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


STREAM_HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n")


async def answer_all(peer: Peer) -> None:
    """Keep-alive: answer every request with its body echoed."""
    while (req := await peer.request()) is not None:
        await peer.send(response(b"echo:" + req[1]))


def paced_stream(count: int, gap: float) -> Script:
    """A stream of ``count`` events ``data: N``, one chunk each, ``gap`` seconds apart; then
    keep-alive answers."""
    async def paced(peer: Peer) -> None:
        await peer.request()
        await peer.send(STREAM_HEAD)
        for i in range(count):
            await asyncio.sleep(gap)
            await peer.send(chunk(b"data: %d\n\n" % i))
        await peer.send(b"0\r\n\r\n")
        await answer_all(peer)

    return paced


@pytest.fixture
async def start() -> AsyncIterator[Callable[[Script], Awaitable[Upstream]]]:
    started: list[Upstream] = []

    async def _start(script: Script) -> Upstream:
        upstream = await Upstream(script).start()
        started.append(upstream)
        return upstream

    yield _start
    for upstream in started:
        await upstream.stop()


@pytest.fixture
async def pool() -> AsyncIterator[HttpPool]:
    pool = HttpPool()
    yield pool
    await pool.close()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (openssl, a few milliseconds)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj",
                    "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


async def body_pieces(resp) -> AsyncIterator[bytes]:
    """The body piece by piece, as the stream relay reads it (``take``, ``wait``)."""
    while (piece := resp.take()) != b"":
        if piece is None:
            await resp.wait()
        else:
            yield piece


async def eventually(check: Callable[[], bool], within: float = 2.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.005)


# -- keep-alive ----------------------------------------------------------------------------------


async def test_sequential_requests_reuse_one_connection(start, pool: HttpPool) -> None:
    upstream = await start(answer_all)
    for i in range(3):
        resp = await pool.request("POST", upstream.url("/v1/chat?x=1"), body=b"n%d" % i,
                                  headers={"Authorization": "Bearer k"})
        assert (resp.status, await resp.read()) == (200, b"echo:n%d" % i)
        resp.release()
    assert upstream.accepted == 1 and len(upstream.requests) == 3
    head = upstream.requests[0][0].decode()
    assert head.startswith("POST /v1/chat?x=1 HTTP/1.1\r\n")
    assert f"\r\nHost: 127.0.0.1:{upstream.port}\r\n" in head
    assert "\r\naccept-encoding: identity\r\n" in head and "\r\nuser-agent: behest-local/" in head
    assert "\r\nContent-Length: 2\r\n" in head and "\r\nAuthorization: Bearer k\r\n" in head


async def test_caller_headers_replace_the_defaults(start, pool: HttpPool) -> None:
    upstream = await start(answer_all)
    resp = await pool.request("GET", upstream.url(), headers={"User-Agent": "mine"})
    await resp.read()
    resp.release()
    head = upstream.requests[0][0].decode()
    assert "User-Agent: mine" in head and "behest-local/" not in head
    assert "Content-Length" not in head  # GET without a body: no length


async def test_connection_close_means_a_new_connection_next_time(start, pool: HttpPool) -> None:
    async def once_then_close(peer: Peer) -> None:
        await peer.request()
        await peer.send(response(b"bye", extra=b"Connection: close\r\n"))

    upstream = await start(once_then_close)
    for _ in range(2):
        resp = await pool.request("POST", upstream.url(), headers={}, body=b"{}")
        assert await resp.read() == b"bye"
        resp.release()
    assert upstream.accepted == 2


async def test_head_request_has_no_body_and_keeps_the_connection(start, pool: HttpPool) -> None:
    async def script(peer: Peer) -> None:
        await peer.request()
        await peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 999\r\n\r\n")
        await answer_all(peer)

    upstream = await start(script)
    resp = await pool.request("HEAD", upstream.url(), headers={})
    assert resp.headers["Content-Length"] == "999" and await resp.read() == b""
    resp.release()
    resp = await pool.request("POST", upstream.url(), headers={}, body=b"x")
    assert await resp.read() == b"echo:x"
    resp.release()
    assert upstream.accepted == 1


async def test_until_close_body_is_read_and_the_connection_not_reused(start, pool) -> None:
    async def script(peer: Peer) -> None:
        await peer.request()
        await peer.send(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\npart one, ")
        await peer.send(b"part two")
        peer.writer.close()

    upstream = await start(script)
    for _ in range(2):
        resp = await pool.request("GET", upstream.url(), headers={})
        assert await resp.read() == b"part one, part two"
        resp.release()
    assert upstream.accepted == 2


async def test_idle_connection_closed_by_the_server_is_not_reused(start, pool: HttpPool) -> None:
    async def script(peer: Peer) -> None:
        await peer.request()
        await peer.send(response(b"first"))  # keep-alive, then the server closes it idle
        peer.writer.close()

    upstream = await start(script)
    resp = await pool.request("GET", upstream.url(), headers={})
    assert await resp.read() == b"first"
    resp.release()
    conn = resp._conn
    await eventually(lambda: conn.lost)
    resp = await pool.request("GET", upstream.url(), headers={})
    assert await resp.read() == b"first"
    resp.release()
    assert upstream.accepted == 2 and len(upstream.requests) == 2


async def test_stale_connection_is_retried_once_on_a_new_one(start, pool: HttpPool) -> None:
    # The server closes the kept-alive connection just as the next request arrives (its
    # keep-alive timeout raced the request): nothing came back, so it is sent again.
    async def script(peer: Peer) -> None:
        if peer.upstream.accepted == 1:
            await peer.request()
            await peer.send(response(b"one"))
            await peer.request()  # read, never answered
            return
        await answer_all(peer)

    upstream = await start(script)
    resp = await pool.request("POST", upstream.url(), headers={}, body=b"a")
    assert await resp.read() == b"one"
    resp.release()
    resp = await pool.request("POST", upstream.url(), headers={}, body=b"b")
    assert await resp.read() == b"echo:b"
    resp.release()
    assert upstream.accepted == 2
    assert [body for _, body in upstream.requests] == [b"a", b"b", b"b"]


@pytest.mark.parametrize("answer", [b"HTTP/1.1 200",
                                    b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\npart"],
                         ids=["part-of-head", "part-of-body"])
async def test_answered_request_is_never_sent_twice(start, pool: HttpPool, answer: bytes) -> None:
    async def script(peer: Peer) -> None:
        await peer.request()
        await peer.send(response(b"one"))
        await peer.request()
        await peer.send(answer)  # the server had started answering, then went away

    upstream = await start(script)
    resp = await pool.request("POST", upstream.url(), headers={}, body=b"a")
    await resp.read()
    resp.release()
    with pytest.raises(ConnectionCut, match="closed"):
        resp = await pool.request("POST", upstream.url(), headers={}, body=b"b")
        await resp.read()
    assert upstream.accepted == 1 and len(upstream.requests) == 2


async def test_idle_expiry_closes_the_old_connection(start) -> None:
    closed = asyncio.Event()

    async def script(peer: Peer) -> None:
        while await peer.request() is not None:
            await peer.send(response())
        closed.set()

    upstream = await start(script)
    pool = HttpPool(idle_s=0.05)
    try:
        for _ in range(2):
            resp = await pool.request("GET", upstream.url(), headers={})
            await resp.read()
            resp.release()
            await asyncio.sleep(0.08)
        await asyncio.wait_for(closed.wait(), 2)  # the expired one was closed, not leaked
        assert upstream.accepted == 2
    finally:
        await pool.close()


async def test_bytes_on_an_idle_connection_make_it_unusable(start, pool: HttpPool) -> None:
    released = asyncio.Event()

    async def script(peer: Peer) -> None:
        await peer.request()
        await peer.send(response(b"one"))
        if peer.upstream.accepted == 1:
            await released.wait()  # the connection is idle in the pool now
            await peer.send(b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n")
            await peer.until_closed()
            return
        await answer_all(peer)

    upstream = await start(script)
    resp = await pool.request("GET", upstream.url(), headers={})
    await resp.read()
    resp.release()
    conn = resp._conn
    assert conn in pool._idle[conn.key]
    released.set()
    await eventually(lambda: conn.lost)
    resp = await pool.request("GET", upstream.url(), headers={}, read_timeout=2)
    assert (resp.status, await resp.read()) == (200, b"one")  # not the stray 408
    resp.release()
    assert upstream.accepted == 2


# -- timeouts --------------------------------------------------------------------------------


async def test_read_timeout_before_the_head(start, pool: HttpPool) -> None:
    async def silent(peer: Peer) -> None:
        await peer.request()
        await peer.until_closed()

    upstream = await start(silent)
    began = time.monotonic()
    with pytest.raises(ReadTimeout, match="nothing received for 0.1 s"):
        await pool.request("POST", upstream.url(), headers={}, body=b"x", read_timeout=0.1)
    assert 0.09 < time.monotonic() - began < 1.5
    assert not pool._all  # the connection was closed, not pooled


async def test_read_timeout_between_stream_pieces(start, pool: HttpPool) -> None:
    async def stalls(peer: Peer) -> None:
        await peer.request()
        await peer.send(STREAM_HEAD + chunk(b"data: 1\n\n"))
        await peer.until_closed()

    upstream = await start(stalls)
    resp = await pool.request("POST", upstream.url(), headers={}, body=b"x", read_timeout=0.15)
    got = []
    began = time.monotonic()
    with pytest.raises(ReadTimeout):
        async for piece in body_pieces(resp):
            got.append(piece)
    assert got == [b"data: 1\n\n"]
    assert 0.1 < time.monotonic() - began < 1.5
    resp.release()


async def test_reads_within_the_timeout_keep_a_long_stream_alive(start, pool: HttpPool) -> None:
    upstream = await start(paced_stream(8, 0.04))
    resp = await pool.request("POST", upstream.url(), headers={}, body=b"x", read_timeout=0.25)
    pieces = [p async for p in body_pieces(resp)]  # 0.32 s in all, longer than the timeout
    assert pieces == [b"data: %d\n\n" % i for i in range(8)]
    resp.release()
    assert resp._conn in pool._idle[resp._conn.key]  # complete: back in the pool


async def test_connect_refused(pool: HttpPool) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ConnectError):
        await pool.request("GET", f"http://127.0.0.1:{port}/", headers={}, connect_timeout=2)


async def test_system_connect_timeout_without_a_configured_one(pool: HttpPool, monkeypatch) -> None:
    async def times_out(*args, **kwargs):
        raise TimeoutError(110, "Connection timed out")

    monkeypatch.setattr(asyncio.get_running_loop(), "create_connection", times_out)
    with pytest.raises(ConnectTimeout, match="Connection timed out"):
        await pool.request("GET", "http://192.0.2.1/", headers={}, connect_timeout=None)


async def test_not_an_http_url_does_not_echo_it(pool: HttpPool) -> None:
    with pytest.raises(ConnectError, match="not an http") as caught:
        await pool.request("GET", f"ftp://user:{SECRET}@host/", headers={})
    assert SECRET not in str(caught.value)


# -- broken responses ------------------------------------------------------------------------


async def test_malformed_response_is_a_connection_cut(start, pool: HttpPool) -> None:
    async def garbage(peer: Peer) -> None:
        await peer.request()
        await peer.send(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
        await peer.until_closed()

    upstream = await start(garbage)
    with pytest.raises(ConnectionCut, match="malformed response: not an HTTP/1.1 status line"):
        await pool.request("GET", upstream.url(), headers={})
    assert upstream.accepted == 1  # not retried: something came back


async def test_closed_mid_body_is_a_connection_cut(start, pool: HttpPool) -> None:
    async def cut(peer: Peer) -> None:
        await peer.request()
        await peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this")

    upstream = await start(cut)
    resp = await pool.request("GET", upstream.url(), headers={})
    with pytest.raises(ConnectionCut, match="in the middle of the response"):
        await resp.read()
    resp.release()
    assert not pool._all and not pool._idle.get(resp._conn.key)


async def test_stream_cut_after_some_pieces(start, pool: HttpPool) -> None:
    async def cut(peer: Peer) -> None:
        await peer.request()
        await peer.send(STREAM_HEAD + chunk(b"data: 1\n\n"))

    upstream = await start(cut)
    resp = await pool.request("POST", upstream.url(), headers={}, body=b"{}")
    got = []
    with pytest.raises(ConnectionCut):
        async for piece in body_pieces(resp):
            got.append(piece)
    assert got == [b"data: 1\n\n"]  # what arrived before the cut is delivered first
    resp.release()


async def test_unsupported_content_encoding_is_refused(start, pool: HttpPool) -> None:
    async def brotli(peer: Peer) -> None:
        await peer.request()
        await peer.send(response(b"\x0b\x00", extra=b"Content-Encoding: br\r\n"))
        await peer.until_closed()

    upstream = await start(brotli)
    with pytest.raises(ConnectionCut, match="unsupported Content-Encoding 'br'"):
        await pool.request("GET", upstream.url(), headers={})


# -- streaming, encodings, flow control ------------------------------------------------------


async def test_pieces_are_each_server_write_when_the_reader_keeps_up(start, pool: HttpPool) -> None:
    writes = [b"data: {\"n\":%d}\n\n" % i for i in range(6)]
    taken = asyncio.Event()

    async def lockstep(peer: Peer) -> None:
        await peer.request()
        await peer.send(STREAM_HEAD)
        for data in writes:
            taken.clear()
            await peer.send(chunk(data))
            await taken.wait()
        await peer.send(b"0\r\n\r\n")

    upstream = await start(lockstep)
    resp = await pool.request("POST", upstream.url(), headers={}, body=b"{}")
    assert resp.headers["Content-Type"] == "text/event-stream"
    got = []
    async for piece in body_pieces(resp):
        got.append(piece)
        taken.set()
    assert got == writes and resp.at_eof
    resp.release()


async def test_pieces_with_small_pauses_between_writes(start, pool: HttpPool) -> None:
    writes = [b"data: %d\n\n" % i for i in range(5)]

    async def paced(peer: Peer) -> None:
        await peer.request()
        await peer.send(STREAM_HEAD)
        for data in writes:
            await peer.send(chunk(data))
            await asyncio.sleep(0.01)
        await peer.send(b"0\r\n\r\n")

    upstream = await start(paced)
    resp = await pool.request("POST", upstream.url(), headers={}, body=b"{}")
    assert [p async for p in body_pieces(resp)] == writes
    resp.release()


async def test_gzip_body_is_decoded(start, pool: HttpPool) -> None:
    text = b'{"choices":[]}' * 200

    async def gz(peer: Peer) -> None:
        await peer.request()
        await peer.send(response(gzip.compress(text), extra=b"Content-Encoding: gzip\r\n"))
        await peer.request()
        packed = zlib.compress(text)  # "deflate" is the zlib format (RFC 9110 §8.4.1.2)
        await peer.send(STREAM_HEAD.replace(b"\r\n\r\n", b"\r\nContent-Encoding: deflate\r\n\r\n")
                        + chunk(packed[:50]))
        await asyncio.sleep(0.01)
        await peer.send(chunk(packed[50:]) + b"0\r\n\r\n")

    upstream = await start(gz)
    resp = await pool.request("GET", upstream.url(), headers={})
    assert await resp.read() == text
    resp.release()
    resp = await pool.request("GET", upstream.url(), headers={})
    assert b"".join([p async for p in body_pieces(resp)]) == text
    resp.release()
    assert upstream.accepted == 1


async def test_slow_reader_pauses_the_socket_and_resumes(start, pool: HttpPool) -> None:
    total = 4 * PAUSE_BYTES
    sent_all = asyncio.Event()

    go = asyncio.Event()

    async def flood(peer: Peer) -> None:
        await peer.request()
        small_buffers(peer.writer, socket.SO_SNDBUF)
        await peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % total)
        await go.wait()
        for _ in range(total // 65536):
            await peer.send(b"x" * 65536)
        sent_all.set()
        await answer_all(peer)

    upstream = await start(flood)
    resp = await pool.request("GET", upstream.url(), headers={}, read_timeout=0.3)
    conn = resp._conn
    small_buffers(conn.transport, socket.SO_RCVBUF)  # so the server feels the pause soon
    go.set()
    await eventually(lambda: conn.paused)
    held = conn.unread
    assert not conn.transport.is_reading() and PAUSE_BYTES < held < total
    await asyncio.sleep(0.4)  # longer than the read timeout: a paused reader is not a stall
    assert not sent_all.is_set() and conn.error is None and conn.unread == held
    received = 0
    async for piece in body_pieces(resp):
        received += len(piece)
        assert conn.unread <= PAUSE_BYTES + 65536 * 4
    assert received == total and not conn.paused and conn.transport.is_reading()
    resp.release()
    resp = await pool.request("GET", upstream.url(), headers={})
    assert await resp.read() == b"echo:"  # the same connection, still in step
    resp.release()
    assert upstream.accepted == 1


async def test_read_of_a_body_larger_than_the_pause_threshold(start, pool: HttpPool) -> None:
    body = bytes(range(256)) * (3 * PAUSE_BYTES // 256)

    async def big(peer: Peer) -> None:
        await peer.request()
        await peer.send(response(body))

    upstream = await start(big)
    resp = await pool.request("GET", upstream.url(), headers={}, read_timeout=2)
    async with asyncio.timeout(5):  # it used to wait forever: paused, and no one resumed
        assert await resp.read() == body
    resp.release()


# -- ending early ----------------------------------------------------------------------------


async def test_release_of_an_unfinished_response_closes_it(start, pool: HttpPool) -> None:
    closed = asyncio.Event()

    async def endless(peer: Peer) -> None:
        if peer.upstream.accepted > 1:
            return await answer_all(peer)
        await peer.request()
        await peer.send(STREAM_HEAD + chunk(b"data: 1\n\n"))
        await peer.until_closed()
        closed.set()

    upstream = await start(endless)
    resp = await pool.request("POST", upstream.url(), headers={}, body=b"{}")
    async for _ in body_pieces(resp):
        break
    resp.release()
    resp.release()  # twice is harmless
    await asyncio.wait_for(closed.wait(), 2)  # the upstream sees the close and can stop
    resp = await pool.request("POST", upstream.url(), headers={}, body=b"{}")
    assert await resp.read() == b"echo:{}"
    resp.release()
    assert upstream.accepted == 2


async def test_cancelled_while_waiting_for_the_head_closes_the_connection(start, pool) -> None:
    closed = asyncio.Event()
    arrived = asyncio.Event()

    async def slow(peer: Peer) -> None:
        await peer.request()
        arrived.set()
        await peer.until_closed()
        closed.set()

    upstream = await start(slow)
    task = asyncio.ensure_future(pool.request("POST", upstream.url(), headers={}, body=b"{}"))
    await arrived.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.wait_for(closed.wait(), 2)
    assert not pool._all


async def test_pool_close_closes_idle_and_busy_connections(start) -> None:
    closes = []

    async def script(peer: Peer) -> None:
        head, _ = await peer.request()
        if head.startswith(b"GET /stream "):
            await peer.send(STREAM_HEAD + chunk(b"data: 1\n\n"))
        else:
            await peer.send(response(b"idle soon"))
        await peer.until_closed()
        closes.append(peer)

    upstream = await start(script)
    pool = HttpPool()
    busy = await pool.request("GET", upstream.url("/stream"), headers={})
    resp = await pool.request("GET", upstream.url(), headers={})
    await resp.read()
    resp.release()
    assert upstream.accepted == 2 and len(pool._idle[resp._conn.key]) == 1
    await pool.close()
    await eventually(lambda: len(closes) == 2)
    with pytest.raises(ConnectionCut):
        async for _ in body_pieces(busy):
            pass
    assert not pool._all and not pool._idle


# -- safety --------------------------------------------------------------------------------------


async def test_header_injection_is_refused_before_connecting(start, pool: HttpPool) -> None:
    upstream = await start(answer_all)
    with pytest.raises(ValueError, match="line break") as caught:
        await pool.request("POST", upstream.url(), body=b"{}",
                           headers={"X-Title": f"a\r\nAuthorization: Bearer {SECRET}"})
    assert SECRET not in str(caught.value)
    await asyncio.sleep(0.01)
    assert upstream.accepted == 0


async def test_https_to_a_plain_server_fails_fast(start, pool: HttpPool) -> None:
    async def plain(peer: Peer) -> None:  # reads the TLS hello, answers in plain HTTP
        await peer.reader.read(1024)
        await peer.send(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    upstream = await start(plain)
    began = time.monotonic()
    with pytest.raises(ConnectError):
        await pool.request("GET", upstream.url(scheme="https"), headers={}, connect_timeout=5)
    assert time.monotonic() - began < 2


async def test_https_to_a_silent_server_times_out(start, pool: HttpPool) -> None:
    async def silent(peer: Peer) -> None:
        await peer.until_closed()

    upstream = await start(silent)
    with pytest.raises(ConnectTimeout, match="within 0.2 s"):
        await pool.request("GET", upstream.url(scheme="https"), headers={}, connect_timeout=0.2)


async def test_secret_never_appears_in_an_error(start, pool: HttpPool) -> None:
    async def echo(peer: Peer) -> None:  # a TCP echo service where the upstream should be
        data = await peer.reader.read(65536)
        await peer.send(data)

    async def silent(peer: Peer) -> None:
        await peer.until_closed()

    async def cut(peer: Peer) -> None:
        await peer.request()
        await peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab")

    headers = {"Authorization": f"Bearer {SECRET}", "x-api-key": SECRET}
    errors: list[BaseException] = []
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        refused = f"http://127.0.0.1:{sock.getsockname()[1]}/v1?key={SECRET}"
    urls = [refused]
    for script in (echo, silent, cut):
        urls.append((await start(script)).url(f"/v1/chat?key={SECRET}"))
    urls.append((await start(echo)).url(f"/v1/chat?key={SECRET}", scheme="https"))
    for url in urls:
        try:
            resp = await pool.request("POST", url, headers=headers, body=b"{}",
                                      connect_timeout=1, read_timeout=0.1)
            await resp.read()
        except HttpError as exc:
            errors.append(exc)
    assert [type(e) for e in errors] == [ConnectError, ConnectionCut, ReadTimeout,
                                         ConnectionCut, ConnectError]
    for exc in errors:
        chain = [exc]
        while chain[-1].__context__ is not None:
            chain.append(chain[-1].__context__)
        for link in chain:
            assert SECRET not in str(link) and SECRET not in repr(link), link


# -- the production loop -------------------------------------------------------------------------


def test_the_same_under_uvloop() -> None:
    """The gateway runs on uvloop: reuse, streaming, flow control and timeouts there."""
    async def scenario() -> None:
        taken = asyncio.Event()

        async def script(peer: Peer) -> None:
            await peer.request()
            await peer.send(response(b"one"))
            await peer.request()
            await peer.send(STREAM_HEAD)
            for i in range(3):
                taken.clear()
                await peer.send(chunk(b"data: %d\n\n" % i))
                await taken.wait()
            await peer.send(b"0\r\n\r\n")
            await peer.request()
            await peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (4 * PAUSE_BYTES))
            for _ in range(4 * PAUSE_BYTES // 65536):
                await peer.send(b"y" * 65536)
            await peer.request()
            await peer.until_closed()  # never answers

        upstream = await Upstream(script).start()
        pool = HttpPool()
        try:
            resp = await pool.request("POST", upstream.url(), headers={}, body=b"{}")
            assert await resp.read() == b"one"
            resp.release()
            resp = await pool.request("POST", upstream.url(), headers={}, body=b"{}")
            got = []
            async for piece in body_pieces(resp):
                got.append(piece)
                taken.set()
            assert got == [b"data: %d\n\n" % i for i in range(3)]
            resp.release()
            resp = await pool.request("GET", upstream.url(), headers={}, read_timeout=1)
            await eventually(lambda: resp._conn.paused)
            assert len(await resp.read()) == 4 * PAUSE_BYTES
            resp.release()
            with pytest.raises(ReadTimeout):
                await pool.request("GET", upstream.url(), headers={}, read_timeout=0.1)
            assert upstream.accepted == 1
        finally:
            await pool.close()
            await upstream.stop()

    async def bounded() -> None:
        async with asyncio.timeout(10):
            await scenario()

    uvloop.run(bounded())


# -- TLS -----------------------------------------------------------------------------------------


async def test_tls_keep_alive_and_until_close_body(start, pool: HttpPool, certificate) -> None:
    cert, key = certificate
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)

    async def script(peer: Peer) -> None:
        await peer.request()
        await peer.send(response(b"over tls"))
        await peer.request()
        await peer.send(b"HTTP/1.1 200 OK\r\n\r\nuntil the close")  # no length
        peer.writer.close()

    upstream = Upstream(script)
    await upstream.start(server_tls)
    pool._ssl[DIRECT] = ssl.create_default_context(cafile=str(cert))  # trust the test's own CA
    try:
        resp = await pool.request("GET", upstream.url(scheme="https"), headers={})
        assert await resp.read() == b"over tls"
        resp.release()
        resp = await pool.request("GET", upstream.url(scheme="https"), headers={},
                                  read_timeout=2)
        assert await resp.read() == b"until the close"  # the TLS close ends the body
        resp.release()
        assert upstream.accepted == 1
    finally:
        await upstream.stop()


async def test_untrusted_certificate_is_a_connect_error(pool: HttpPool, certificate) -> None:
    cert, key = certificate
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    upstream = Upstream(answer_all)
    await upstream.start(server_tls)
    try:
        with pytest.raises(ConnectError, match="certificate verify failed"):
            await pool.request("GET", upstream.url(scheme="https"), headers={},
                               connect_timeout=5)
        assert not pool._all
    finally:
        await upstream.stop()


# -- a tap: pieces taken in the read callback while the reader waits ----------------------

async def test_a_tap_takes_pieces_while_the_reader_waits_and_order_holds(start, pool) -> None:
    upstream = await start(paced_stream(6, 0.01))
    resp = await pool.request("POST", upstream.url(), headers={}, body=b"x", read_timeout=5)
    seen: list[tuple[str, bytes]] = []

    def tap(piece: bytes) -> bool:
        if int(piece[6:-2]) % 2:
            return False  # odd ones: declined, so queued for the reader
        seen.append(("tap", piece))
        return True

    while (piece := resp.take()) != b"":
        if piece is None:
            await resp.wait(tap)
        else:
            seen.append(("read", piece))
    assert seen == [("read" if i % 2 else "tap", b"data: %d\n\n" % i) for i in range(6)]
    resp.release()
    assert resp._conn in pool._idle[resp._conn.key]  # tapped pieces still count as read


async def test_a_tap_is_not_offered_a_piece_behind_a_queued_one(start, pool) -> None:
    async def two_at_once(peer: Peer) -> None:
        await peer.request()
        await peer.send(STREAM_HEAD)
        await asyncio.sleep(0.02)
        await peer.send(chunk(b"data: a\n\n") + chunk(b"data: b\n\n") + b"0\r\n\r\n")
        await answer_all(peer)

    upstream = await start(two_at_once)
    resp = await pool.request("POST", upstream.url(), headers={}, body=b"x", read_timeout=5)
    offered: list[bytes] = []

    def declines(piece: bytes) -> bool:
        offered.append(piece)
        return False

    assert resp.take() is None
    await resp.wait(declines)
    assert offered == [b"data: a\n\n"]  # "b" arrived behind a queued piece: never offered
    assert [resp.take(), resp.take(), resp.take()] == [b"data: a\n\n", b"data: b\n\n", b""]
    resp.release()


async def test_a_tap_lasts_only_as_long_as_the_wait(start, pool) -> None:
    go_on = asyncio.Event()

    async def later(peer: Peer) -> None:
        await peer.request()
        await peer.send(STREAM_HEAD + chunk(b"data: 1\n\n"))
        await go_on.wait()
        await peer.send(chunk(b"data: 2\n\n") + b"0\r\n\r\n")
        await answer_all(peer)

    upstream = await start(later)
    resp = await pool.request("POST", upstream.url(), headers={}, body=b"x", read_timeout=5)
    offered: list[bytes] = []
    if (first := resp.take()) is None:
        await resp.wait(lambda piece: offered.append(piece) or False)
        first = resp.take()
    assert first == b"data: 1\n\n"
    go_on.set()  # arrives while nobody waits: queued, the old tap not asked
    await resp.wait()
    assert resp.take() == b"data: 2\n\n"
    assert offered in ([], [b"data: 1\n\n"])
    assert b"data: 2\n\n" not in offered
    resp.release()


async def test_pieces_a_tap_takes_keep_the_read_timeout_at_bay(start, pool) -> None:
    upstream = await start(paced_stream(8, 0.04))
    resp = await pool.request("POST", upstream.url(), headers={}, body=b"x", read_timeout=0.25)
    tapped: list[bytes] = []
    while resp.take() != b"":  # every piece goes to the tap: the wait ends only at the end
        await resp.wait(lambda piece: tapped.append(piece) or True)
    assert tapped == [b"data: %d\n\n" % i for i in range(8)]  # 0.32 s, longer than the timeout
    resp.release()
