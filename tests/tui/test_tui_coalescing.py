"""The TUI never slows the gateway: chunk events cost O(1) and refreshes are bounded."""

from __future__ import annotations

import time

from behest_local.tui.app import DETAIL_EVERY, BehestApp
from tests.trace_support import chunk, fake_exchange, make_store, settle, until


async def test_a_thousand_chunks_cost_a_bounded_number_of_refreshes():
    """1,000 chunk events over half a second: the list row is rewritten at most once per
    tick (never per chunk), the detail at most once per DETAIL_EVERY, and the final state
    is exact."""
    store, clock = make_store()
    exchange = fake_exchange(store, clock, 1, stream=True, status=None)  # running
    app = BehestApp(store, url="http://127.0.0.1:7717", tick=0.05)  # 20 refreshes a second
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        updates, loads = app.exchanges.updates, app.detail_loads
        started = time.monotonic()
        for batch in range(10):
            for n in range(100):
                frame = chunk(f"t{batch * 100 + n} ")
                exchange.capture.frame(frame)
                exchange.chunk_sent(len(frame))
                clock.advance(0.0005)
            assert app.feed.pending <= 1  # a hundred chunks of one stream: one entry at most
            await pilot.pause(0.05)  # the stream goes on; the app's timer ticks meanwhile
        frame = chunk(finish="stop")
        exchange.capture.frame(frame)
        exchange.chunk_sent(len(frame))
        exchange.finish(200)
        elapsed = time.monotonic() - started
        app.refresh_feed()
        # The last detail refresh was throttled; the app's timer brings it in shortly.
        await until(pilot, lambda: app.detail.record and not app.detail.record["partial"]
                    and app.detail.record["status"] == 200)
        assert app.exchanges.updates - updates <= elapsed / app.tick + 2
        assert app.detail_loads - loads <= elapsed / DETAIL_EVERY + 2
        assert app.exchanges.updates - updates >= 3  # it did update while streaming
        assert app.exchanges.cell(exchange.id, "progress") == "✓ 1002 ev"
        record = app.detail.record
        kept = len(record["events"]) - 1  # the role chunk, then one token per event
        assert record["events_dropped"] == 1002 - len(record["events"]) > 0  # 128 KiB cap
        assert record["message"]["choices"][0]["content"] == "".join(
            f"t{n} " for n in range(kept))


def test_the_subscriber_does_no_widget_work():
    """Feed.__call__ is the only TUI code on the request path: a dict write per event."""
    from behest_local.tui.feed import Feed

    store, clock = make_store()
    feed = Feed()
    store.subscribe(feed)
    exchange = fake_exchange(store, clock, 1, stream=True, status=None)
    began = time.perf_counter()
    for _ in range(10_000):
        exchange.chunk_sent(100)
    per_event = (time.perf_counter() - began) / 10_000
    assert per_event < 50e-6  # generous: the whole publish path, a few µs in practice
    assert list(feed.take()) == [exchange.id] and feed.take() == {}


async def test_heavy_traffic_refreshes_the_list_every_other_tick():
    """Over BUSY_CHANGES exchanges between two ticks: a refresh every BUSY_EVERY ticks,
    and back to every tick when the traffic drops (each refresh repaints the screen)."""
    from behest_local.tui.app import BUSY_CHANGES, BUSY_EVERY

    store, clock = make_store()
    app = BehestApp(store, url="http://127.0.0.1:7717", tick=3600)  # ticks driven here
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        refreshed: list[int] = []
        app.refresh_feed = lambda: refreshed.append(app.feed.take() and 1)  # type: ignore
        number = 0
        for tick in range(6):  # heavy: more than BUSY_CHANGES new exchanges per tick
            for _ in range(BUSY_CHANGES + 1):
                number += 1
                fake_exchange(store, clock, number)
            app.tick_refresh()
        assert len(refreshed) == 6 // BUSY_EVERY
        refreshed.clear()
        for tick in range(4):  # light
            number += 1
            fake_exchange(store, clock, number)
            app.tick_refresh()
        assert len(refreshed) == 4


async def test_rows_that_scroll_past_unseen_cost_no_cells(monkeypatch):
    """500 exchanges arrive between two refreshes: cells are made for the lines drawn
    (a screenful), not for every row; a row's text is still there when asked."""
    from behest_local.tui import exchange_list

    made: list[str] = []
    real = exchange_list.row_cells

    def counting(exchange, now):
        made.append(exchange.id)
        return real(exchange, now)

    monkeypatch.setattr(exchange_list, "row_cells", counting)
    store, clock = make_store()
    app = BehestApp(store, url="http://127.0.0.1:7717", tick=3600)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        exchanges = [fake_exchange(store, clock, n) for n in range(1, 501)]
        made.clear()
        app.refresh_feed()
        await settle(pilot)
        assert app.exchanges.row_count == 500
        assert 0 < len(made) <= 40  # the lines drawn: a screenful, not 500 rows
        assert exchanges[250].id not in made
        assert app.exchanges.cell(exchanges[250].id, "status") == "200"  # made on demand
