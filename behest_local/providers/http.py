"""The one HTTP client the gateway uses to reach upstreams: a pooled aiohttp session.

Created lazily inside the running event loop (aiohttp sessions belong to a loop) and
closed when the app shuts down. One session means one connection pool, so keep-alive
connections to a provider are reused across requests: no TLS handshake per call. The
session keeps no cookies: upstream requests are stateless, one client's never sees another's.
"""

from __future__ import annotations

import aiohttp


class HttpPool:
    def __init__(self, *, limit_per_host: int = 0) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._limit_per_host = limit_per_host

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=0, limit_per_host=self._limit_per_host,
                                             ttl_dns_cache=300, enable_cleanup_closed=True)
            # No default timeout: each request sets its own from the provider's config.
            # auto_decompress stays on: gzip from an upstream is decoded before relaying,
            # and the gateway never compresses SSE towards the client. No cookie jar: an
            # upstream's Set-Cookie must not ride along on other clients' requests (and
            # a jar costs a lookup per request and a parse per response).
            self._session = aiohttp.ClientSession(connector=connector, trust_env=False,
                                                  cookie_jar=aiohttp.DummyCookieJar(),
                                                  timeout=aiohttp.ClientTimeout(total=None))
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None
