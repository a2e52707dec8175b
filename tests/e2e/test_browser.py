"""A real headless Chromium against the gateway: CORS, streaming and a 429, as a page sees them.

Two tiny pages are served from two loopback origins (two ports: two origins, RFC 6454
§4). The project allows the first only. Each page calls ``fetch()`` for a plain and a
streamed chat completion, reading the stream with ``response.body.getReader()`` and noting
when each read arrives, then calls until it meets the project's per-minute limit, and
reports what it could read. The allowed page must read the stream incrementally (paced by
``x-behest-emulate: tokens_per_second``) and the 429's ``Retry-After``; the refused page
must be blocked by the browser itself ("Failed to fetch"), with the refusal traced.

Chromium is Debian's (``apt-get install chromium``, done by ``.ci/run``) driven by
Playwright's Python package with ``executable_path``; without either the test skips and
says which is missing.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from datetime import datetime, timezone

import pytest
from aiohttp import web

from behest_local.config import ProjectConfig, RateLimitConfig, ScriptedReply
from behest_local.exchange.events import CorsRefused
from behest_local.identity.api_keys import KeyStore
from behest_local.runtime.build import build_gateway
from behest_local.server.app import make_app
from behest_local.exchange.bus import TraceStore
from tests.conftest import TEST_SETTINGS, Recorder

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
T0 = datetime(2026, 4, 1, 12, 0, 30, tzinfo=timezone.utc).timestamp()
REPLY = " ".join(f"piece{i}" for i in range(24))

PAGE = """<!doctype html><meta charset="utf-8"><title>behest-local browser check</title>
<script>
async function chat(base, key, body) {
  return fetch(base + "/v1/chat/completions", {method: "POST", body: JSON.stringify(body),
    headers: {"Authorization": "Bearer " + key, "Content-Type": "application/json",
              "X-Session-Id": "browser-session",
              "x-behest-emulate": "tokens_per_second=40"}});
}
async function run(base, key) {
  const ask = {model: "gpt-4o", messages: [{role: "user", content: "stream please"}]};
  const out = {};
  try {
    const r = await chat(base, key, ask);
    out.plain = {status: r.status, body: await r.json(),
                 remaining: r.headers.get("x-ratelimit-remaining-requests")};
  } catch (e) { out.plain = {error: String(e)}; }
  try {
    const r = await chat(base, key, {...ask, stream: true});
    const reader = r.body.getReader(), decoder = new TextDecoder(), reads = [];
    let text = "";
    for (;;) {
      const {done, value} = await reader.read();
      if (done) break;
      reads.push({at: performance.now(), bytes: value.length});
      text += decoder.decode(value, {stream: true});
    }
    out.stream = {status: r.status, reads, text,
                  contentType: r.headers.get("content-type")};
  } catch (e) { out.stream = {error: String(e)}; }
  try {
    for (let i = 0; i < 10 && !out.limited; i++) {
      const r = await chat(base, key, ask);
      if (r.status === 429) {
        out.limited = {status: r.status, retryAfter: r.headers.get("Retry-After"),
                       retryAfterMs: r.headers.get("retry-after-ms"),
                       remaining: r.headers.get("x-ratelimit-remaining-requests"),
                       requestId: r.headers.get("X-Request-Id"), body: await r.json()};
      }
    }
  } catch (e) { out.limited = {error: String(e)}; }
  return out;
}
</script>"""


async def page(request: web.Request) -> web.Response:
    return web.Response(text=PAGE, content_type="text/html")


async def serve_page(aiohttp_server):
    app = web.Application()
    app.router.add_get("/", page)
    server = await aiohttp_server(app, host="127.0.0.1")
    return f"http://127.0.0.1:{server.port}"


def sse_text(raw: str) -> str:
    out = []
    for line in raw.split("\n"):
        if line.startswith("data: ") and line != "data: [DONE]":
            chunk = json.loads(line[6:])
            out += [c["delta"].get("content") or "" for c in chunk.get("choices", [])]
    return "".join(out)


@pytest.fixture
async def browser():
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install chromium; .ci/run does)")
    playwright = pytest.importorskip(
        "playwright.async_api", reason="the playwright package is not installed "
        "(pip install playwright; no `playwright install` needed)")
    async with playwright.async_playwright() as driver:
        chromium = await driver.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        await chromium.close()


async def test_a_browser_streams_from_an_allowed_origin_and_is_blocked_from_another(
        browser, aiohttp_server, tmp_path):
    allowed, refused = await serve_page(aiohttp_server), await serve_page(aiohttp_server)
    project = ProjectConfig(name="local", id="local", cors_origins=(allowed,),
                            rate_limits=RateLimitConfig(rpm=4),
                            scripted=(ScriptedReply(match="stream", reply=REPLY),))
    settings = replace(TEST_SETTINGS, projects=(project,),
                       emulator=replace(TEST_SETTINGS.emulator, enforce_limits=True))
    keys = KeyStore(tmp_path / "home", scrypt_n=2**4)
    gateway = build_gateway(settings, tmp_path / "home", keys=keys,
                            store=TraceStore(wall_clock=lambda: T0))
    recorder = Recorder()
    gateway.store.subscribe(recorder)
    server = await aiohttp_server(make_app(gateway), host="127.0.0.1")
    base, (key, _) = f"http://127.0.0.1:{server.port}", keys.create("local")

    async def visit(origin: str) -> dict:
        tab = await browser.new_page()
        await tab.goto(origin + "/")
        result = await tab.evaluate("([base, key]) => run(base, key)", [base, key])
        await tab.close()
        return result

    good = await visit(allowed)
    assert good["plain"]["status"] == 200
    assert good["plain"]["body"]["choices"][0]["message"]["content"] == REPLY
    assert good["plain"]["remaining"] == "3"  # x-ratelimit-* exposed to the page
    stream = good["stream"]
    assert stream["status"] == 200 and stream["contentType"].startswith("text/event-stream")
    assert sse_text(stream["text"]) == REPLY and stream["text"].rstrip().endswith("[DONE]")
    times = [read["at"] for read in stream["reads"]]
    assert len(times) >= 5, stream["reads"]  # many reads, not one buffered body
    assert times[-1] - times[0] > 300  # 24 tokens at 40/s arrive over ~0.6 s, as paced
    assert len({round(t / 20) for t in times}) >= 4  # at several distinct moments
    limited = good["limited"]
    assert limited["status"] == 429 and limited["retryAfter"] == "30"
    assert limited["retryAfterMs"] == "30000" and limited["remaining"] == "0"
    assert limited["body"]["error"]["code"] == "rate_limited"

    bad = await visit(refused)
    for call in ("plain", "stream", "limited"):
        assert bad[call] == {"error": "TypeError: Failed to fetch"}, bad
    refusals = [e for e in recorder.events if isinstance(e, CorsRefused)]
    assert refusals and all(e.origin == refused and e.preflight for e in refusals)
    assert allowed in refusals[0].allowed and "cors_origins" in refusals[0].reason
