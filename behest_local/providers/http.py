"""The one HTTP client the gateway uses to reach upstreams: pooled HTTP/1.1 connections.

``UpstreamProvider`` (upstream.py) calls ``HttpPool.request`` and reads the
``HttpResponse`` whole (``read``) or piece by piece as it arrives (``take``/``wait``, for SSE).
The bytes on the wire are ``http_wire``'s and each socket is an ``http_connection``
``Connection``; this module owns the pool, the parsed origins and the response's API.

Why not aiohttp's client: a gateway's upstream call is one POST on a warm keep-alive
connection, and aiohttp's ``ClientSession`` spent ~240 µs of event-loop CPU on it (request
and response objects, payload registry, stream reader, a timer per read), more than the
rest of the gateway's own request path (issue 9). Here a request is one ``write`` of head
and body and one future for the answer; a short reply usually arrives complete in the read
that carries its head. Measured again for issue 25 (2026-12-07, 2-core AMD EPYC VM with
a load average of 2–8 from other work: ratios within a run are what holds), bench
scenario a, two runs each, ``ClientSession`` behind this module's API in its place: CPU
per request 421 and 521 µs with this client (2.90× and 3.04× the bare proxy's in the same
runs), 545 and 824 µs with aiohttp's (3.69×, 4.16×); req/s 0.40× and 0.36× bare against
0.30× and 0.24×.

* **Pool**: idle connections per origin (scheme, host, port), newest first; one is dropped
  when the server closed it or after ``IDLE_S`` unused (servers close idle keep-alive
  connections, aiohttp's default keep-alive is 15 s too). A reused connection that the
  server had closed before reading the request (nothing came back) is retried once on a
  new connection, as HTTP clients do (RFC 9112 §9.3.1: it cannot have been processed).
* **Timeouts**: ``connect_timeout`` for TCP and TLS set-up; ``read_timeout`` for the head
  and for every gap between two reads, checked by one timer re-armed only when it fires.
* **Flow control**: a reader that falls behind (the client of a stream reads slowly)
  pauses reading from the upstream instead of buffering without bound.
* **Limits**: a body read whole is refused past the reader's ``limit`` (``read``), as soon
  as its ``Content-Length`` or its bytes so far say so; a stream's pieces are bounded by
  the flow control, and its lines and events by its SSE decoder (``sse.SSEDecoder``).
* **Encodings**: requests ask for ``identity``; a gzip or deflate body sent anyway is
  decoded (a read inflating past ``http_connection.MAX_INFLATE`` fails it). No cookies
  are kept: upstream requests are stateless.
* **Proxies and TLS**: each request carries its provider's ``Route`` (proxy.py): the
  environment's proxies (``HTTPS_PROXY``, ``NO_PROXY`` …) or the provider's own, and the
  trust (the system's store, ``SSL_CERT_FILE``, ``ca_bundle``). Both are settled when an
  origin is first seen and when a connection opens, never per read: a pooled connection
  through a proxy is as fast as a direct one.
"""

from __future__ import annotations

import asyncio
import ssl
import sys
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from multidict import CIMultiDictProxy

from behest_local import __version__
from behest_local.providers.http_connection import (BodyTooLarge, ConnectError, Connection,
                                                    ConnectionCut, ConnectTimeout, describe)
from behest_local.providers.http_wire import encode_head
from behest_local.providers.proxy import DIRECT, Proxy, Route, open_tunnel, proxy_for, tls_context

IDLE_S = 15.0
"""A pooled connection unused for longer is closed rather than reused."""
_DEFAULTS = {"user-agent": f"behest-local/{__version__}", "accept-encoding": "identity"}


class _Origin:
    __slots__ = ("key", "scheme", "host", "port", "host_header", "path", "route", "proxy",
                 "target", "proxy_headers")

    def __init__(self, url: str, route: Route) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            # Not the URL itself: its user-info part may hold a password.
            raise ConnectError(f"not an http(s) URL (scheme {parts.scheme[:20]!r})")
        self.scheme, self.host = parts.scheme, parts.hostname
        default = 443 if parts.scheme == "https" else 80
        self.port = parts.port or default
        name = f"[{self.host}]" if ":" in self.host else self.host
        self.host_header = name if self.port == default else f"{name}:{self.port}"
        self.path = parts.path or "/"
        self.route = route
        self.proxy: Proxy | None = proxy_for(self.scheme, self.host, self.port, route)
        self.key = (self.scheme, self.host, self.port, route, self.proxy)
        # Plain http through a proxy: the request goes to the proxy with the absolute URL
        # as its target (an https one goes through a CONNECT tunnel instead).
        forward = self.proxy is not None and self.scheme == "http"
        self.target = f"http://{self.host_header}" if forward else ""
        self.proxy_headers = ({"Proxy-Authorization": self.proxy.authorization}
                              if forward and self.proxy.authorization else {})


