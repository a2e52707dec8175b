"""The TUI's trace subscriber: O(1) bookkeeping per event, read by the refresh timer.

This is where the TUI meets the gateway's hot path. ``Feed.__call__`` runs
synchronously inside every request (exchange/bus.py's fan-out), for every stream chunk
included, so it does no widget work at all: it notes which exchanges changed (a dict
keyed by id, so a thousand chunks of one stream are one entry), counts requests for
the rate, and keeps the few facts events carry that the ``Exchange`` does not (the
routing reason, probe reports), and the last config reload's result (``config_event``,
subscribed to ``LiveConfig``, not the trace store). The app's timer calls ``take``
at most ``1 / tick`` times a second and does the widget work for what changed since;
that is the whole coalescing story (style.md §3.3: refresh on a timer, never per token).
The timer runs only while there is something to refresh (issue 23, idle means idle): the
app stops it and sets ``sleeping``; the next change calls ``on_wake``, which starts it.

Memory is bounded: the changed-set empties every tick, and the per-exchange notes are
ordered dicts trimmed to the trace ring's size. Pure Python: unit-testable without
Textual.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from behest_local.exchange.events import (ConfigEvent, ConfigRejected, KillSwitchChanged,
                                          ProbeReported, RequestReceived, Routed, TraceEvent)

if TYPE_CHECKING:
    from behest_local.exchange.exchange import Exchange

INTERNAL_PREFIX = "/_behest/"


@dataclass(frozen=True, slots=True)
class ConfigStatus:
    ok: bool | None = None
    """None until a reload happened (the config loaded at start is in force)."""
    message: str = "loaded at start"
    detail: str | None = None
    """A rejected config's whole error (every ``file:line`` problem), for a notification."""
    badge: str | None = None
    """The header's label when not "config ok"/"config rejected": ``kill switch``."""


def config_status_of(event: ConfigEvent) -> ConfigStatus:
    """What the header says after a ``ConfigReloaded``/``ConfigRejected`` (config/reload.py)."""
    name = Path(event.source).name if event.source else "config"
    if isinstance(event, KillSwitchChanged):  # an admin's act, not a config reload
        what = "killed" if event.killed else "revived"
        why = f" ({event.reason})" if event.reason else ""
        return ConfigStatus(not event.killed, f"{event.kind} {event.target} {what}{why}",
                            badge="kill switch")
    if isinstance(event, ConfigRejected):
        first = (event.error or "invalid").strip().splitlines()[0]
        if event.source and first.startswith(event.source):  # the header is one line
            first = name + first[len(event.source):]
        return ConfigStatus(False, f"previous config in force · {first}", event.error)
    changed = getattr(event, "changed", ())
    message = f"reloaded {name}" + (f": {len(changed)} changed" if changed else "")
    restart = getattr(event, "restart_required", ())
    if restart:
        message += f"; restart to apply {', '.join(restart)}"
    return ConfigStatus(True, message)


class RateMeter:
    """Requests per second over the last ``window`` seconds, in one-second buckets."""

    def __init__(self, window: int = 10) -> None:
        self.window = window
        self._buckets: dict[int, int] = {}

    def hit(self, at: float) -> None:
        second = int(at)
        self._buckets[second] = self._buckets.get(second, 0) + 1
        if len(self._buckets) > self.window * 2:
            floor = second - self.window
            self._buckets = {s: n for s, n in self._buckets.items() if s > floor}

    def per_second(self, now: float) -> float:
        floor = int(now) - self.window
        return sum(n for s, n in self._buckets.items() if s > floor) / self.window


class Feed:
    """Subscribe with ``store.subscribe(feed)``; read with ``take`` on a timer."""

    def __init__(self, capacity: int = 1000) -> None:
        self.capacity = capacity
        self.rate = RateMeter()
        self.config = ConfigStatus()
        self.events = 0
        self.header_version = 0
        """Bumped when something the header shows changed (config)."""
        self.reasons: OrderedDict[str, str] = OrderedDict()
        self.probes: OrderedDict[str, ProbeReported] = OrderedDict()
        self.projects: set[str] = set()
        self.sleeping = False
        """Set by the app when its timers stopped (nothing to refresh): the next change
        calls ``on_wake`` to start them again."""
        self.on_wake: Callable[[], None] | None = None
        self._dirty: dict[str, Exchange] = {}

    def __call__(self, event: TraceEvent, exchange: Exchange | None) -> None:
        self.events += 1
        if exchange is None or exchange.path.startswith(INTERNAL_PREFIX):
            return
        self._dirty[exchange.id] = exchange
        if self.sleeping:  # the first change after a quiet spell: one bool test per event
            self._wake()
        if isinstance(event, RequestReceived):
            self.rate.hit(event.at)
        elif isinstance(event, Routed):
            self._keep(self.reasons, exchange.id, event.reason)
        elif isinstance(event, ProbeReported):
            self._keep(self.probes, exchange.id, event)
        if exchange.project is not None and exchange.project not in self.projects:
            self.projects.add(exchange.project)
            self.header_version += 1

    def config_event(self, event: ConfigEvent) -> None:
        """``LiveConfig.subscribe`` callback (config/reload.py); may run on any thread: it only
        swaps a value the timer reads."""
        self.config = config_status_of(event)
        self.header_version += 1
        self._wake()  # always (rare): a test of ``sleeping`` from another thread could race

    def _wake(self) -> None:
        self.sleeping = False
        if self.on_wake is not None:
            self.on_wake()

    def _keep(self, table: OrderedDict, key: str, value: object) -> None:
        table[key] = value
        table.move_to_end(key)
        while len(table) > self.capacity:
            table.popitem(last=False)

    def take(self) -> dict[str, Exchange]:
        """The exchanges changed since the last call (each once, however many events)."""
        dirty, self._dirty = self._dirty, {}
        return dirty

    @property
    def pending(self) -> int:
        return len(self._dirty)
