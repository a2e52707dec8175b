"""Helpers for the door tests (issue 17, items 4-6): raw HTTP over a socket, answer shapes.

* ``raw_http``: bytes in, the whole answer out (read until the server closes), for what
  an HTTP client library will not send: control bytes, undecodable header values,
  broken chunking, a body cut short.
* ``Answer``: status line, headers and JSON body of a raw answer.
* ``serve``: the real gateway as ``behest-local serve`` binds it (``runtime.start``, so
  aiohttp's own parser errors meet the gateway's protocol), on 127.0.0.1:0, in the test's
  loop; ``async with serve(tmp_path) as running``.
* ``assert_openai_error`` / ``assert_flat_error`` / ``assert_nested_error``: the three
  error shapes (OpenAI's on the data plane, Behest's flat one on the management API, its
  nested one on Behest's v1.5 routes).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

from behest_local.runtime.build import ServeOptions
from behest_local.runtime.running import RunningGateway, start
from tests.conftest import TEST_SETTINGS

CANARY = "sk-proj-DOORCANARYz9y8x7w6v5u4t3s2r1q0DOORCANARY"
CHAT = "/v1/chat/completions"
HELLO = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}]}


async def raw_http(host: str, port: int, data: bytes, *, timeout: float = 10,
                   close_after_send: bool = False) -> bytes:
    """Send ``data`` and read the answer until the server closes the connection (send
    ``Connection: close`` for a well-formed request). ``close_after_send`` hangs up at
    once instead, as a client that leaves mid-request."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(data)
        await writer.drain()
        if close_after_send:
            return b""
        return await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


def request_bytes(method: str, path: str, *, headers: list[tuple[bytes, bytes]] = (),
                  body: bytes | None = None, host: bytes = b"127.0.0.1") -> bytes:
    """A request with ``Connection: close`` and, for a body, ``Content-Length``."""
    lines = [f"{method} {path} HTTP/1.1".encode(), b"Host: " + host, b"Connection: close"]
    lines += [name + b": " + value for name, value in headers]
    if body is not None:
        lines.append(b"Content-Length: " + str(len(body)).encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + (body or b"")


@dataclass
class Answer:
    version: str
    status: int
    headers: dict[str, str]
    raw_body: bytes

    @classmethod
    def parse(cls, raw: bytes) -> Answer:
        head, _, body = raw.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        version, status, *_ = status_line.split(" ")
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return cls(version, int(status), headers, body)

    def json(self) -> object:
        assert self.headers.get("content-type", "").startswith("application/json"), self
        return json.loads(self.raw_body)


def assert_openai_error(body: object, *, code: str | None = None,
                        param: str | None = None) -> dict:
    assert isinstance(body, dict) and set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}, error
    assert isinstance(error["message"], str) and error["message"], error
    assert "Traceback" not in error["message"]
    if code is not None:
        assert error["code"] == code, error
    if param is not None:
        assert error["param"] == param, error
    return error


def assert_flat_error(body: object, *, code: str | None = None) -> dict:
    assert isinstance(body, dict) and isinstance(body.get("error"), str), body
    assert isinstance(body.get("code"), str) and body["code"].isupper(), body
    if code is not None:
        assert body["code"] == code, body
    return body


def assert_nested_error(body: object, *, code: str | None = None) -> dict:
    assert isinstance(body, dict) and set(body) == {"error"}, body
    error = body["error"]
    assert {"code", "message"} <= set(error) and "type" not in error, error
    if code is not None:
        assert error["code"] == code, error
    return error


@contextlib.asynccontextmanager
async def serve(home: Path, settings=TEST_SETTINGS) -> AsyncIterator[RunningGateway]:
    """The gateway bound as ``behest-local serve`` binds it, until the block ends."""
    settings = replace(settings, server=replace(settings.server, host="127.0.0.1", port=0))
    running = await start(ServeOptions(home=home), settings=settings)
    try:
        yield running
    finally:
        await running.close()

