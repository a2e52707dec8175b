"""A connection that never completes a request head is closed at ``[server] header_timeout_s``
(issue 17, item 8): silent, dripping a head a byte at a time (slowloris), or idle after a
response. The deadline covers the whole head, not the gaps between bytes; a request being
answered, however long, is never cut by it.

Each test runs the gateway as ``serve`` does (``runtime.running.start``) with a one-second
deadline, talks to it over raw sockets, and waits for the socket to close (bounded).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import aiohttp
import pytest

from behest_local import config
from behest_local.config import ConfigError
from behest_local.runtime.build import ServeOptions
from behest_local.runtime.running import start
from tests.conftest import TEST_SETTINGS

DEADLINE = 1.0
CLOSED_WITHIN = 20.0
"""Generous: the server must close well before this; on a busy machine it is still ~1 s."""
HEAD = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nX-Pad: " + b"a" * 600 + b"\r\n\r\n")
DRIP = 0.05
"""Seconds between dripped bytes: far below the deadline, so an idle timeout never fires,
while the whole head would take ``len(HEAD) * DRIP`` (over 30 s) to arrive."""


@pytest.fixture
async def gateway(tmp_path):
    settings = replace(TEST_SETTINGS, server=replace(TEST_SETTINGS.server,
                                                     header_timeout_s=DEADLINE))
    running = await start(ServeOptions(home=tmp_path / "home"), settings=settings)
    yield running
    await running.close()


async def closed_by_server(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sent until it closed the connection (EOF or reset)."""
    received = b""
    try:
        while chunk := await reader.read(65536):
            received += chunk
    except ConnectionResetError:
        pass
    return received


async def connect(gateway) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, float]:
    reader, writer = await asyncio.open_connection(gateway.host, gateway.port)
    return reader, writer, time.monotonic()


async def drip(writer: asyncio.StreamWriter, data: bytes, sent: list[int]) -> None:
    """A slowloris client: ``data`` one byte at a time until the server hangs up."""
    for i in range(len(data)):
        try:
            writer.write(data[i:i + 1])
            await writer.drain()
        except (ConnectionError, RuntimeError):  # the server closed the connection
            return
        sent[0] = i + 1
        await asyncio.sleep(DRIP)  # the attack's pace, not a synchronisation


async def test_a_silent_connection_is_closed_at_the_deadline(gateway):
    reader, writer, opened = await connect(gateway)
    received = await asyncio.wait_for(closed_by_server(reader), CLOSED_WITHIN)
    waited = time.monotonic() - opened
    writer.close()
    assert received == b""  # nothing to answer: no request was made
    assert DEADLINE * 0.9 <= waited < CLOSED_WITHIN


async def test_a_head_sent_a_byte_at_a_time_is_cut_at_the_same_deadline(gateway):
    reader, writer, opened = await connect(gateway)
    sent = [0]
    dripping = asyncio.create_task(drip(writer, HEAD, sent))
    try:
        await asyncio.wait_for(closed_by_server(reader), CLOSED_WITHIN)
    finally:
        dripping.cancel()
        writer.close()
    waited = time.monotonic() - opened
    assert DEADLINE * 0.9 <= waited < CLOSED_WITHIN
    assert 0 < sent[0] < len(HEAD), "the server waited for the whole dripped head"


async def test_the_next_head_on_a_kept_alive_connection_has_the_same_deadline(gateway):
    reader, writer, _ = await connect(gateway)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    await writer.drain()
    status = await asyncio.wait_for(reader.readline(), CLOSED_WITHIN)
    assert status.startswith(b"HTTP/1.1 200"), status
    answered = time.monotonic()
    sent = [0]
    dripping = asyncio.create_task(drip(writer, HEAD, sent))
    try:
        rest = await asyncio.wait_for(closed_by_server(reader), CLOSED_WITHIN)
    finally:
        dripping.cancel()
        writer.close()
    assert b"HTTP/1.1" not in rest.split(b"\r\n\r\n", 1)[-1]  # no second answer
    assert DEADLINE * 0.9 <= time.monotonic() - answered < CLOSED_WITHIN
    assert sent[0] < len(HEAD)


async def test_a_request_answered_for_longer_than_the_deadline_is_not_cut(gateway):
    key, _ = gateway.gateway.keys.create("local")
    body = {"model": "gpt-4o", "stream": True,
            "messages": [{"role": "user", "content": "Say hello"}]}
    # The first token comes 2.5 deadlines in; two requests on one kept-alive connection.
    headers = {"Authorization": f"Bearer {key}",
               "x-behest-emulate": f"first_token_ms={int(DEADLINE * 2500)}"}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as session:
        for _ in range(2):
            async with session.post(gateway.url + "/v1/chat/completions", json=body,
                                    headers=headers) as resp:
                assert resp.status == 200
                text = await resp.text()
            assert text.rstrip().endswith("data: [DONE]")


def test_the_deadline_is_configured_in_server_with_a_checked_range(tmp_path):
    assert config.ServerConfig().header_timeout_s == 30.0
    path = tmp_path / "behest.toml"
    path.write_text("[server]\nheader_timeout_s = 2.5\n")
    assert config.load(path).server.header_timeout_s == 2.5
    path.write_text("[server]\nport = 0\nheader_timeout_s = 0\n")
    with pytest.raises(ConfigError) as info:
        config.load(path)
    assert str(info.value) == (f"{path}:3: server.header_timeout_s: expected a number from "
                               "0.1 to 3600, got the number 0")
