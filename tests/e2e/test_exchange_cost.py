"""A priced request costs one number everywhere it is shown.

Through a running gateway (real sockets, the TUI in the same loop, the trace database
subscribed as ``behest-local serve`` does): a ``gpt-4o`` request, served by the emulated
model, is priced once as it ends. ``GET /v1/usage`` reports that cost, the usage store
holds it exactly, and the exchange, its TUI row and detail, its trace database record
and the ``traces export`` JSON Lines and HAR files all carry the same number.
"""

from __future__ import annotations

import json

import aiohttp
import pytest

from behest_local.cli.main import main as cli
from behest_local.exchange.events import ExchangeFinished
from behest_local.finops.prices import reported_cost
from behest_local.observe.trace_db import TraceDB
from behest_local.server.routes.usage import USAGE
from behest_local.tui.app import BehestApp
from behest_local.tui.row import usd
from tests.conftest import TEST_SETTINGS
from tests.trace_support import EventWaiter, settle, start_gateway


@pytest.mark.parametrize("stream", [False, True])
async def test_a_priced_request_shows_the_cost_usage_reports_everywhere(tmp_path, stream):
    home = tmp_path / "home"
    running, key = await start_gateway(home, TEST_SETTINGS)
    store = running.gateway.store
    db = TraceDB.open(home, interval=0.02)
    unsubscribe = store.subscribe(db.subscriber, events=TraceDB.EVENTS)
    waiter = EventWaiter()
    store.subscribe(waiter)
    auth = {"Authorization": f"Bearer {key}"}
    session = f"cost-{stream}"
    app = BehestApp(store, url=running.url, gateway=running.gateway)
    try:
        async with app.run_test(size=(120, 36)) as pilot, aiohttp.ClientSession() as http:
            async with http.post(running.url + "/v1/chat/completions", headers={
                    **auth, "X-Session-Id": session}, json={
                    "model": "gpt-4o", "stream": stream, "max_tokens": 40,
                    "messages": [{"role": "user", "content": "Name three rivers."}]}) as resp:
                assert resp.status == 200
                await resp.read()
                request_id = resp.headers["X-Request-Id"]
            await waiter.wait(lambda e, _x: isinstance(e, ExchangeFinished)
                              and e.exchange_id == request_id)
            exchange = store.find(request_id)
            cost = exchange.cost
            assert cost is not None and cost > 0 and exchange.completion_tokens
            app.refresh_feed()  # the list's timer, driven directly
            await settle(pilot)
            shown = usd(cost)  # the report's figure: reported_cost, to the millionth
            assert app.exchanges.cell(request_id, "cost") == shown
            assert request_id in str(app.query_one("#detail-title").render())  # followed
            assert f"cost  {shown}" in str(app.query_one("#detail-overview").render())

            async with http.get(f"{running.url}/v1/usage?session_id={session}",
                                headers=auth) as resp:
                usage = await resp.json()
            assert usage["totals"]["requests"] == 1
            assert usage["totals"]["cost_usd"] == reported_cost(cost) == float(shown[1:])
            usage_store = running.runner.app[USAGE].store
            [(stored,)] = await usage_store.run(lambda conn: conn.execute(
                "SELECT cost_usd FROM usage WHERE exchange_id = ?", [request_id]).fetchall())
            assert stored == cost

        assert db.flush() and db.error is None
        assert db.get(request_id)["cost"] == cost
    finally:
        unsubscribe()
        db.close()
        await running.close()

    jsonl, har = tmp_path / "traces.jsonl", tmp_path / "traces.har"
    for fmt, out in (("jsonl", jsonl), ("har", har)):
        assert cli(["traces", "export", "--home", str(home), "--format", fmt,
                    "--out", str(out)]) == 0
    records = {r["id"]: r for r in map(json.loads, jsonl.read_text().splitlines())}
    entries = {e["_behest"]["id"]: e for e in json.loads(har.read_text())["log"]["entries"]}
    assert records[request_id]["cost"] == entries[request_id]["_behest"]["cost"] == cost
