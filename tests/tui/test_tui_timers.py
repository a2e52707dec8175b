"""The TUI's timers run only while something on screen can change (issue 23: idle means
idle); the first change after a quiet spell starts them again, so nothing shows late.

The app runs headless (``run_test``) on a fake trace store and clock; ``app.sleeping``
is true once both timers (the list's refresh, the header's) have stopped themselves. The
whole process on a real terminal is measured from ``/proc`` in test_tui_idle.py.
"""

from __future__ import annotations

import asyncio
import threading

import pytest

from behest_local.exchange.events import ConfigRejected
from behest_local.tui import pacing
from behest_local.tui.app import BehestApp
from behest_local.tui.driver import POLL_S, _timeout
from tests.trace_support import fake_exchange, make_store, until

URL = "http://127.0.0.1:7717"
SIZE = (120, 36)


@pytest.fixture(autouse=True)
def quick_header(monkeypatch):
    monkeypatch.setattr(pacing, "HEADER_EVERY", 0.05)  # as quick as the list's tick


async def test_timers_stop_when_nothing_changes_and_the_next_exchange_starts_them():
    store, clock = make_store()
    app = BehestApp(store, url=URL, tick=0.05)
    header_ticks: list[float] = []
    tick_header = app.tick_header
    app.tick_header = lambda: (header_ticks.append(clock()), tick_header())  # counted
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.sleeping)
        fake_exchange(store, clock, 1)
        assert not app.sleeping  # woken by the change itself, not by a poll
        await until(pilot, lambda: app.exchanges.row_count == 1
                    and "0.1 req/s" in app.query_one("#header").render().plain)
        # The rate is a ten-second average: the header keeps counting it down...
        seen = len(header_ticks)
        await until(pilot, lambda: len(header_ticks) >= seen + 3)
        assert not app.sleeping
        clock.advance(11)
        # ...and both timers stop once it reads zero.
        await until(pilot, lambda: app.sleeping)
        assert "0.0 req/s" in app.query_one("#header").render().plain


async def test_a_running_stream_keeps_its_row_ticking_until_it_ends():
    store, clock = make_store()
    app = BehestApp(store, url=URL, tick=0.05)
    async with app.run_test(size=SIZE) as pilot:
        exchange = fake_exchange(store, clock, 1, stream=True, status=None)
        await until(pilot, lambda: app.exchanges.row_count == 1)
        before = app.exchanges.cell(exchange.id, "progress")
        clock.advance(2)  # no event: only the timer can move the elapsed time on
        await until(pilot, lambda: app.exchanges.cell(exchange.id, "progress") != before)
        assert not app.feed.sleeping
        exchange.finish(200)
        clock.advance(11)
        await until(pilot, lambda: app.sleeping)
        assert app.exchanges.cell(exchange.id, "status") == "200"


async def test_a_config_event_from_another_thread_wakes_the_header():
    store, _clock = make_store()
    app = BehestApp(store, url=URL, tick=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.sleeping)
        event = ConfigRejected(at=0.0, source="/x/behest.toml", error="/x/behest.toml:3: bad")
        await asyncio.to_thread(app.feed.config_event, event)
        await until(pilot, lambda: "config rejected" in app.query_one("#header").render().plain)
        assert "config rejected" in app.query_one("#header").render().plain


class _Index:
    """A provider-key index (vault/provider_keys.py) refreshed from a worker thread."""

    def __init__(self) -> None:
        self.providers: frozenset[str] = frozenset()
        self.unreadable = None
        self.listeners: list = []

    def subscribe(self, listener):
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)

    def refresh(self, providers: set[str]) -> None:
        self.providers = frozenset(providers)
        for listener in self.listeners:
            listener()


class _Gateway:
    def __init__(self) -> None:
        self.provider_keys = _Index()


async def test_the_header_shows_a_vault_change_when_the_index_says_so_without_polling():
    store, _clock = make_store()
    gateway = _Gateway()
    app = BehestApp(store, url=URL, tick=0.05, gateway=gateway)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.sleeping
                    and "no provider keys" in app.query_one("#header").render().plain)
        refresher = threading.Thread(target=gateway.provider_keys.refresh, args=({"openai"},))
        refresher.start()
        refresher.join()
        await until(pilot, lambda: "1 provider key (openai)" in
                    app.query_one("#header").render().plain)
    assert gateway.provider_keys.listeners == []  # unsubscribed when the app ended


def test_the_input_thread_blocks_without_a_timeout_unless_an_escape_is_pending():
    from textual._xterm_parser import XTermParser

    parser = XTermParser(False)
    assert _timeout(parser) is None  # nothing typed: sleep until a key or exit
    assert [type(e).__name__ for e in parser.feed("q")] == ["Key"]
    assert _timeout(parser) is None
    assert list(parser.feed("\x1b")) == []  # the escape key, or a sequence's start?
    assert 0 < _timeout(parser) <= POLL_S + 0.01  # decided by the parser's own deadline
