"""When the garbage collector may pause the server: ``CollectorSchedule``.

CPython's cycle collector runs a full collection (generation 2) on its own once enough
objects have survived into the oldest generation. A full collection walks every tracked
object with the event loop stopped. Under many concurrent streams almost everything
alive is a stream's state (its exchange, capture, generators, task), so the walk is long
and finds nothing to free: measured at 1,000 paced streams, two full collections of 50
and 106 ms freed 0 objects, and each one was a gap in every open stream. The young
generations (0 and 1) stay automatic: their collections are short.

The schedule, started once the server has warmed up (``runtime.serve``):

1. everything loaded so far is frozen (``gc.freeze``): modules, settings and warmed
   imports live as long as the process, and no collection walks them again (a full
   walk of them took ~50 ms, ~10 µs per request amortised). What was garbage then is
   kept: a bounded, one-time cost (Python docs, ``gc.freeze``);
2. automatic full collections are off (generation 2's threshold set out of reach);
3. a timer every ``check_s`` runs a full collection once ``DUE`` young collections
   have happened since the last, but only while the gateway is idle: no stream open
   and the last exchange ended ``quiet_s`` ago;
4. a gateway that is never idle still gets one after ``BACKSTOP`` young collections
   (tens of thousands of requests), so cyclic garbage cannot pile up without bound;
5. the timer runs only while there is traffic (issue 23: idle means idle): a check that
   finds the gateway idle does not re-arm it, and the next exchange to end does. An idle
   process allocates next to nothing, so nothing can become due in between.

Measured for issue 25 (2026-12-07, 2-core AMD EPYC VM, load average ~7 from other work),
bench d at 1,000 streams, two runs each, full collections timed with ``gc.callbacks``:
with CPython's own schedule instead (this one never started, nothing frozen), two full
collections ran under the load in each run (72 and 106 ms, 92 and 156 ms) and 111 and
172 of the 1,000 streams stalled (max gaps 648 and 456 ms); with this schedule the only
full collection came once the streams were done (40 ms, 25 ms) and 0 and 2 streams
stalled (max gaps 190 and 209 ms). Scenario a's CPU per request did not favour either
(2.67× and 2.60× the bare proxy's without it, 2.90× to 3.04× with it, separate runs).

``stop`` restores the thresholds it changed (tests start and stop servers in one process).
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Collection

from behest_local.exchange.bus import TraceStore
from behest_local.exchange.events import ExchangeFailed, ExchangeFinished

DUE = 100
"""Young (generation 1) collections since the last full one at which a full one is due
(CPython's own threshold is 10): every ~20,000 requests, so that a burst of traffic is
rarely followed by a collection just as the next burst arrives."""
BACKSTOP = 1000
"""Young collections after which a full one runs even on a busy gateway."""
OUT_OF_REACH = 1 << 30
"""Generation 2's threshold while the schedule runs: no automatic full collection."""


class CollectorSchedule:
    """Full collections when the gateway is idle (module docstring)."""

    def __init__(self, store: TraceStore, streams: Collection[object], *,
                 check_s: float = 2.0, quiet_s: float = 2.0,
                 clock: Callable[[], float] | None = None) -> None:
        self.store, self.streams = store, streams
        self.check_s, self.quiet_s = check_s, quiet_s
        self.clock = clock or store.clock  # the exchanges' clock: ``ended`` is on it
        self.collections = 0
        """Full collections this schedule ran."""
        self._saved: tuple[int, int, int] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._unsubscribe: Callable[[], None] | None = None

    def start(self) -> None:
        """Freeze what is loaded, take over full collections, start the timer (its first
        check; then it runs while there is traffic)."""
        gc.freeze()
        if self._saved is None:
            self._saved = gc.get_threshold()
            young, middle, _full = self._saved
            gc.set_threshold(young, middle, OUT_OF_REACH)
        if self._unsubscribe is None:
            self._unsubscribe = self.store.subscribe(self._ended, events=(ExchangeFinished,
                                                                          ExchangeFailed))
        self._schedule()

    def _ended(self, _event: object, _exchange: object) -> None:
        """An exchange ended: traffic, so the timer runs (one check per ``check_s`` at most,
        whatever the request rate)."""
        if self._timer is None and self._saved is not None:
            self._schedule()

    @property
    def running(self) -> bool:
        """Whether the timer is armed."""
        return self._timer is not None

    def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._saved is not None:
            gc.set_threshold(*self._saved)
            self._saved = None

    def idle(self) -> bool:
        """No stream open, and the newest exchange ended ``quiet_s`` ago (or none yet)."""
        if self.streams:
            return False
        recent = self.store.recent
        if not recent:
            return True
        ended = recent[-1].ended
        return ended is not None and self.clock() - ended >= self.quiet_s

    def due(self) -> bool:
        """Whether to run a full collection now."""
        young = gc.get_count()[2]  # generation-1 collections since the last full one
        return young >= BACKSTOP or (young >= DUE and self.idle())

    def tick(self) -> None:
        self._timer = None
        if self._saved is None:
            return  # stopped
        if self.due():
            gc.collect()
            self.collections += 1
        if not self.idle():  # idle: the next exchange to end re-arms it
            self._schedule()

    def _schedule(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._timer = loop.call_later(self.check_s, self.tick)