class HttpPool:
    """Keep-alive connections to every upstream, shared by all providers."""

    def __init__(self, *, idle_s: float = IDLE_S) -> None:
        self._idle: dict[tuple, list[Connection]] = {}
        self._all: set[Connection] = set()
        self._origins: dict[tuple[str, Route], _Origin] = {}
        self._idle_s = idle_s
        self._ssl: dict[Route, ssl.SSLContext] = {}

    async def request(self, method: str, url: str, *, headers: dict[str, str],
                      body: bytes | None = None, connect_timeout: float | None = None,
                      read_timeout: float | None = None, route: Route = DIRECT) -> HttpResponse:
        """Send one request and wait for the response's head. Raises ``HttpError``."""
        base, sep, query = url.partition("?")
        origin = self._origins.get((base, route))
        if origin is None:
            if len(self._origins) > 256:
                self._origins.clear()
            origin = self._origins[base, route] = _Origin(base, route)
        lower = {name.lower() for name in headers}
        extra = {k: v for k, v in _DEFAULTS.items() if k not in lower}
        if origin.proxy_headers:
            extra.update(origin.proxy_headers)
        head = encode_head(method, origin.target + origin.path + sep + query, origin.host_header,
                           {**extra, **headers} if extra else headers,
                           len(body) if body is not None else (0 if method == "POST" else None))
        message = head + body if body else head
        for attempt in (1, 2):
            # The retry takes a new connection: other idle ones may be as stale.
            conn = self._take_idle(origin.key) if attempt == 1 else None
            reused = conn is not None
            if conn is None:
                conn = await self._connect(origin, connect_timeout)
            try:
                await conn.send(message, head_request=method == "HEAD", timeout=read_timeout)
            except ConnectionCut:
                if reused and attempt == 1 and not conn.parser.received:
                    continue  # the server had closed it while idle: nothing was processed
                raise
            except BaseException:
                # Cancelled while waiting for the head (client gone, an outer timeout):
                # nobody will release this connection, and its response is unfinished.
                conn.close()
                raise
            return HttpResponse(self, conn)
        raise AssertionError("unreachable")

    async def close(self) -> None:
        for conn in list(self._all):
            conn.close()
        self._idle.clear()

    # -- the pool --------------------------------------------------------------------------

    def _take_idle(self, key: tuple) -> Connection | None:
        idle = self._idle.get(key)
        if not idle:
            return None
        now = asyncio.get_running_loop().time()
        while idle:
            conn = idle.pop()
            if conn.lost or conn.transport.is_closing():
                continue
            if now - conn.idle_since > self._idle_s:
                conn.close()
                continue
            return conn
        return None

    def _put_idle(self, conn: Connection) -> None:
        conn.idle_since = conn.loop.time()
        self._idle.setdefault(conn.key, []).append(conn)

    def _forget(self, conn: Connection) -> None:
        self._all.discard(conn)

    async def _connect(self, origin: _Origin, timeout: float | None) -> Connection:
        loop = asyncio.get_running_loop()
        conn = Connection(self, origin.key, loop)
        tls = await self._tls(origin.route) if origin.scheme == "https" else None
        proxy = origin.proxy
        try:
            async with asyncio.timeout(timeout):
                if proxy is None:
                    await loop.create_connection(lambda: conn, origin.host, origin.port,
                                                 ssl=tls,
                                                 server_hostname=origin.host if tls else None)
                elif tls is None:  # plain http: the proxy forwards it
                    await _to_proxy(loop, conn, proxy)
                else:  # TLS end to end, inside the proxy's tunnel
                    sock = await open_tunnel(proxy, origin.host, origin.port)
                    await loop.create_connection(lambda: conn, sock=sock, ssl=tls,
                                                 server_hostname=origin.host)
        except TimeoutError as exc:  # ours, or the system's own (ETIMEDOUT, an OSError too)
            via = f" (through proxy {proxy.shown})" if proxy is not None else ""
            raise ConnectTimeout((f"no connection within {timeout:g} s" if timeout is not None
                                  else describe(exc)) + via) from None
        except ssl.SSLCertVerificationError as exc:
            raise ConnectError(
                f"certificate verify failed for {origin.host}: {exc.verify_message} (trust "
                "its CA with SSL_CERT_FILE, or ca_bundle in the provider's behest.toml "
                "section)") from None
        except OSError as exc:  # refused, unreachable, DNS (gaierror), TLS (SSLError)
            raise ConnectError(describe(exc)) from None
        self._all.add(conn)
        return conn

    async def _tls(self, route: Route) -> ssl.SSLContext:
        context = self._ssl.get(route)
        if context is None:
            # Loading the trust store reads files (tens of ms for the system's): once per
            # route, in a worker thread rather than on the loop.
            context = self._ssl[route] = await asyncio.to_thread(tls_context, route)
        return context


