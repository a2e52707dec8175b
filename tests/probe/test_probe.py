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
    """``mode``: ``clean``, ``buffer``, ``gzip`` or ``strip-id``; ``buffer+strip-id`` both."""
    modes = set(mode.split("+"))

    async def handle(request: web.Request) -> web.StreamResponse:
        async with aiohttp.ClientSession(auto_decompress=False) as http:
            headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
            async with http.request(request.method, upstream + request.path_qs,
                                    headers=headers, data=await request.read()) as up:
                out_headers = {k: v for k, v in up.headers.items() if k.lower() not in HOP}
                if "strip-id" in modes:
                    out_headers = {k: v for k, v in out_headers.items()
                                   if k.lower() != "x-request-id"}
                if "gzip" in modes:
                    out_headers["Content-Encoding"] = "gzip"
                response = web.StreamResponse(status=up.status, headers=out_headers)
                await response.prepare(request)
                if modes & {"buffer", "gzip"}:
                    body = await up.read()  # hold every event until the stream ends
                    if "gzip" in modes:
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


async def probe(url: str, gateway, *extra: str, body: str = BODY) -> tuple[int, str]:
    """Run ``behest-local probe URL -H auth -H pace -d BODY …`` in this loop."""
    parser = argparse.ArgumentParser()
    add_probe_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["probe", url, "-H", f"Authorization: Bearer {gateway.key}", "-H",
                              f"x-behest-emulate: {PACE}", "-d", body, *extra])
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


LONG = json.dumps({**json.loads(BODY), "max_tokens": 40})
"""A 0.8 s stream at PACE: a buffering proxy then holds it long enough (over the 0.3 s
of silence the arrivals-only rule asks for) to look buffered without a timeline."""


async def test_a_stream_that_looks_buffered_exits_1_and_says_how_to_be_certain(
        gateway, aiohttp_server):
    server = await aiohttp_server(proxy_app(gateway.url, "buffer+strip-id"))
    code, text = await probe(str(server.make_url("/v1/chat/completions")), gateway, body=LONG)
    assert code == 1, text
    assert "BUFFERED: all" in text and "the stream looks buffered" in text
    assert "to make this verdict certain, pass the gateway's X-Request-Id response header " \
           "back through your app (the response has none)" in text
    assert "proxy_buffering off" in text  # the causes and fixes, as for a certain verdict
    assert gateway.reports == []  # nothing to report to: no exchange was named


async def test_a_request_id_of_an_unreachable_gateway_still_exits_1_and_names_gateway_flag(
        gateway, aiohttp_server, unused_tcp_port):
    server = await aiohttp_server(proxy_app(gateway.url, "buffer"))
    code, text = await probe(str(server.make_url("/v1/chat/completions")), gateway,
                             "--gateway", f"http://127.0.0.1:{unused_tcp_port}", body=LONG)
    assert code == 1, text
    assert "the stream looks buffered" in text
    assert "to make this verdict certain, point --gateway URL at the behest-local your app " \
           "uses (X-Request-Id req_" in text
    assert "gateway: no timeline for req_" in text  # and why the timeline is missing


async def test_the_gateway_announced_on_the_state_dir_is_asked_without_being_named(
        gateway, aiohttp_server, isolated_home):
    """The proxy serves only /v1 (not the gateway's /_behest/ timeline) and the gateway is
    not on the default port: its address file in the state dir is where the probe finds
    it, so the verdict compares departures instead of guessing."""
    from behest_local.runtime import address

    isolated_home.mkdir(parents=True, exist_ok=True)
    address.announce(isolated_home, gateway.url)
    server = await aiohttp_server(proxy_app(gateway.url, "buffer"))
    code, text = await probe(str(server.make_url("/v1/chat/completions")), gateway)
    assert code == 1, text
    assert "gateway: exchange req_" in text and f"at {gateway.url} (" in text
    assert "BUFFERED: events left the gateway" in text


async def test_a_failed_request_prints_the_status_and_the_error_message(gateway):
    parser = argparse.ArgumentParser()
    add_probe_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["probe", gateway.url + "/v1/chat/completions", "-d", BODY])
    out = io.StringIO()
    code = await probe_and_print(args, [], BODY.encode(), out)
    text = out.getvalue()
    assert code == 2, text
    assert "ERROR: the server answered HTTP 401, not a stream: " in text
    assert "API key" in text.split("ERROR:")[1]  # the error body's own message
    assert "None" not in text  # no event count for an answer that is not a stream


async def test_a_non_stream_answer_is_an_error_naming_status_and_content_type(gateway):
    code, text = await probe(gateway.url + "/v1/chat/completions", gateway,
                             body=json.dumps({**json.loads(BODY), "stream": False}))
    assert code == 2, text
    assert "ERROR: the server answered HTTP 200 but not an event stream (Content-Type: " \
           "application/json" in text


def test_probe_help_documents_every_exit_code(capsys):
    from behest_local.cli.main import main
    from behest_local.probe.verdict import LEVELS

    with pytest.raises(SystemExit) as exit_:
        main(["probe", "--help"])
    out = capsys.readouterr().out
    assert exit_.value.code == 0
    assert "exit codes" in out
    for level, (code, meaning) in LEVELS.items():
        assert f"{code}  {level}:" in out and meaning in out
    assert {code for code, _ in LEVELS.values()} == {0, 1, 2}  # as the README says


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
