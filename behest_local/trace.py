"""The trace store: the recent exchanges, and the fan-out of their events.

Every ``Exchange`` publishes its events here; subscribers (the headless line logger, the
TUI, tests) register a plain callable. Publishing is synchronous and on the request's own
task, so subscribers must be cheap and non-blocking: anything slow (rendering, disk) is
theirs to batch. A failing subscriber is logged once and never breaks a request.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from behest_local.events import RequestReceived, TraceEvent

if TYPE_CHECKING:
    from behest_local.exchange import Exchange

Subscriber = Callable[[TraceEvent, "Exchange"], None]

log = logging.getLogger("behest_local.trace")


class TraceStore:
    """A bounded ring of recent exchanges plus synchronous event fan-out.

    Args:
        capacity: how many recent exchanges to keep in memory.
        clock: monotonic clock (seconds); injectable for tests.
        wall_clock: Unix-time clock for display.
    """

    def __init__(self, *, capacity: int = 1000, clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.wall_clock = wall_clock
        self.recent: deque[Exchange] = deque(maxlen=capacity)
        self._subscribers: list[Subscriber] = []
        self._failed: set[int] = set()

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Register ``subscriber(event, exchange)``; returns a function that unsubscribes."""
        self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)

        return unsubscribe

    def publish(self, event: TraceEvent, exchange: Exchange) -> None:
        if isinstance(event, RequestReceived):
            self.recent.append(exchange)
        for subscriber in self._subscribers:
            try:
                subscriber(event, exchange)
            except Exception:  # a subscriber bug must never fail a request
                if id(subscriber) not in self._failed:
                    self._failed.add(id(subscriber))
                    log.exception("trace subscriber %r failed; it keeps receiving events",
                                  subscriber)

    def find(self, exchange_id: str) -> Exchange | None:
        for exchange in reversed(self.recent):
            if exchange.id == exchange_id:
                return exchange
        return None
