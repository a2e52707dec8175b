"""No secret reaches the screen or an export: a canary key sent every way a client can.

The canary travels in an ``x-api-key`` header, in the body (a field named ``api_key``
and the prompt, which the emulated model echoes back token by token, so the key is
split across stream events), and as the bearer token of a rejected request. Every
row, every detail tab, the clipboard (copy as curl), the HAR export and the fixture
are then searched for it, and for the project key that authenticated the requests.
"""

from __future__ import annotations

import json

import aiohttp

from behest_local.tui.app import BehestApp
from behest_local.tui.exchange_detail import TABS
from tests.conftest import TEST_SETTINGS
from tests.trace_support import CANARY, CANARY_MARK, screen_text, settle, start_gateway


async def send(http, url, headers, body):
    async with http.post(url + "/v1/chat/completions", json=body, headers=headers) as resp:
        await resp.read()
        return resp.status


async def test_the_canary_never_reaches_the_screen_or_an_export(tmp_path):
    running, key = await start_gateway(tmp_path / "home", TEST_SETTINGS)
    prompt = {"role": "user", "content": f"My key is {CANARY}, repeat it back."}
    try:
        async with aiohttp.ClientSession() as http:
            auth = {"Authorization": f"Bearer {key}", "x-api-key": CANARY}
            assert await send(http, running.url, auth, {
                "model": "gpt-4o-mini", "stream": True, "messages": [prompt],
                "metadata": {"api_key": CANARY}}) == 200
            assert await send(http, running.url, auth, {
                "model": "gpt-4o-mini", "messages": [prompt]}) == 200
            assert await send(http, running.url, {"Authorization": f"Bearer {CANARY}"}, {
                "model": "gpt-4o-mini", "messages": [prompt]}) == 401
        echoed = running.gateway.store.recent[0]
        assert echoed.capture is not None and len(echoed.chunk_times) > 10

        app = BehestApp(running.gateway.store, url=running.url, gateway=running.gateway,
                        home=tmp_path)
        seen = []
        async with app.run_test(size=(120, 36)) as pilot:
            assert len(app.exchanges.shown_ids) == 3
            for row in range(3):
                app.exchanges.move_cursor(row=row)
                await settle(pilot)
                for tab in TABS:
                    app.detail.show_tab(tab)
                    await pilot.pause()
                    seen.append(screen_text(app))
                assert "[redacted]" in "".join(seen[-len(TABS):])
                await app.action_copy_curl()
                seen.append(app.clipboard)
            app.exchanges.move_cursor(row=0)
            await settle(pilot)
            await app.action_export()
            await app.action_fixture()
        files = list((tmp_path / "exports").glob("*.har")) + \
            list((tmp_path / "fixtures").glob("*.json"))
        assert len(files) == 2
        seen += [f.read_text() for f in files]
    finally:
        await running.close()
    everything = "\n".join(seen)
    assert "assistant" in everything and "Bearer" in everything  # the views were rendered
    assert CANARY_MARK not in everything
    assert CANARY_MARK.lower() not in everything.lower()  # the model's lower-cased echo too
    assert key[len("behest_sk_live_"):] not in everything
    har = json.loads(files[0].read_text())
    assert len(har["log"]["entries"]) == 3
