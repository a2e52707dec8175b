"""A bare aiohttp pass-through proxy: ``python -m bench.proxy --upstream URL --port 0``.

The ceiling for any Python gateway on this machine: what aiohttp itself costs to take a
request, forward it over a pooled keep-alive connection and relay the answer, with none
of a gateway's work (no auth, routing, parsing, translation or tracing). It forwards the
method, path, body and end-to-end headers as they are; a JSON answer is read whole and
sent back, a stream is relayed read by read (``iter_any``: whatever the socket had, one
``write`` each), so it adds no buffering of its own.

Same lifetime rules as ``bench.upstream``: prints ``listening on http://127.0.0.1:PORT``,
stops on a signal, when its parent exits, or after ``--lifetime`` seconds.
"""

from __future__ import annotations

import argparse

import aiohttp
from aiohttp import web

from bench import loops
from bench.upstream import serve

# Hop-by-hop headers (RFC 9110 §7.6.1) and the ones aiohttp recomputes.
HOP = frozenset({"connection", "keep-alive", "proxy-connection", "te", "trailer",
                 "transfer-encoding", "upgrade", "host", "content-length"})


class PassThrough:
    """The handler: one pooled ``ClientSession`` to the upstream, created on first use."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=0, force_close=False)
            self._session = aiohttp.ClientSession(
                connector=connector, auto_decompress=False,
                timeout=aiohttp.ClientTimeout(total=None, sock_read=600))
        return self._session

    async def __call__(self, request: web.BaseRequest) -> web.StreamResponse:
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP}
        url = self.upstream + request.path_qs
        try:
            upstream = await self.session().request(request.method, url, data=body,
                                                    headers=headers)
        except aiohttp.ClientError as exc:
            return web.Response(status=502, text=f"upstream unreachable: {exc}")
        out_headers = {k: v for k, v in upstream.headers.items() if k.lower() not in HOP}
        try:
            if not upstream.headers.get("Content-Type", "").startswith("text/event-stream"):
                payload = await upstream.read()
                return web.Response(body=payload, status=upstream.status, headers=out_headers)
            response = web.StreamResponse(status=upstream.status, headers=out_headers)
            await response.prepare(request)
            async for data in upstream.content.iter_any():
                await response.write(data)
            await response.write_eof()
            return response
        finally:
            upstream.release()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.proxy",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--upstream", required=True, help="base URL, e.g. http://127.0.0.1:9000")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--lifetime", type=float, default=3600.0)
    args = parser.parse_args(argv)
    if args.host not in ("127.0.0.1", "::1", "localhost"):
        raise SystemExit("the bench proxy listens on loopback only")
    loops.run(serve(PassThrough(args.upstream), host=args.host, port=args.port,
                      lifetime=args.lifetime))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
