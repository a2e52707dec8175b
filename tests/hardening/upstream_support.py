"""Hostile upstreams for the hardening tests of item 2 (``test_upstream_*.py``).

``RawUpstream`` is an OpenAI-compatible upstream on a bare asyncio server: it writes exactly
the bytes a behaviour scripts (no framework between that could buffer, frame or time out),
and it notices the moment the gateway closes the connection (``closed``), which is what
these tests assert on. Every behaviour stops by itself after ``limit`` bytes, so a gateway
without the caps under test fails the test instead of filling the machine's memory.

``gateway_settings`` points a custom provider ``ollama`` (models ``llama*``, no key) at one;
``GatewayProcess`` is a ``tests.serve_process.ServeProcess`` configured so, for the memory
tests, whose resident set it reads from ``/proc``.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import re
import subprocess
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

from behest_local.config import ProviderConfig, Settings
from tests.conftest import TEST_SETTINGS
from tests.serve_process import PY, ServeProcess

PROVIDER = "ollama"
MODEL = "llama3.2"
LIMIT = 512 * 1024 * 1024
"""Bytes after which any behaviour stops writing: far past every cap under test."""
PIECE = 64 * 1024

SSE_HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
JSON_HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
             b"Transfer-Encoding: chunked\r\n\r\n")


def chunk(data: bytes) -> bytes:
    """One HTTP/1.1 chunk (RFC 9112 §7.1) carrying ``data``."""
    return b"%x\r\n%b\r\n" % (len(data), data)


def event(content: str = "hi", finish: str | None = None) -> bytes:
    """One OpenAI ``chat.completion.chunk`` as an SSE event."""
    delta = {"role": "assistant", "content": content} if finish is None else {}
    return b"data: " + json.dumps({
        "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": MODEL,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}).encode() + b"\n\n"


Behaviour = Callable[["RawUpstream", asyncio.StreamWriter], Awaitable[None]]


class RawUpstream:
    """A scripted upstream; ``requested`` and ``closed`` say what the gateway did."""

    def __init__(self, behaviour: Behaviour, *, limit: int = LIMIT) -> None:
        self.behaviour = behaviour
        self.limit = limit
        self.sent = 0
        self.requested = asyncio.Event()
        """A whole request (head and body) arrived."""
        self.closed = asyncio.Event()
        """The gateway closed a connection on which a request had arrived."""
        self.closed_at: float | None = None
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task] = set()

    async def __aenter__(self) -> RawUpstream:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    @property
    def base_url(self) -> str:
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/v1"

    async def write(self, writer: asyncio.StreamWriter, data: bytes) -> bool:
        """Send ``data``; False once the gateway has gone or ``limit`` is spent."""
        if self.closed.is_set() or self.sent >= self.limit:
            return False
        writer.write(data)
        self.sent += len(data)
        await writer.drain()
        return True

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._tasks.add(task)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
            await reader.readexactly(int(length.group(1)) if length else 0)
            self.requested.set()
            watch = asyncio.create_task(self._watch(reader))
            self._tasks.add(watch)
            try:
                await self.behaviour(self, writer)
            except ConnectionError:
                pass
            await watch  # the connection is kept until the gateway closes it
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            pass  # the test is over (__aexit__); asyncio's server would log it as an error
        finally:
            writer.close()
            self._tasks.discard(task)

    async def _watch(self, reader: asyncio.StreamReader) -> None:
        try:
            while await reader.read(PIECE):
                pass
        except ConnectionError:
            pass
        self.closed_at = asyncio.get_running_loop().time()
        self.closed.set()


# -- behaviours ---------------------------------------------------------------------------

async def hang(up: RawUpstream, writer: asyncio.StreamWriter) -> None:
    """Never answer."""


async def hang_after_one_event(up: RawUpstream, writer: asyncio.StreamWriter) -> None:
    """The stream's head and one event, then nothing."""
    await up.write(writer, SSE_HEAD + chunk(event()))


def _endless(opening: bytes, piece: bytes, about: str) -> Behaviour:
    """An upstream that sends ``opening``, then ``piece`` again and again, as fast as the
    gateway takes it, until the gateway hangs up."""
    async def behaviour(up: RawUpstream, writer: asyncio.StreamWriter) -> None:
        if await up.write(writer, opening):
            while await up.write(writer, piece):
                pass
    behaviour.__doc__ = about
    return behaviour


