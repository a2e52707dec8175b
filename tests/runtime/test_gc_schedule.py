"""The collector's schedule: full collections only when the gateway is idle, a backstop
when it never is, thresholds restored on stop (behest_local/gc_schedule.py)."""

from __future__ import annotations

import asyncio
import gc

import pytest

from behest_local.runtime import gc_schedule
from behest_local.runtime.gc_schedule import BACKSTOP, DUE, OUT_OF_REACH, CollectorSchedule
from behest_local.exchange.bus import TraceStore
from behest_local.exchange.events import ExchangeFinished


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Ended:
    def __init__(self, ended: float | None) -> None:
        self.ended = ended


@pytest.fixture
def counts(monkeypatch):
    """``gc.get_count`` as the test says; full collections counted, not run."""
    state = {"young": 0, "collected": 0}
    monkeypatch.setattr(gc_schedule.gc, "get_count", lambda: (0, 0, state["young"]))

    def collect(generation: int = 2) -> int:
        state["collected"] += 1
        state["young"] = 0
        return 0

    monkeypatch.setattr(gc_schedule.gc, "collect", collect)
    return state


def schedule(clock: Clock, streams=()) -> tuple[CollectorSchedule, TraceStore]:
    store = TraceStore(clock=clock)
    return CollectorSchedule(store, set(streams), quiet_s=1.0), store


def test_idle_means_no_stream_and_the_last_exchange_ended_a_while_ago():
    clock = Clock()
    collector, store = schedule(clock)
    assert collector.idle()  # nothing served yet
    store.recent.append(Ended(None))
    assert not collector.idle()  # in flight
    store.recent.append(Ended(clock.now - 0.5))
    assert not collector.idle()  # just ended
    clock.now += 1.0
    assert collector.idle()
    collector.streams.add(object())
    assert not collector.idle()  # a stream is open


def test_a_due_collection_waits_for_idle_and_runs_then(counts):
    clock = Clock()
    collector, store = schedule(clock)
    collector._saved = gc.get_threshold()  # started, without a loop or a freeze
    store.recent.append(Ended(clock.now))
    counts["young"] = DUE - 1
    collector.tick()
    assert counts["collected"] == 0  # not due yet
    counts["young"] = DUE
    collector.tick()
    assert counts["collected"] == 0  # due, but the last exchange just ended
    clock.now += 2
    collector.tick()
    assert counts["collected"] == 1 and collector.collections == 1
    collector.tick()
    assert counts["collected"] == 1  # nothing due since


def test_a_gateway_never_idle_still_gets_one_at_the_backstop(counts):
    clock = Clock()
    collector, store = schedule(clock, streams=[object()])
    collector._saved = gc.get_threshold()
    counts["young"] = BACKSTOP - 1
    collector.tick()
    assert counts["collected"] == 0
    counts["young"] = BACKSTOP
    collector.tick()
    assert counts["collected"] == 1


def test_a_stopped_schedule_collects_nothing(counts):
    collector, _ = schedule(Clock())
    counts["young"] = BACKSTOP
    collector.tick()
    assert counts["collected"] == 0


async def test_start_takes_over_full_collections_and_stop_gives_them_back(monkeypatch):
    frozen: list[int] = []
    monkeypatch.setattr(gc_schedule.gc, "freeze", lambda: frozen.append(1))
    before = gc.get_threshold()
    collector, _ = schedule(Clock())
    collector.check_s = 0.01
    ticked = asyncio.Event()
    real_tick = collector.tick

    def tick() -> None:
        real_tick()
        ticked.set()

    collector.tick = tick  # type: ignore[method-assign]
    collector.start()
    try:
        assert frozen == [1]
        assert gc.get_threshold() == (before[0], before[1], OUT_OF_REACH)
        await asyncio.wait_for(ticked.wait(), 5)  # the timer runs on the loop
    finally:
        collector.stop()
    assert gc.get_threshold() == before
    assert collector._timer is None


async def test_the_timer_stops_when_idle_and_the_next_exchange_to_end_restarts_it(monkeypatch):
    """Idle means idle (issue 23): no timer wakes an idle gateway."""
    monkeypatch.setattr(gc_schedule.gc, "freeze", lambda: None)
    collector, store = schedule(Clock())
    collector.check_s = 0.01
    checks = asyncio.Event()
    real_tick = collector.tick

    def tick() -> None:
        real_tick()
        checks.set()

    collector.tick = tick  # type: ignore[method-assign]
    collector.start()
    try:
        await asyncio.wait_for(checks.wait(), 5)  # the first check finds it idle
        assert not collector.running
        store.publish(ExchangeFinished("ex_1", 0.0, status=200, duration=0.1), Ended(99.0))
        assert collector.running
        checks.clear()
        await asyncio.wait_for(checks.wait(), 5)
        assert not collector.running  # idle again: stopped again
    finally:
        collector.stop()
    store.publish(ExchangeFinished("ex_2", 0.0, status=200, duration=0.1), Ended(99.0))
    assert not collector.running  # a stopped schedule is not re-armed either
