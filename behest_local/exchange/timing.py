"""Stream timelines: per-event times, gaps, stalls and time to first token. Pure.

One timeline serves three readers: the TUI's timeline tab, the read-only
``/_behest/exchanges/{id}/timeline`` endpoint, and the probe's verdict. Times are
seconds relative to the exchange's start. Up to three clocks per event:

* ``arrival``: the event reached the relay from the provider (exchange/capture.py);
* ``departure``: the gateway finished writing it to the client (``chunk_times``);
* ``client``: a probe saw it arrive at the far end (probe/measure.py), when one ran.

A stall is a departure gap far above the stream's usual pace: more than
``STALL_FACTOR`` times the median gap and at least ``STALL_MIN`` seconds, so a steady
slow stream has none and a single long pause stands out.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import median

STALL_FACTOR = 5.0
STALL_MIN = 0.25
TIMELINE_MAX = 10_000
"""Events of one stream whose times are kept (departures on the exchange, arrivals on its
capture): all of a usual stream, a token an event, and the start of any. A longer stream
is still counted and sized event by event, but an endless one must not grow the
gateway, and its timeline stops there (``Exchange.chunks_untimed`` counts the rest)."""


@dataclass(frozen=True, slots=True)
class Row:
    index: int
    departure: float
    gap: float | None
    """Seconds since the previous departure (None for the first event)."""
    arrival: float | None = None
    client: float | None = None
    size: int | None = None
    stall: bool = False

    @property
    def held(self) -> float | None:
        """Seconds the gateway spent writing the event (client back-pressure)."""
        return None if self.arrival is None else self.departure - self.arrival


@dataclass(frozen=True, slots=True)
class Timeline:
    rows: tuple[Row, ...]
    ttft: float | None
    median_gap: float | None
    max_gap: float | None

    @property
    def stalls(self) -> list[Row]:
        return [r for r in self.rows if r.stall]

    @property
    def gaps(self) -> list[float]:
        return [r.gap for r in self.rows if r.gap is not None]

    @property
    def has_arrivals(self) -> bool:
        return any(r.arrival is not None for r in self.rows)

    @property
    def has_client(self) -> bool:
        return any(r.client is not None for r in self.rows)


def build(departures: list[float], *, started: float, arrivals: list[float] | None = None,
          sizes: list[int] | None = None, client: list[float] | None = None) -> Timeline:
    """A timeline from absolute times on one clock (``started`` on the same clock).

    ``arrivals``/``sizes``/``client`` may be shorter than ``departures`` (a capture that
    stopped keeping data, a probe that saw fewer events); missing cells are None.
    """
    deps = [t - started for t in departures]
    gaps = [b - a for a, b in zip(deps, deps[1:])]
    typical = median(gaps) if gaps else None
    threshold = max(STALL_MIN, STALL_FACTOR * typical) if typical is not None else None
    rows = []
    for i, dep in enumerate(deps):
        gap = gaps[i - 1] if i else None
        rows.append(Row(
            index=i, departure=dep, gap=gap,
            arrival=arrivals[i] - started if arrivals and i < len(arrivals) else None,
            client=client[i] if client and i < len(client) else None,
            size=sizes[i] if sizes and i < len(sizes) else None,
            stall=gap is not None and threshold is not None and gap > threshold))
    return Timeline(tuple(rows), deps[0] if deps else None, typical, max(gaps) if gaps else None)


def ms(seconds: float | None, *, signed: bool = False) -> str:
    """Milliseconds for tables: ``12.3`` below 100 ms, whole numbers above, ``-`` for None."""
    if seconds is None:
        return "-"
    value = seconds * 1000
    text = f"{value:+.1f}" if signed else f"{value:.1f}"
    if abs(value) >= 100:
        text = f"{value:+.0f}" if signed else f"{value:.0f}"
    return text


def duration(seconds: float | None) -> str:
    """Human duration for cells: ``840ms``, ``2.1s``, ``1m05s``."""
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