endless_events = _endless(SSE_HEAD, chunk(event() * (PIECE // len(event()))),
                          "Valid events, as fast as the gateway takes them, without end.")
endless_line = _endless(SSE_HEAD + chunk(event()) + chunk(b"data: "), chunk(b"x" * PIECE),
                        "One event, then a ``data:`` line that never ends (no newline, ever).")
endless_line_first = _endless(SSE_HEAD + chunk(b"data: "), chunk(b"x" * PIECE),
                              "A ``data:`` line that never ends, before any event.")
endless_event = _endless(SSE_HEAD + chunk(event()), chunk(b"data: x\n" * (PIECE // 8)),
                         "One event, then ``data:`` lines that never reach the blank line "
                         "ending an event.")
endless_body = _endless(JSON_HEAD + chunk(b'{"id": "'), chunk(b"x" * PIECE),
                        "A non-streamed JSON reply whose body never ends.")


def sized_body(size: int) -> Behaviour:
    """A non-streamed reply of ``size`` bytes, announced by its ``Content-Length``."""
    async def send(up: RawUpstream, writer: asyncio.StreamWriter) -> None:
        if await up.write(writer, b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                  b"Content-Length: %d\r\n\r\n{\"id\": \"" % size):
            left = size - 8
            while left > 0 and await up.write(writer, b"x" * min(PIECE, left)):
                left -= PIECE
    return send


def gzipped_body(size: int) -> Behaviour:
    """A non-streamed reply of ``size`` bytes of JSON-ish text, sent gzip-compressed (an
    upstream that ignores ``Accept-Encoding: identity``): a few KiB on the wire."""
    body = gzip.compress(b'{"id": "' + b"x" * size + b'"}')

    async def send(up: RawUpstream, writer: asyncio.StreamWriter) -> None:
        await up.write(writer, b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                               b"Content-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%b"
                               % (len(body), body))
    return send


def truncated_stream(up: RawUpstream, writer: asyncio.StreamWriter) -> Awaitable[None]:
    """One event, then the end of the body without ``[DONE]`` or a finish."""
    return up.write(writer, SSE_HEAD + chunk(event()) + b"0\r\n\r\n")


# -- the gateway ---------------------------------------------------------------------------

def gateway_settings(upstream: RawUpstream, **provider: object) -> Settings:
    """The test settings with ``ollama`` at ``upstream`` (``provider``: more of its config)."""
    config = ProviderConfig(base_url=upstream.base_url, prefixes=("llama",),
                            requires_key=False, **provider)
    return replace(TEST_SETTINGS, providers=MappingProxyType({PROVIDER: config}))


def chat(stream: bool, content: str = "Hi") -> dict:
    return {"model": MODEL, "stream": stream, "messages": [{"role": "user", "content": content}]}


class GatewayProcess(ServeProcess):
    """``behest-local serve --headless`` (``tests.serve_process``) with ``ollama`` at
    ``base_url`` (``provider``: more lines of its ``[providers.ollama]`` table) and a
    project ``local`` key (``key``), made before it starts."""

    def __init__(self, home: Path, base_url: str, *provider: str) -> None:
        made = subprocess.run([*PY, "keys", "create", "--project", "local", "--home", str(home)],
                              capture_output=True, text=True, timeout=60, check=True)
        self.key = re.search(r"\b(behest_sk_\w+)", made.stdout).group(1)
        super().__init__(home, config="\n".join([
            "[server]", "port = 0", "", "[emulator]", "enforce_limits = false", "",
            f"[providers.{PROVIDER}]", f'base_url = "{base_url}"', 'prefixes = ["llama"]',
            "requires_key = false", *provider, "", "[[projects]]", 'name = "local"', ""]))

    def status(self, field: str) -> int:
        """A ``VmRSS``/``VmHWM`` figure of the process, in bytes."""
        text = Path(f"/proc/{self.pid}/status").read_text()
        return int(re.search(rf"^{field}:\s+(\d+) kB", text, re.M).group(1)) * 1024

    def reset_peak(self) -> None:
        """Start ``VmHWM`` again from the current RSS (Linux ≥ 4.0, clear_refs ``5``)."""
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")
