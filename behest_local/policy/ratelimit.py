"""Counting requests, tokens and dollars in calendar windows: the pure core of rate limits.

Behest's Kong plugin counts in *fixed calendar windows*: one Redis key per UTC minute
(``rpm:{tid}:{pid}:{YYYYMMDDHHMM}``), daily token counters kept 25 h, monthly budgets
(reference/behest-api.md §3.2). ``Counters`` reproduces that: each counter is a
``(key, Window)`` pair holding the index of its current window and the amount used in it,
so a counter silently restarts from zero when its minute, day or month rolls over.

This module owns the arithmetic and nothing else: no HTTP, no configuration. Which limits
apply to a request is ``policy/tiers.py``'s decision, turning a refusal into a 429/402 is
``server/admission/limits.py``'s. The clock is injected (Unix seconds, windows are UTC-aligned), so
tests move time by hand and never sleep.

**Exact under concurrency.** ``admit`` checks every limit and then increments every request
counter in one synchronous call. asyncio runs one callback at a time and nothing here
awaits, so N concurrent requests against a limit of N admit exactly N and refuse the
N+1st; no lock is needed, and none would help a coroutine that awaited in between.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from typing import Literal

Unit = Literal["requests", "tokens", "cost_usd"]


class Window(str, Enum):
    MINUTE = "minute"
    DAY = "day"
    MONTH = "month"
    TOTAL = "total"
    """Never resets (a session's lifetime budget)."""


# Enum members read as class attributes cost a lookup each (~0.2 us on 3.11); the
# counters' hot path compares against these instead.
_MINUTE, _DAY, _MONTH = Window.MINUTE, Window.DAY, Window.MONTH
_INF = math.inf


def window_span(window: Window, now: float) -> tuple[int, float]:
    """The index of the window containing ``now`` and the Unix time it ends."""
    if window is Window.MINUTE:
        index = int(now // 60)
        return index, (index + 1) * 60.0
    if window is Window.DAY:
        index = int(now // 86_400)
        return index, (index + 1) * 86_400.0
    if window is Window.MONTH:
        day = datetime.fromtimestamp(now, timezone.utc)
        index = day.year * 12 + day.month - 1
        year, month = divmod(index + 1, 12)
        return index, datetime(year, month + 1, 1, tzinfo=timezone.utc).timestamp()
    return 0, math.inf


@dataclass(frozen=True, slots=True)
class Limit:
    """One limit on one counter. ``key`` identifies the counter together with ``window``."""

    name: str
    """Stable identifier, e.g. ``project_rpm``, ``user_tokens_per_day`` (used in details)."""
    key: Hashable
    window: Window
    limit: float
    unit: Unit
    scope: str
    """Whose counter: ``ip``, ``project``, ``user`` or ``session``."""
    subject: str = ""
    """Human name of the counted party, e.g. ``user 'alice' of project 'local'``."""
    setting: str = ""
    """The configuration key that sets this limit, for messages."""
    tier: str | None = None
    """The tier whose table set this limit, when one did."""
    slot: tuple[Hashable, Window] = field(init=False, repr=False, compare=False)
    """``(key, window)``: the counter's key in ``Counters``, built once per limit (limits are
    built once per settings snapshot and caller: ``tiers.LimitTable``)."""
    counts_requests: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "slot", (self.key, self.window))
        object.__setattr__(self, "counts_requests", self.unit == "requests")


# LimitState and Verdict are built on every request (twice), so they are plain slotted
# classes: a frozen dataclass's __init__ costs ~0.15 us more per field. Treat them as
# read-only all the same.
@dataclass(slots=True)
class LimitState:
    """A limit and its counter after the request: what ``x-ratelimit-*`` headers report."""

    limit: Limit
    used: float
    reset_at: float

    @property
    def remaining(self) -> float:
        return max(0.0, self.limit.limit - self.used)


@dataclass(slots=True)
class Verdict:
    admitted: bool
    """False when a limit refused the request (even if the caller chose not to enforce)."""
    states: tuple[LimitState, ...]
    refused: LimitState | None = None
    retry_after: float = 0.0
    """Seconds until the refusing limit's window ends (0 when admitted)."""


class Counters:
    """Window counters keyed by ``(key, window)``, bounded in number (oldest dropped first).

    Args:
        clock: Unix time in seconds; injectable.
        max_counters: counters kept before the least recently touched are forgotten.
    """

    def __init__(self, clock: Callable[[], float] = time.time, *,
                 max_counters: int = 200_000) -> None:
        self.clock = clock
        self.max_counters = max_counters
        self._counts: dict[tuple[Hashable, Window], list] = {}
        # The calendar month last asked about, (start, end, index): working a month out
        # takes two datetime conversions, and every request and response asks for it.
        self._month: tuple[float, float, int] = (math.inf, -math.inf, 0)

    def span(self, window: Window, now: float) -> tuple[int, float]:
        """``window_span(window, now)``, with the current month's bounds remembered."""
        if window is _MONTH:
            start, end, index = self._month
            if start <= now < end:
                return index, end
            index, end = window_span(window, now)
            year, month = divmod(index, 12)
            start = datetime(year, month + 1, 1, tzinfo=timezone.utc).timestamp()
            self._month = (start, end, index)
            return index, end
        if window is _MINUTE:
            index = int(now // 60)
            return index, (index + 1) * 60.0
        if window is _DAY:
            index = int(now // 86_400)
            return index, (index + 1) * 86_400.0
        return window_span(window, now)

    def used(self, key: Hashable, window: Window, *, now: float | None = None) -> float:
        """The amount counted in the current window of ``(key, window)``."""
        index, _ = self.span(window, self.clock() if now is None else now)
        entry = self._counts.get((key, window))
        return entry[1] if entry is not None and entry[0] == index else 0

    def current(self, window: Window, *, now: float | None = None
                ) -> list[tuple[Hashable, float]]:
        """Every ``(key, amount)`` counted in the current ``window`` (for live gauges)."""
        index, _ = self.span(window, self.clock() if now is None else now)
        return [(key, entry[1]) for (key, win), entry in list(self._counts.items())
                if win is window and entry[0] == index and entry[1]]

    def add(self, key: Hashable, window: Window, amount: float, *,
            at: float | None = None) -> None:
        """Count ``amount`` in the window containing ``at`` (default: now). An amount for a
        window older than the counter's current one is ignored (it has already reset)."""
        self.add_all(((key, window),), amount, at=at)

    def add_all(self, slots: Iterable[tuple[Hashable, Window]], amount: float, *,
                at: float | None = None) -> None:
        """``add`` for each ``(key, window)`` of ``slots``: one response's usage lands on
        several counters at once (``UsageRecorder``), at one instant."""
        now = self.clock() if at is None else at
        counts, span = self._counts, self.span
        window, index = None, 0
        for slot in slots:
            if slot[1] is not window:  # slots grouped by window ask once per group
                window = slot[1]
                index = span(window, now)[0]
            entry = counts.pop(slot, None)
            if entry is None or entry[0] < index:
                entry = [index, 0]
            if entry[0] == index:
                entry[1] += amount
            counts[slot] = entry  # re-inserted last: the dict's order is recency
        if len(counts) > self.max_counters:
            self._forget()

    def admit(self, limits: Sequence[Limit], *, take: bool = True,
              enforce: bool = True) -> Verdict:
        """Check ``limits`` in order and, when all pass (or ``enforce`` is false), count one
        request on each request limit. Token and dollar limits are checked, never taken
        here: their amount is known only after the response (``add``).

        A request limit of N refuses when N are already counted; a token or dollar budget
        refuses once it is spent (used ≥ limit), as Kong's daily counters do.
        """
        now = self.clock()
        counts = self._counts
        refused: LimitState | None = None
        states = []
        taken = []  # (state, index) of the request limits, counted once all are checked
        window, index, reset_at = None, 0, 0.0
        for limit in limits:  # one pass, inlined: this runs twice on every request
            if limit.window is not window:  # a run of limits on one window asks once
                window = limit.window
                if window is _MINUTE:  # ``span``'s commonest case, without the call
                    index = int(now // 60)
                    reset_at = (index + 1) * 60.0
                else:
                    index, reset_at = self.span(window, now)
            entry = counts.get(limit.slot)
            used = entry[1] if entry is not None and entry[0] == index else 0
            state = LimitState(limit, used, reset_at)
            states.append(state)
            if limit.counts_requests:
                taken.append((state, index))
                if refused is None and used + 1 > limit.limit:
                    refused = LimitState(limit, used, reset_at)  # apart: counting moves states
            elif refused is None and used >= limit.limit:
                refused = LimitState(limit, used, reset_at)
        if take and taken and (refused is None or not enforce):
            for state, index in taken:  # ``add_all(slots, 1)``, inlined
                slot = state.limit.slot
                entry = counts.pop(slot, None)
                if entry is None or entry[0] < index:
                    entry = [index, 0]
                if entry[0] == index:
                    entry[1] += 1
                counts[slot] = entry  # re-inserted last: the dict's order is recency
                state.used += 1  # the states are this call's own: count in place
            if len(counts) > self.max_counters:
                self._forget()
        if refused is None:
            return Verdict(True, tuple(states))
        return Verdict(False, tuple(states), refused, max(0.0, refused.reset_at - now))

    def _forget(self) -> None:
        """Forget the oldest 1% of the counters at once: O(1) amortised."""
        counts = self._counts
        excess = len(counts) - self.max_counters + self.max_counters // 100
        for stale in list(itertools.islice(counts, excess)):
            del counts[stale]

    def __len__(self) -> int:
        return len(self._counts)


def binding(states: Sequence[LimitState], unit: Unit) -> LimitState | None:
    """The state of ``unit`` closest to refusing (least remaining; sooner reset on ties)."""
    candidates = [s for s in states if s.limit.unit == unit]
    if not candidates:
        return None
    return min(candidates, key=lambda s: (s.remaining, s.reset_at))


def duration_text(seconds: float) -> str:
    """OpenAI's ``x-ratelimit-reset-*`` format: ``12ms``, ``1s``, ``6m0s``, ``2s81ms``."""
    if seconds == _INF or seconds == -_INF:
        return "0s"
    total_ms = round(seconds * 1000)
    if total_ms < 60_000:  # a minute window's reset, on every response: no h or m to write
        if total_ms < 1000:
            return f"{total_ms}ms" if total_ms > 0 else "0ms"
        secs, millis = divmod(total_ms, 1000)
        return f"{secs}s{millis}ms" if millis else f"{secs}s"
    hours, rest = divmod(total_ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    out = f"{hours}h" if hours else ""
    out += f"{minutes}m" if hours or minutes else ""
    out += f"{secs}s"
    return out + (f"{millis}ms" if millis else "")


def retry_after_seconds(seconds: float) -> int:
    """``Retry-After`` as RFC 9110 §10.2.3 delay-seconds: a non-negative integer, rounded up
    so a client that waits exactly that long lands in the next window (at least 1)."""
    return max(1, math.ceil(seconds - 1e-9))
