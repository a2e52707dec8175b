"""``behest-local probe`` against the live gateway, behind proxies that buffer or not.

Each proxy is a small aiohttp app in front of the real gateway (started in this loop):
a clean one forwards every read as it arrives; a buffering one holds the whole stream
and flushes it at the end, as nginx with ``proxy_buffering on`` or a framework that
awaits the upstream body does; a compressing one gzips the stream (what a gzip
middleware does to SSE). The verdicts are asserted, including the wording the user
reads.
"""

from __future__ import annotations

import argparse
import io
import json
import zlib
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from behest_local.exchange.events import ProbeReported
from behest_local.runtime.running import RunningGateway
from behest_local.cli.probe_cmd import add_probe_parser, probe_and_print
from behest_local.server.routes import inspect as inspect_routes
from tests.conftest import TEST_SETTINGS
from tests.trace_support import start_gateway

PACE = "tokens_per_second=50"  # ~20 ms between events, ~15 events: a 0.3 s stream
BODY = json.dumps({"model": "gpt-4o-mini", "stream": True, "max_tokens": 14,
                   "messages": [{"role": "user", "content": "Count to twenty."}]})
HOP = {"content-length", "transfer-encoding", "connection", "content-encoding"}


@dataclass
class Gateway:
    running: RunningGateway
    key: str
    reports: list = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.running.url


@pytest.fixture
async def gateway(tmp_path):
    running, key = await start_gateway(tmp_path / "home", TEST_SETTINGS)
    live = Gateway(running, key)
    running.gateway.store.subscribe(
        lambda event, _exchange: live.reports.append(event)
        if isinstance(event, ProbeReported) else None)
    yield live
    await running.close()


def proxy_app(upstream: str, mode: str) -> web.Application:
    async def handle(request: web.Request) -> web.StreamResponse:
        async with aiohttp.ClientSession(auto_decompress=False) as http:
            headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
            async with http.request(request.method, upstream + request.path_qs,
                                    headers=headers, data=await request.read()) as up:
                out_headers = {k: v for k, v in up.headers.items() if k.lower() not in HOP}
                if mode == "strip-id":
                    out_headers = {k: v for k, v in out_headers.items()
                                   if k.lower() != "x-request-id"}
                if mode == "gzip":
                    out_headers["Content-Encoding"] = "gzip"
                response = web.StreamResponse(status=up.status, headers=out_headers)
                await response.prepare(request)
                if mode in ("buffer", "gzip"):
                    body = await up.read()  # hold every event until the stream ends
                    if mode == "gzip":
                        packer = zlib.compressobj(wbits=31)
                        body = packer.compress(body) + packer.flush()
                    await response.write(body)
                else:
                    async for data in up.content.iter_any():
                        await response.write(data)
                await response.write_eof()
                return response

    app = web.Application()
    app.router.add_route("*", "/v1/{tail:.*}", handle)
    return app


async def probe(url: str, gateway, *extra: str) -> tuple[int, str]:
    """Run ``behest-local probe URL -H auth -H pace -d BODY …`` in this loop."""
    parser = argparse.ArgumentParser()
    add_probe_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["probe", url, "-H", f"Authorization: Bearer {gateway.key}", "-H",
                              f"x-behest-emulate: {PACE}", "-d", BODY, *extra])
    headers = [tuple(h.split(": ", 1)) for h in args.header]
    out = io.StringIO()
    code = await probe_and_print(args, headers, args.data.encode(), out)
    return code, out.getvalue()


async def test_a_buffering_proxy_is_caught_and_explained(gateway, aiohttp_server):
    server = await aiohttp_server(proxy_app(gateway.url, "buffer"))
    code, text = await probe(str(server.make_url("/v1/chat/completions")), gateway,
                                "--gateway", gateway.url)
    assert code == 1, text
    assert "BUFFERED: events left the gateway" in text
    assert "apart but arrived together" in text and "something between is buffering" in text
    assert "proxy_buffering off" in text and "Content-Encoding: none" in text  # causes + fixes
    assert "<- arrived together" in text  # the per-event timeline marks the burst
    assert gateway.reports and gateway.reports[-1].level == "buffered"
    assert len(gateway.reports[-1].client) >= 10  # arrival times, for the TUI's timeline


