"""The TUI with the real gateway in the same event loop, as ``behest-local`` runs it.

Requests are real HTTP through aiohttp; the emulated model is paced with
``x-behest-emulate`` so a stream is still running while the list is inspected. Tests
synchronise on trace events (``EventWaiter``) and drive the refresh timer directly
(``app.refresh_feed()``), never on sleeps.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal

import aiohttp
import pytest

from behest_local.exchange.events import ChunkSent, ExchangeFinished
from behest_local.tui.app import BehestApp
from behest_local.runtime.tui import run_tui
from tests.conftest import TEST_SETTINGS
from tests.trace_support import EventWaiter, rendered, settle, start_gateway, until

SIZE = (120, 36)


@pytest.fixture
async def live(tmp_path):
    running, key = await start_gateway(tmp_path / "home", TEST_SETTINGS)
    waiter = EventWaiter()
    running.gateway.store.subscribe(waiter)
    yield running, key, waiter
    await running.close()


async def chat(running, key: str, *, stream: bool = True, pace: str = "tokens_per_second=40",
               max_tokens: int = 12, headers: dict | None = None) -> str:
    body = {"model": "gpt-4o-mini", "stream": stream, "max_tokens": max_tokens,
            "messages": [{"role": "user", "content": "Count to twenty."}]}
    async with aiohttp.ClientSession() as http:
        async with http.post(running.url + "/v1/chat/completions", json=body, headers={
                "Authorization": f"Bearer {key}", "x-behest-emulate": pace,
                **(headers or {})}) as resp:
            await resp.read()
            return resp.headers["X-Request-Id"]


def cell(app, row_key: str, column: str) -> str:
    return app.exchanges.cell(row_key, column)


async def test_the_list_fills_and_updates_while_a_stream_runs(live):
    running, key, waiter = live
    app = BehestApp(running.gateway.store, url=running.url, gateway=running.gateway)
    mid_stream: dict = {}

    def look(event, exchange) -> None:
        # Inside the gateway's publish of the first event (always published): the stream
        # is certainly running, however late the test itself gets to run.
        if isinstance(event, ChunkSent) and event.index == 0:
            app.refresh_feed()
            mid_stream.update(ids=app.exchanges.shown_ids, id=exchange.id,
                              progress=app.exchanges.cell(exchange.id, "progress"),
                              status=app.exchanges.cell(exchange.id, "status"),
                              model=app.exchanges.cell(exchange.id, "model"))

    async with app.run_test(size=SIZE) as pilot:
        running.gateway.store.subscribe(look)
        row = await chat(running, key)
        assert mid_stream["ids"] == [row] and mid_stream["id"] == row
        assert mid_stream["progress"].startswith("▶ 1 ")  # running: count and elapsed
        assert mid_stream["status"] == "…"
        assert "gpt-4o-mini@emulated" in mid_stream["model"]
        await waiter.wait(lambda e, _x: isinstance(e, ExchangeFinished) and e.exchange_id == row)
        app.refresh_feed()
        assert app.exchanges.cell(row, "status") == "200"
        chunks = len(running.gateway.store.find(row).chunk_times)
        assert app.exchanges.cell(row, "progress") == f"✓ {chunks} ev"
        await settle(pilot)
        assert row in str(app.query_one("#detail-title").render())  # the cursor followed
        await pilot.press("6")
        screen = rendered(app)
        assert "TTFT" in screen and "departure" in screen and "arrival" in screen


async def test_selection_shows_the_detail_and_its_timeline(live):
    running, key, waiter = live
    first = await chat(running, key, pace="tokens_per_second=0")
    second = await chat(running, key, stream=False, pace="tokens_per_second=0")
    app = BehestApp(running.gateway.store, url=running.url, gateway=running.gateway)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert second in str(app.query_one("#detail-title").render())
        await pilot.press("up")
        await settle(pilot)
        assert first in str(app.query_one("#detail-title").render())
        await pilot.press("4")
        assert "assistant" in rendered(app)
        await pilot.press("6")
        assert "median gap" in rendered(app)
        await pilot.press("2")
        request = "\n".join(app.query_one("#detail-request").lines)  # scrolls past the screen
        assert "Authorization: Bearer behest_s…[redacted]" in request
        assert '"max_tokens": 12' in request


async def test_filters_narrow_the_list(live):
    running, key, waiter = live
    ok = await chat(running, key, stream=False, pace="tokens_per_second=0")
    failed = await chat(running, key, stream=False, pace="status=503")
    bad_key = await chat(running, "behest_sk_live_" + "0" * 32, stream=False)
    app = BehestApp(running.gateway.store, url=running.url, gateway=running.gateway)
    async with app.run_test(size=SIZE) as pilot:
        assert app.exchanges.shown_ids == [ok, failed, bad_key]
        await pilot.press("e")  # the key binding; the rest drive the same actions directly
        assert app.exchanges.shown_ids == [failed, bad_key]
        for action in (app.action_errors, app.action_status, app.action_status,
                       app.action_status):  # errors off; status: running → 2xx → 4xx
            action()
        await pilot.pause()
        assert app.exchanges.shown_ids == [bad_key]
        app.action_status()
        await pilot.pause()
        assert app.exchanges.shown_ids == [failed]  # 5xx
        app.action_status()
        app.query_one("#search").value = "503"
        await pilot.pause()
        # Search reads ids too: a random request id holding "503" matches as well.
        assert app.exchanges.shown_ids == [x for x in (ok, failed, bad_key)
                                           if x == failed or "503" in x]
        app.query_one("#search").value = ""
        app.query_one("#project").value = "local"
        await pilot.pause()
        assert app.exchanges.shown_ids == [ok, failed]  # the 401 never reached a project


async def test_a_rejected_config_reload_shows_in_the_header(live, tmp_path):
    """Through the real reloader (reload.LiveConfig): a bad save keeps the old config and
    says so in the header, with the whole error in a toast; the next good save clears it."""
    running, key, waiter = live
    toml = tmp_path / "behest.toml"
    live_config = running.gateway.live
    live_config.path = toml  # as if the gateway had been started with --config behest.toml
    app = BehestApp(running.gateway.store, url=running.url, gateway=running.gateway)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        assert running.url + "/v1" in rendered(app)
        toml.write_text('[server]\nport = "x"\n[projcts.local]\n')
        assert live_config.reload_file() is False
        app.refresh_feed()
        await settle(pilot)
        screen = rendered(app)
        header = screen.splitlines()[0]
        assert "config rejected" in header and "previous config in force" in header
        assert "behest.toml:2" in header
        # The whole error, in a toast: it is mounted on a later frame than the header.
        await until(pilot, lambda: "did you mean 'projects'?" in rendered(app))
        toml.write_text("[server]\nport = 7717\n")
        assert live_config.reload_file() is True
        app.refresh_feed()
        await settle(pilot)
        assert "config ok  reloaded behest.toml" in rendered(app)


async def test_pause_holds_the_list_and_clear_empties_it(live):
    running, key, waiter = live
    await chat(running, key, stream=False, pace="tokens_per_second=0")
    app = BehestApp(running.gateway.store, url=running.url, gateway=running.gateway)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space")
        later = await chat(running, key, stream=False, pace="tokens_per_second=0")
        app.refresh_feed()
        assert later not in app.exchanges.shown_ids and "PAUSED" in rendered(app)
        await pilot.press("space")
        assert later in app.exchanges.shown_ids
        await pilot.press("c")
        assert app.exchanges.shown_ids == []
        newest = await chat(running, key, stream=False, pace="tokens_per_second=0")
        app.refresh_feed()
        assert app.exchanges.shown_ids == [newest]


async def test_copy_as_curl_export_and_save_as_fixture(live, tmp_path):
    running, key, waiter = live
    request_id = await chat(running, key, pace="tokens_per_second=0")
    app = BehestApp(running.gateway.store, url=running.url, gateway=running.gateway,
                    home=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("y")
        assert app.clipboard.startswith("curl -N ")
        assert '"Authorization: Bearer $BEHEST_API_KEY"' in app.clipboard
        assert key not in app.clipboard
        await pilot.press("x")
        await pilot.press("w")
        await settle(pilot)
        await pilot.pause()
        har = json.loads(next((tmp_path / "exports").glob("*.har")).read_text())
        assert [e["_behest"]["id"] for e in har["log"]["entries"]] == [request_id]
        fixture = json.loads((tmp_path / "fixtures" / f"{request_id}.json").read_text())
        assert fixture["dialect"] == "chat" and fixture["events"][-1]["data"] == "[DONE]"


async def test_run_tui_shares_the_loop_logs_to_a_file_and_stops_on_sigterm(live, capsys):
    running, key, waiter = live
    mounted = asyncio.Event()

    class Watched(BehestApp):
        def on_mount(self) -> None:
            super().on_mount()
            mounted.set()

    app = Watched(running.gateway.store, url=running.url, gateway=running.gateway)
    task = asyncio.create_task(run_tui(running, app=app, headless=True))
    await asyncio.wait_for(mounted.wait(), 10)
    # The gateway keeps serving while the TUI runs in the same loop.
    request_id = await chat(running, key, pace="tokens_per_second=0")
    assert running.gateway.store.find(request_id).status == 200
    logging.getLogger("behest_local.test").warning("shown as a toast, written to the log")
    assert signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, None)  # run_tui's handler
    os.kill(os.getpid(), signal.SIGTERM)
    assert await asyncio.wait_for(task, 10) == 0
    log = (running.gateway.home / "behest-local.log").read_text()
    assert "shown as a toast, written to the log" in log
    assert "shown as a toast" not in capsys.readouterr().err
