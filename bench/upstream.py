"""A fast fake OpenAI upstream: ``python -m bench.upstream --port 0 [--pace-ms 20]``.

Built for speed, unlike ``behest_local.fakes.openai`` (which is built for fidelity): one
aiohttp low-level handler (no router, no middlewares), answers encoded once at start.

* ``POST …/chat/completions`` without ``stream``: a fixed ``chat.completion`` (~400 bytes).
* With ``"stream": true``: ``max_tokens`` events (default 64), one every ``--pace-ms``
  milliseconds, the first at once, each written with its own ``write``. Every event's
  content is ``#<seq>:<time_ns>;``: its sequence number and ``time.time_ns()`` taken just
  before the write, so a client on this machine can measure each event's relay delay and
  see whether two events arrived merged. The last carries ``finish_reason: "stop"``; one
  pace later come the usage chunk (when ``stream_options.include_usage``) and ``[DONE]``.
  Events are paced from the stream's start, so a late wake-up does not shift later events,
  and sent from timer callbacks (no task per event), so 1,000 streams stay cheap.
* ``GET /healthz`` and ``GET …/models`` for readiness checks.

It prints ``listening on http://127.0.0.1:PORT`` once bound, and stops on SIGTERM/SIGINT,
when its parent process goes away, or after ``--lifetime`` seconds, whichever is first.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from bench import loops

MODEL = "bench-model"
COMPLETION = json.dumps({
    "id": "chatcmpl-bench", "object": "chat.completion", "created": 1700000000,
    "model": MODEL, "system_fingerprint": "fp_bench",
    "choices": [{"index": 0, "message": {
        "role": "assistant", "content": "The quick brown fox jumps over the lazy dog. " * 3},
        "logprobs": None, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 12, "completion_tokens": 30, "total_tokens": 42},
}, separators=(",", ":")).encode()
MODELS = json.dumps({"object": "list", "data": [
    {"id": MODEL, "object": "model", "created": 1700000000, "owned_by": "bench"}]}).encode()
_HEAD = ('data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,'
         f'"model":"{MODEL}","choices":[{{"index":0,"delta":{{')
USAGE = ('data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,'
         f'"model":"{MODEL}","choices":[],"usage":{{"prompt_tokens":12,"completion_tokens":64,'
         '"total_tokens":76}}\n\n').encode()
DONE = b"data: [DONE]\n\n"
SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
DEFAULT_CHUNKS = 64


def stamped_event(seq: int, last: bool) -> bytes:
    """One chunk whose content is ``#seq:time_ns;``, stamped now."""
    role = '"role":"assistant",' if seq == 0 else ""
    finish = '"stop"' if last else "null"
    return (f'{_HEAD}{role}"content":"#{seq}:{time.time_ns()};"}},"logprobs":null,'
            f'"finish_reason":{finish}}}]}}\n\n').encode()


def make_handler(pace_s: float) -> Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]:
    async def handle(request: web.BaseRequest) -> web.StreamResponse:
        if request.method == "GET":
            if request.path.endswith("/models"):
                return web.Response(body=MODELS, content_type="application/json")
            return web.Response(text="ok")
        raw = await request.read()
        try:
            body = json.loads(raw)
        except ValueError:
            return web.Response(status=400, text="body is not JSON")
        if not body.get("stream"):
            return web.Response(body=COMPLETION, content_type="application/json")
        count = body.get("max_tokens") or body.get("max_completion_tokens") or DEFAULT_CHUNKS
        usage = bool((body.get("stream_options") or {}).get("include_usage"))
        return await _stream(request, int(count), usage, pace_s)

    return handle


async def _stream(request: web.BaseRequest, count: int, usage: bool,
                  pace_s: float) -> web.StreamResponse:
    """Paced events from timer callbacks, each framed as one HTTP chunk and written straight
    to the transport: no task switch per event, so 1,000 streams (50,000 events a second)
    stay cheap. The bytes on the wire are what ``StreamResponse.write`` would send."""
    response = web.StreamResponse(headers=SSE_HEADERS)
    response.enable_chunked_encoding()
    await response.prepare(request)
    transport = request.transport
    loop = asyncio.get_running_loop()
    finished: asyncio.Future[bool] = loop.create_future()
    start = loop.time()
    timer: asyncio.TimerHandle | None = None

    def send(seq: int) -> None:
        nonlocal timer
        if transport is None or transport.is_closing():
            finished.set_result(False)
            return
        data = stamped_event(seq, seq == count - 1)
        transport.write(b"%x\r\n%b\r\n" % (len(data), data))
        if seq + 1 < count:
            timer = loop.call_at(start + (seq + 1) * pace_s, send, seq + 1)
        else:
            timer = loop.call_at(start + count * pace_s, finished.set_result, True)

    send(0)
    try:
        if await finished:
            await response.write((USAGE if usage else b"") + DONE)
            await response.write_eof()
    except (ConnectionError, RuntimeError):
        pass  # the client (a gateway) went away: nothing to finish
    finally:
        if timer is not None:
            timer.cancel()
    return response


async def serve(handler: Callable[[web.BaseRequest], Awaitable[web.StreamResponse]], *,
                host: str, port: int, lifetime: float) -> None:
    """Serve ``handler`` on ``host:port`` until a signal, the parent's exit or ``lifetime``."""
    server = web.Server(handler, access_log=None)
    loop = asyncio.get_running_loop()
    listener = await loop.create_server(server, host, port, backlog=4096)
    bound = listener.sockets[0].getsockname()[1]
    print(f"listening on http://{host}:{bound}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    parent = os.getppid()
    deadline = loop.time() + lifetime
    try:
        while not stop.is_set() and loop.time() < deadline and os.getppid() == parent:
            try:
                await asyncio.wait_for(stop.wait(), timeout=1.0)
            except TimeoutError:
                pass
    finally:
        listener.close()
        await server.shutdown(timeout=1.0)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.upstream",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--pace-ms", type=float, default=20.0, help="gap between stream events")
    parser.add_argument("--lifetime", type=float, default=3600.0,
                        help="exit after this many seconds")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.host not in ("127.0.0.1", "::1", "localhost"):
        raise SystemExit("the bench upstream listens on loopback only")
    loops.run(serve(make_handler(args.pace_ms / 1000.0), host=args.host, port=args.port,
                      lifetime=args.lifetime))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
