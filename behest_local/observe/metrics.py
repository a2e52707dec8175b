"""The metrics aggregator: ``GET /_behest/metrics``'s numbers, in Prometheus text format.

A ``TraceStore`` subscriber to the terminal events only (``Metrics.EVENTS``), so a stream's
events cost it nothing: each ended exchange adds to its series, labelled by project, model,
provider and status, in a few dict updates on the request's task. ``render`` writes the
exposition text (format 0.0.4) when scraped; nothing runs between scrapes, so an idle
gateway stays idle. Sits in observe/, beside the line logger and trace writer: it reads the
exchange's own summary (tokens, cost, ttft, duration) and imports nothing above exchange/.

Label values are the exchange's own (``""`` where it has none, as for ``/v1/files``).
Status is the HTTP status, so a project's 429s and 5xx are told apart.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict

from behest_local.exchange.events import ExchangeFailed, ExchangeFinished, TraceEvent
from behest_local.exchange.exchange import Exchange

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
"""Histogram bucket bounds in seconds (Prometheus' defaults, extended to a minute: a long
stream's duration)."""

LABELS = ("project", "model", "provider", "status")

MAX_SERIES = 5_000
"""Most label sets kept. Model names come from clients (an unknown one is answered by the
emulated model under its own name), so past this a new set is counted under
``model="_other"``: a client cannot grow the gateway's memory or a scrape without bound."""

OTHER = "_other"

Key = tuple[str, str, str, str]


class Histogram:
    """Counts per bucket, their sum and their number: one labelled series."""

    __slots__ = ("counts", "sum", "count")

    def __init__(self) -> None:
        self.counts = [0] * len(BUCKETS)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        index = bisect_left(BUCKETS, value)
        if index < len(BUCKETS):
            self.counts[index] += 1
        self.sum += value
        self.count += 1


class Metrics:
    """Counters and histograms of ended exchanges.

    Subscribe with ``store.subscribe(metrics, events=Metrics.EVENTS)``."""

    EVENTS = (ExchangeFinished, ExchangeFailed)

    def __init__(self) -> None:
        self.requests: dict[Key, int] = defaultdict(int)
        self.errors: dict[Key, int] = defaultdict(int)
        self.tokens: dict[tuple[Key, str], int] = defaultdict(int)
        self.cost: dict[Key, float] = defaultdict(float)
        self.ttft: dict[Key, Histogram] = defaultdict(Histogram)
        self.duration: dict[Key, Histogram] = defaultdict(Histogram)

    def __call__(self, event: TraceEvent, exchange: Exchange) -> None:
        status = exchange.status or 0
        key = (exchange.project or "", exchange.model or "", exchange.provider or "",
               str(status))
        requests = self.requests
        if key not in requests and len(requests) >= MAX_SERIES:
            key = (key[0], OTHER, key[2], key[3])
        requests[key] += 1
        if status >= 400 or type(event) is ExchangeFailed:
            self.errors[key] += 1
        if exchange.prompt_tokens:
            self.tokens[key, "input"] += exchange.prompt_tokens
        if exchange.completion_tokens:
            self.tokens[key, "output"] += exchange.completion_tokens
        if exchange.cost:
            self.cost[key] += exchange.cost
        ttft = exchange.ttft
        if ttft is not None:
            self.ttft[key].observe(ttft)
        duration = exchange.duration
        if duration is not None:
            self.duration[key].observe(duration)

    def render(self) -> str:
        """The exposition text: every series so far, one family after the other."""
        out: list[str] = []
        _family(out, "behest_requests_total", "counter", "Exchanges ended.", self.requests)
        _family(out, "behest_errors_total", "counter",
                "Exchanges ended with an error status (4xx, 5xx) or failed.", self.errors)
        out.append("# HELP behest_tokens_total Tokens counted, by type (input, output).")
        out.append("# TYPE behest_tokens_total counter")
        for (key, kind), value in self.tokens.items():
            out.append(f"behest_tokens_total{{{_labels(key, type=kind)}}} {value}")
        _family(out, "behest_cost_usd_total", "counter", "What exchanges cost, in USD.",
                self.cost)
        _histogram(out, "behest_ttft_seconds",
                   "Seconds from receipt to a stream's first event.", self.ttft)
        _histogram(out, "behest_request_duration_seconds",
                   "Seconds from receipt to the last byte.", self.duration)
        return "\n".join(out) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(key: Key, **extra: str) -> str:
    pairs = [*zip(LABELS, key), *extra.items()]
    return ",".join(f'{name}="{_escape(value)}"' for name, value in pairs)


def _family(out: list[str], name: str, kind: str, help_: str, series: dict) -> None:
    out.append(f"# HELP {name} {help_}")
    out.append(f"# TYPE {name} {kind}")
    for key, value in series.items():
        out.append(f"{name}{{{_labels(key)}}} {value!r}")


def _histogram(out: list[str], name: str, help_: str, series: dict[Key, Histogram]) -> None:
    out.append(f"# HELP {name} {help_}")
    out.append(f"# TYPE {name} histogram")
    for key, hist in series.items():
        running = 0
        for bound, count in zip(BUCKETS, hist.counts):
            running += count
            out.append(f"{name}_bucket{{{_labels(key, le=repr(bound))}}} {running}")
        out.append(f'{name}_bucket{{{_labels(key, le="+Inf")}}} {hist.count}')
        out.append(f"{name}_sum{{{_labels(key)}}} {hist.sum!r}")
        out.append(f"{name}_count{{{_labels(key)}}} {hist.count}")
