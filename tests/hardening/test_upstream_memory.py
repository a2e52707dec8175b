"""Issue 17 item 2: whatever an upstream sends, the gateway's memory stays bounded.

``behest-local serve --headless`` runs in a subprocess, so its resident set is its own
(``/proc/PID/status``): the baseline is taken after a first, ordinary stream through the
same provider has loaded everything a request needs, the peak (``VmHWM``) is reset there,
and after the hostile request the peak may be at most ``BOUND`` above the baseline. While
the request runs the resident set is also sampled, so a gateway without caps fails at the
bound instead of growing until the upstream's own limit.
"""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from behest_local.sse import decode_all
from tests.hardening.upstream_support import (GatewayProcess, RawUpstream, SSE_HEAD, chat,
                                              chunk, endless_body, endless_event,
                                              endless_events, endless_line, event)

MB = 1_000_000
BOUND = 50 * MB
"""The issue's target: the gateway's resident set grows by at most this much."""
TIMEOUT = 45  # seconds: under pytest-timeout's 60, generous for a busy 2-core machine
FLOOD = 128 * 1024 * 1024
"""How much of an endless stream of valid events the client reads before it leaves: some
800,000 events, enough for the per-event growth this guards against to pass the bound
(it did at 108 MB); relaying them takes ~10-30 s on a 2-core machine, so more time."""
FLOOD_TIMEOUT = 120


async def ordinary_stream(up: RawUpstream, writer: asyncio.StreamWriter) -> None:
    """A short, complete stream on a connection not to be reused (a RawUpstream answers
    one request per connection)."""
    head = SSE_HEAD.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n")
    await up.write(writer, head + chunk(event()) + chunk(event(finish="stop"))
                   + chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n")


@pytest.fixture
def gateway(tmp_path):
    started = []

    def run(upstream: RawUpstream, *provider: str) -> GatewayProcess:
        started.append(GatewayProcess(tmp_path / "gw-home", upstream.base_url, *provider))
        return started[-1]

    yield run
    for process in started:
        process.stop()


class Watch:
    """The gateway's resident set while a request runs: ``over`` fires past the bound."""

    def __init__(self, process: GatewayProcess, baseline: int) -> None:
        self.process, self.limit = process, baseline + BOUND
        self.over = asyncio.Event()
        self.highest = baseline

    async def run(self) -> None:
        while not self.over.is_set():
            self.highest = max(self.highest, self.process.status("VmRSS"))
            if self.highest > self.limit:
                self.over.set()
            await asyncio.sleep(0.05)  # a sampling period, not a synchronisation


async def _bounded(process: GatewayProcess, up: RawUpstream, request,
                   timeout: float = TIMEOUT) -> object:
    """Run ``request`` (a coroutine function of an aiohttp session) after an ordinary
    stream; fail if the gateway's memory passes the bound meanwhile, or after ``timeout``
    seconds. Returns its result."""
    headers = {"Authorization": f"Bearer {process.key}"}
    async with aiohttp.ClientSession(process.url, headers=headers) as session:
        behaviour, up.behaviour = up.behaviour, ordinary_stream
        async with session.post("/v1/chat/completions", json=chat(stream=True)) as warm:
            assert warm.status == 200
            await warm.read()
        await asyncio.wait_for(up.closed.wait(), TIMEOUT)  # the gateway closed it: not pooled
        up.behaviour = behaviour
        up.requested.clear()
        up.closed.clear()
        baseline = process.status("VmRSS")
        process.reset_peak()
        watch = Watch(process, baseline)
        sampler = asyncio.create_task(watch.run())
        work = asyncio.create_task(request(session))
        try:
            done, _ = await asyncio.wait({work, asyncio.create_task(watch.over.wait())},
                                         timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            assert work in done, (
                f"the gateway's RSS grew by {(watch.highest - baseline) / MB:.0f} MB "
                f"(bound {BOUND / MB:.0f} MB) while the upstream sent {up.sent / MB:.0f} MB"
                if watch.over.is_set() else f"no answer within {timeout} s")
        finally:
            work.cancel()
            watch.over.set()
            await asyncio.gather(work, sampler, return_exceptions=True)
        grown = process.status("VmHWM") - baseline
        assert grown < BOUND, f"the gateway's peak RSS grew by {grown / MB:.0f} MB"
        return work.result()


async def _stream_error(session: aiohttp.ClientSession) -> dict:
    async with session.post("/v1/chat/completions", json=chat(stream=True)) as response:
        assert response.status == 200
        return json.loads(decode_all(await response.read())[-1].data)


@pytest.mark.parametrize("behaviour", [endless_line, endless_event], ids=["line", "event"])
async def test_an_endless_stream_event_keeps_memory_bounded_and_ends_in_an_error(
        gateway, behaviour):
    async with RawUpstream(behaviour) as up:
        process = gateway(up)
        last = await _bounded(process, up, _stream_error)
        assert last["error"]["code"] == "upstream_event_too_large"
        await asyncio.wait_for(up.closed.wait(), TIMEOUT)


async def test_an_endless_reply_body_keeps_memory_bounded_and_is_a_502(gateway):
    async with RawUpstream(endless_body) as up:
        # The default body cap (64 MiB) is above this test's bound by design: a body is
        # read whole, so this gateway is given a lower one.
        process = gateway(up, "max_response_bytes = 16777216")

        async def post(session: aiohttp.ClientSession) -> tuple[int, dict]:
            async with session.post("/v1/chat/completions", json=chat(stream=False)) as answer:
                return answer.status, await answer.json()

        status, body = await _bounded(process, up, post)
        assert status == 502
        assert body["error"]["code"] == "upstream_response_too_large"
        await asyncio.wait_for(up.closed.wait(), TIMEOUT)

@pytest.mark.timeout(FLOOD_TIMEOUT + 30)
async def test_an_endless_stream_of_events_keeps_memory_bounded_while_relayed(gateway):
    async with RawUpstream(endless_events) as up:
        process = gateway(up)

        async def read_then_leave(session: aiohttp.ClientSession) -> int:
            received = 0
            async with session.post("/v1/chat/completions", json=chat(stream=True)) as response:
                assert response.status == 200
                async for data in response.content.iter_any():
                    received += len(data)
                    if received >= FLOOD:
                        break
            return received

        assert await _bounded(process, up, read_then_leave, FLOOD_TIMEOUT) >= FLOOD
        await asyncio.wait_for(up.closed.wait(), TIMEOUT)
