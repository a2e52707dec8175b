"""Issue 17 item 2: a client that leaves takes its upstream request with it.

The gateway runs as ``behest-local serve`` runs it (``runtime.start``: aiohttp's
``AppRunner`` as configured there, not the test server, which always cancels handlers),
in front of a ``RawUpstream`` that hangs or streams without end. The client is a bare
socket that sends its request, waits for the upstream to have it (and, after the
response started, for its first event), then closes. The upstream must see its
connection closed within a second, whether the gateway was waiting for an answer, for
the next event or relaying a flood, and the exchange is recorded as cancelled by the
client (499 ``client_closed``/``cancelled``). The control plane, whose handlers write
state in several steps, finishes what it started all the same.
"""

from __future__ import annotations

import asyncio
import json
import threading

import pytest

from behest_local.exchange.events import ExchangeFailed
from behest_local.runtime.build import ServeOptions
from behest_local.runtime.running import start
from behest_local.vault.store import Vault
from tests.conftest import Recorder, poll_until
from tests.hardening.upstream_support import (RawUpstream, chat, endless_events,
                                              gateway_settings, hang, hang_after_one_event)

WITHIN_S = 1.0
"""How soon after the client closes the upstream must see its connection closed."""
BOUND_S = 10.0
"""How long any wait may last before the test fails (never reached by a working gateway)."""


@pytest.fixture
async def serve(tmp_path):
    """``await serve(upstream)``: a gateway started as the CLI starts it; returns it, a
    project key and a trace recorder."""
    started = []

    async def run(upstream: RawUpstream):
        running = await start(ServeOptions(home=tmp_path / "gw-home"),
                              settings=gateway_settings(upstream))
        started.append(running)
        key, _ = running.gateway.keys.create("local")
        recorder = Recorder()
        running.gateway.store.subscribe(recorder)
        return running, key, recorder

    yield run
    for running in started:
        await running.close()


async def _leave(running, key: str, up: RawUpstream, *, stream: bool, started: bool) -> float:
    """Send a chat request on a bare socket, wait until the upstream has it (and, if
    ``started``, until the first event reached the client), then close. Returns when."""
    reader, writer = await asyncio.open_connection("127.0.0.1", running.port)
    body = json.dumps(chat(stream)).encode()
    writer.write(f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{running.port}\r\n"
                 f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
                 f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    await asyncio.wait_for(up.requested.wait(), BOUND_S)
    if started:
        received = b""
        while b"data: " not in received:
            data = await asyncio.wait_for(reader.read(65536), BOUND_S)
            assert data, "the gateway closed the connection"
            received += data
        assert received.startswith(b"HTTP/1.1 200")
    writer.close()
    return asyncio.get_running_loop().time()


def _failures(recorder: Recorder) -> list[ExchangeFailed]:
    return [e for e in recorder.events if isinstance(e, ExchangeFailed)]


@pytest.mark.parametrize(("behaviour", "stream", "started"), [
    (hang, False, False),
    (hang, True, False),
    (hang_after_one_event, True, True),
    (endless_events, True, True),
], ids=["unstreamed-hung", "stream-hung-before-head", "stream-hung-after-first-event",
        "stream-without-end"])
async def test_a_client_that_leaves_closes_the_upstream_connection_within_a_second(
        serve, behaviour, stream, started):
    async with RawUpstream(behaviour) as up:
        running, key, recorder = await serve(up)
        left = await _leave(running, key, up, stream=stream, started=started)
        await asyncio.wait_for(up.closed.wait(), BOUND_S)
        assert up.closed_at - left < WITHIN_S
        await poll_until(lambda: _failures(recorder), BOUND_S)
        failure = _failures(recorder)[-1]
        assert (failure.status, failure.cancelled) == (499, True)


async def test_a_management_write_whose_client_leaves_still_completes(make_gateway_client,
                                                                      monkeypatch):
    """Cancelling handlers must not split the control plane's steps: a provider key whose
    client left while the vault was being written still reaches the key index."""
    client = await make_gateway_client()  # aiohttp's test server cancels handlers too
    recorder = Recorder()
    client.gateway.store.subscribe(recorder)
    entered, release = threading.Event(), threading.Event()
    write = Vault.set

    def held_write(vault, provider, key):
        entered.set()
        release.wait(BOUND_S)
        return write(vault, provider, key)

    monkeypatch.setattr(Vault, "set", held_write)
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    body = json.dumps({"api_key": "sk-proj-" + "a1b2c3d4" * 6 + "WXYZ"}).encode()
    writer.write(f"PUT /v1/tenants/local/providers/openai HTTP/1.1\r\n"
                 f"Host: {client.server.host}:{client.server.port}\r\n"
                 f"Authorization: {client.dash['Authorization']}\r\n"
                 f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
                 .encode() + body)
    assert await asyncio.to_thread(entered.wait, BOUND_S)
    writer.close()
    await poll_until(lambda: _failures(recorder), BOUND_S)
    assert _failures(recorder)[-1].cancelled  # the request itself ended with its client
    release.set()
    await poll_until(lambda: client.gateway.provider_keys.has("openai"), BOUND_S)