async def _to_proxy(loop: asyncio.AbstractEventLoop, conn: Connection, proxy: Proxy) -> None:
    try:
        await loop.create_connection(lambda: conn, proxy.host, proxy.port)
    except OSError as exc:
        raise ConnectError(f"proxy {proxy.shown}: {describe(exc)}") from None


class HttpResponse:
    """A response whose head has arrived. ``read`` it (or ``take``/``wait`` its pieces),
    then ``release``."""

    __slots__ = ("status", "reason", "headers", "_pool", "_conn", "_released")

    def __init__(self, pool: HttpPool, conn: Connection) -> None:
        parser = conn.parser
        self.status: int = parser.status
        self.reason: str = parser.reason
        self.headers: CIMultiDictProxy[str] = parser.headers
        self._pool, self._conn, self._released = pool, conn, False

    def charset(self) -> str | None:
        """The ``charset`` parameter of ``Content-Type``, if one is declared."""
        for param in self.headers.get("Content-Type", "").split(";")[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "charset":
                return value.strip().strip('"') or None
        return None

    @property
    def at_eof(self) -> bool:
        """The whole body has been received and taken."""
        return self._conn.complete and not self._conn.pieces

    async def read(self, limit: int | None = None) -> bytes:
        """The whole body. Raises ``ReadTimeout``, ``ConnectionCut``, or ``BodyTooLarge``
        once the body is known to be over ``limit`` bytes (from its ``Content-Length``, or
        as soon as that much has arrived): then ``release`` closes the connection."""
        conn = self._conn
        pieces = conn.pieces
        if limit is not None and self._declared() > limit:
            raise BodyTooLarge(limit)
        if conn.complete:  # the usual case: the whole reply came in the read of its head
            body = pieces[0] if len(pieces) == 1 else b"".join(pieces)
        else:
            # Taken as they arrive: left unread past PAUSE_BYTES, they would pause the
            # socket, and nothing would resume it before the end this loop waits for.
            taken: list[bytes] = []
            size, most = 0, limit if limit is not None else sys.maxsize
            while not conn.complete:
                while pieces:
                    taken.append(conn.take())
                    size += len(taken[-1])
                if size > most:
                    raise BodyTooLarge(limit)
                await conn.wait()
            taken.extend(pieces)
            body = b"".join(taken)
        if limit is not None and len(body) > limit:
            raise BodyTooLarge(limit)
        pieces.clear()
        conn.unread = 0
        return body

    def _declared(self) -> int:
        """The body's ``Content-Length`` when it frames the body (no transfer coding, and
        already checked by the parser), else 0."""
        headers = self.headers
        length = headers.get("Content-Length")
        if length is None or "Transfer-Encoding" in headers:
            return 0
        return int(length.split(",", 1)[0])

    def take(self) -> bytes | None:
        """The next piece of the body already received (each piece is what one read of the
        socket carried); ``b""`` once the body has ended; None while the next one has yet
        to arrive (then ``await wait()``). A loop, not an async generator: the stream relay
        runs it once per event, and a generator layer there costs every event."""
        conn = self._conn
        if conn.pieces:
            return conn.take()
        return b"" if conn.complete else None

    def wait(self, tap: Callable[[bytes], bool] | None = None) -> Awaitable[None]:
        """Until more of the body arrives or it ends. Raises ``ReadTimeout`` or
        ``ConnectionCut``. ``tap``: see ``Connection.wait`` (pieces it takes are not
        queued, and do not end the wait)."""
        return self._conn.wait(tap)

    def wake(self) -> None:
        """End a ``wait`` now: for a tap that has met something the reader must handle."""
        self._conn._wake()

    def release(self) -> None:
        """Back to the pool if the body was read to its end, else close the connection
        (an upstream still generating sees the close and stops)."""
        if not self._released:
            self._released = True
            if self._conn.complete and self._conn.pieces:
                self._conn.pieces.clear()
            self._conn.release()

    def close(self) -> None:
        if not self._released:
            self._released = True
            self._conn.close()