async def test_a_clean_proxy_passes(gateway, aiohttp_server):
    server = await aiohttp_server(proxy_app(gateway.url, "clean"))
    code, text = await probe(str(server.make_url("/v1/chat/completions")), gateway,
                                "--gateway", gateway.url)
    assert code == 0, text
    assert "OK: no buffering: every event arrived within" in text
    assert "left gateway ms" in text  # departures compared, per event
    assert gateway.reports[-1].level == "ok"


async def test_the_gateway_itself_is_found_without_being_told(gateway):
    code, text = await probe(gateway.url + "/v1/chat/completions", gateway)
    assert code == 0, text
    assert "gateway: exchange req_" in text and gateway.url in text
    assert "findings:" not in text  # the gateway sends every anti-buffering header


async def test_compressed_sse_is_flagged(gateway, aiohttp_server):
    server = await aiohttp_server(proxy_app(gateway.url, "gzip"))
    code, text = await probe(str(server.make_url("/v1/chat/completions")), gateway,
                                "--gateway", gateway.url)
    assert code == 1, text
    assert "compressed SSE (Content-Encoding: gzip)" in text


async def test_without_a_request_id_the_probe_judges_arrivals_and_says_what_to_pass(
        gateway, aiohttp_server):
    server = await aiohttp_server(proxy_app(gateway.url, "strip-id"))
    code, text = await probe(str(server.make_url("/v1/chat/completions")), gateway)
    assert code == 0, text
    assert "no sign of buffering" in text
    assert "the response has no X-Request-Id" in text
    assert "no `X-Accel-Buffering: no`" not in text  # the proxy passed the headers on
    assert gateway.reports == []  # nothing to report to: no exchange was named


async def test_a_failed_request_is_an_error_not_a_verdict(gateway):
    parser = argparse.ArgumentParser()
    add_probe_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["probe", gateway.url + "/v1/chat/completions", "-d", BODY])
    out = io.StringIO()
    code = await probe_and_print(args, [], BODY.encode(), out)
    assert code == 2 and "ERROR: the server answered HTTP 401" in out.getvalue()


async def test_the_timeline_endpoint_answers_loopback_only(gateway):
    async with aiohttp.ClientSession() as http:
        async with http.post(gateway.url + "/v1/chat/completions", data=BODY, headers={
                "Authorization": f"Bearer {gateway.key}", "Content-Type": "application/json"}) \
                as resp:
            request_id = resp.headers["X-Request-Id"]
            await resp.read()
        url = f"{gateway.url}/_behest/exchanges/{request_id}/timeline"
        async with http.get(url) as resp:
            data = await resp.json()
        assert data["complete"] and len(data["departures_unix"]) == len(data["departures"]) > 5
        assert data["departures_unix"][0] >= data["wall_time"]
        async with http.get(url, headers={"Origin": "https://evil.example"}) as resp:
            assert resp.status == 403
        async with http.get(f"{gateway.url}/_behest/exchanges/req_nope/timeline") as resp:
            assert resp.status == 404 and "recent exchange" in (await resp.json())["error"]["message"]
        async with http.post(url.replace("timeline", "probe"), data="x",
                             headers={"Content-Type": "text/plain"}) as resp:
            assert resp.status == 415  # a cross-site form post cannot report probes
    remote = make_mocked_request("GET", "/", headers={},
                                 transport=_Transport(("203.0.113.9", 4000)))
    assert inspect_routes._guard(remote).status == 403


class _Transport:
    def __init__(self, peer):
        self.peer = peer

    def get_extra_info(self, name, default=None):
        return self.peer if name == "peername" else default
