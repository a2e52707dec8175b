"""The detail panes from the keyboard, and raw events wrapped whole.

``enter`` takes the keyboard from the list into the open tab, whose pane then scrolls with
the page keys (a long request: headers, then a body longer than the screen); ``escape``
goes back. Raw SSE events wider than the pane wrap at JSON token boundaries: every word,
number and URL of an event is whole on one line.
"""

from __future__ import annotations

import json
import re

from textual.widgets import Log

from behest_local.observe.record import build_record
from behest_local.tui import panes
from behest_local.tui.app import BehestApp
from behest_local.tui.exchange_list import ExchangeList
from tests.trace_support import fake_exchange, make_store, settle

URL = "http://127.0.0.1:7717"
TOKEN = re.compile(r'[^\s,{}\[\]":]+')


def long_request_app() -> BehestApp:
    store, clock = make_store()
    messages = [{"role": "user", "content": f"Question number {n}: what is {n} squared?"}
                for n in range(60)]
    fake_exchange(store, clock, 1, body={"model": "gpt-4o-mini", "messages": messages})
    return BehestApp(store, url=URL, tick=3600)


async def test_enter_scrolls_the_request_tab_from_the_keyboard_and_escape_returns():
    app = long_request_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("2", "enter")
        pane = app.query_one("#detail-request", Log)
        assert app.focused is pane and pane.max_scroll_y > 20
        await pilot.press("pagedown")
        assert pane.scroll_y > 0
        await pilot.press("end")
        assert pane.scroll_y == pane.max_scroll_y
        await pilot.press("3")  # another tab: the keyboard stays in the detail
        assert app.focused is app.query_one("#detail-response", Log)
        await pilot.press("escape")
        assert isinstance(app.focused, ExchangeList)


async def test_the_overview_scrolls_when_it_is_taller_than_its_pane():
    store, clock = make_store()
    fake_exchange(store, clock, 1, stream=True, pieces=["a", "b"], user="alice")
    app = BehestApp(store, url=URL, tick=3600)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        pane = app.detail.pane("overview")
        assert app.focused is pane and pane.max_scroll_y > 0
        await pilot.press("down")
        assert pane.scroll_y == 1


def test_raw_events_wrap_at_token_boundaries_never_inside_a_word():
    store, clock = make_store()
    pieces = ["The quick brown fox jumps over ", "the lazy dog at https://example.com/a/b?c=1 ",
              "with 1234567.891 reasons"]
    record = build_record(fake_exchange(store, clock, 1, stream=True, pieces=pieces))
    width = 44
    lines = panes.events_lines(record, width)
    assert all(len(line) <= width for line in lines)
    assert len(lines) > len(record["events"])  # they did wrap
    shown = "\n".join(lines)
    for event in record["events"]:
        for token in TOKEN.findall(event["data"]):
            assert token in shown, token  # whole, on one line


def test_a_word_longer_than_the_pane_is_the_only_thing_cut():
    blob = "x" * 90
    line = json.dumps({"id": "chatcmpl-1", "data": blob, "model": "gpt-4o-mini"})
    lines = panes.fold([line], 40, 4)
    assert all(len(piece) <= 40 for piece in lines)
    assert "".join(piece.strip() for piece in lines).replace(" ", "") == line.replace(" ", "")
    assert any(piece.strip() == '"model":' or '"gpt-4o-mini"' in piece for piece in lines)


async def test_on_24_rows_the_filter_bar_waits_until_used_and_z_zooms_the_timeline():
    store, clock = make_store()
    fake_exchange(store, clock, 1, stream=True, pieces=[f"w{n} " for n in range(30)])
    app = BehestApp(store, url=URL, tick=3600)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        bar = app.query_one("#filters")
        assert not bar.display or bar.region.height == 0
        await pilot.press("6")
        table = app.query_one("#timeline-table", Log)
        assert table.region.height >= 4  # the timeline's rows are on screen at 80×24
        await pilot.press("z")
        assert app.screen.maximized is app.detail and app.focused is table
        assert table.region.height > 15
        await pilot.press("z")
        assert app.screen.maximized is None
        await pilot.press("slash")
        assert app.query_one("#search").has_focus and bar.region.height == 3
        await pilot.press("w", "1", "enter")  # a search keeps the bar shown
        assert bar.region.height == 3 and isinstance(app.focused, ExchangeList)
