"""The trace store: the recent exchanges, and the fan-out of their events.

Every ``Exchange`` publishes its events here; subscribers (the headless line logger, the
TUI, tests) register a plain callable, optionally with the event types they want
(``subscribe(fn, events=(ExchangeFinished, ExchangeFailed))``; default: every event).
Publishing is synchronous and on the request's own task, so subscribers must be cheap
and non-blocking: anything slow (rendering, disk) is theirs to batch. A failing
subscriber is logged once and never breaks a request.

The per-type routing is what keeps tracing cheap: ``publish`` looks the event's type up
in a table of subscriber tuples (built once per type, rebuilt when someone subscribes),
and ``wants(type)`` (or, without a call, ``type in store.wanted``, recomputed when someone
subscribes) lets an ``Exchange`` skip building an event nobody takes (headless mode takes
only the terminal events). The ring of recent exchanges does not depend on
any of that: ``opened`` adds each exchange as it is received.

``pricer`` is the one hook that is not a subscriber: the cost an ending exchange sets on
itself before its end is published (exchange/exchange.py), so that every subscriber of the
end event reads it whatever order they subscribed in.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from behest_local.exchange.events import TraceEvent

if TYPE_CHECKING:
    from behest_local.exchange.exchange import Exchange

Subscriber = Callable[[TraceEvent, "Exchange"], None]
Pricer = Callable[["Exchange"], "float | None"]

log = logging.getLogger("behest_local.exchange.bus")


class TraceStore:
    """A bounded ring of recent exchanges plus synchronous, per-type event fan-out.

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
        self._subscribers: list[tuple[Subscriber, tuple[type, ...] | None]] = []
        self._routes: dict[type, tuple[Subscriber, ...]] = {}
        self._failed: set[int] = set()
        self.wanted: frozenset[type[TraceEvent]] = frozenset()
        """The event types some subscriber takes, among those defined when the subscribers
        last changed (all of exchange/events.py's): ``kind in store.wanted`` is ``wants(kind)``
        without a call, for the request path's own events."""
        self.pricer: Pricer | None = None
        """What an ending exchange cost (USD, None when it is not billed), installed by the
        layer that prices (finops/recorder.py): an exchange sets its ``cost`` from it as it
        ends, before its end event is published, so no subscriber depends on running
        after the usage recorder to see it."""

    def subscribe(self, subscriber: Subscriber, *,
                  events: tuple[type[TraceEvent], ...] | None = None) -> Callable[[], None]:
        """Register ``subscriber(event, exchange)`` for ``events`` (types, subclasses
        included; None: every event). Returns a function that unsubscribes."""
        entry = (subscriber, tuple(events) if events is not None else None)
        self._subscribers.append(entry)
        self._reroute()

        def unsubscribe() -> None:
            if entry in self._subscribers:
                self._subscribers.remove(entry)
                self._reroute()

        return unsubscribe

    def _reroute(self) -> None:
        self._routes = {}
        kinds, wanted = [TraceEvent], []
        while kinds:  # every event type defined so far, subclasses included
            kind = kinds.pop()
            kinds.extend(kind.__subclasses__())
            if self._route(kind):
                wanted.append(kind)
        self.wanted = frozenset(wanted)

    def _route(self, kind: type) -> tuple[Subscriber, ...]:
        route = self._routes.get(kind)
        if route is None:
            route = self._routes[kind] = tuple(
                fn for fn, types in self._subscribers if types is None or issubclass(kind, types))
        return route

    def wants(self, kind: type[TraceEvent]) -> bool:
        """Whether any subscriber takes events of ``kind``: if not, don't build one."""
        route = self._routes.get(kind)
        return bool(route if route is not None else self._route(kind))

    def opened(self, exchange: Exchange) -> None:
        """A new exchange was received: keep it in the ring of recent ones."""
        self.recent.append(exchange)

    def publish(self, event: TraceEvent, exchange: Exchange) -> None:
        route = self._routes.get(type(event))
        if route is None:
            route = self._route(type(event))
        for subscriber in route:
            try:
                subscriber(event, exchange)
            except Exception:  # a subscriber bug must never fail a request
                if id(subscriber) not in self._failed:
                    self._failed.add(id(subscriber))
                    log.exception("trace subscriber %r failed; it keeps receiving events",
                                  subscriber)

    def price(self, exchange: Exchange) -> float | None:
        """``pricer(exchange)``; None when it fails (logged once): pricing, like a
        subscriber, must never fail the request it runs in."""
        pricer = self.pricer
        if pricer is None:
            return None
        try:
            return pricer(exchange)
        except Exception:
            if id(pricer) not in self._failed:
                self._failed.add(id(pricer))
                log.exception("trace pricer %r failed; what it fails on is left unpriced",
                              pricer)
            return None

    def find(self, exchange_id: str) -> Exchange | None:
        for exchange in reversed(self.recent):
            if exchange.id == exchange_id:
                return exchange
        return None
