"""The live list of exchanges: one DataTable row per exchange, updated by the timer.

Rows are keyed by request id and hold the summary the issue asks for: time, project
and user, method and path, requested → routed model and provider, status, time to
first token, duration, tokens, cost, and a progress cell for streams still running.

``apply`` is the only update path and is called by the app's refresh timer with the
exchanges that changed since the last tick: each is re-rendered once, and only the
cells whose text changed are written, so a 1,000-chunk stream costs one row update
per tick. Running streams are re-rendered every tick as well (their elapsed time
moves), which is bounded by how many streams run at once. The table never holds more
rows than the trace ring (``capacity``): the oldest rows go first.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from rich.text import Text
from textual.widgets import DataTable

from behest_local.timing import duration

if TYPE_CHECKING:
    from behest_local.exchange import Exchange
    from behest_local.tui.filters import Filters

# (key, label, width). Widths fit a 120-column terminal with the scrollbar; cells are
# cut with "…" to them (the detail view has everything in full). Cell padding is off and
# each cell starts with one space instead: a column costs one separator, not two.
COLUMNS = (("time", "Time", 9), ("who", "Project/user", 13), ("request", "Request", 26),
           ("model", "Model → provider", 27), ("status", "St", 4), ("ttft", "TTFT", 6),
           ("duration", "Time", 6), ("tokens", "Tokens", 8), ("cost", "Cost", 7),
           ("progress", "Stream", 12))
WIDTHS = {key: width for key, _, width in COLUMNS}


def _fit(value: str, width: int, style: str = "") -> Text:
    if len(value) > width - 1:
        value = value[: width - 2] + "…"
    return Text(" " + value, style=style, no_wrap=True)


def _status(exchange: Exchange) -> Text:
    status = exchange.status
    if status is None:
        return _fit("…", 4, "dim")
    style = "green" if status < 300 else "yellow" if status < 500 else "red"
    if exchange.error and status < 400:  # a stream that failed after its 200
        style = "red"
    return _fit(str(status), 4, style)


def _model(exchange: Exchange) -> str:
    if not exchange.model:
        return "-"
    requested = exchange.requested_model
    arrow = f"{requested}→" if requested and requested != exchange.model else ""
    return f"{arrow}{exchange.model}@{exchange.provider}"


def _progress(exchange: Exchange, now: float) -> Text:
    if not exchange.stream:
        return _fit("", 12)
    count = len(exchange.chunk_times)
    if exchange.ended is None:
        return _fit(f"▶ {count} {duration(now - exchange.started)}", 12, "bold cyan")
    if exchange.error:
        return _fit(f"✗ {count} ev", 12, "red")
    return _fit(f"✓ {count} ev", 12, "green")


def row_cells(exchange: Exchange, now: float) -> tuple[Text, ...]:
    """The cells of ``exchange``'s row, in ``COLUMNS`` order."""
    clock = time.strftime("%H:%M:%S", time.localtime(exchange.wall_time))
    who = exchange.project or "-"
    if exchange.user:
        who += f"/{exchange.user}"
    tokens = "-"
    if exchange.prompt_tokens is not None or exchange.completion_tokens is not None:
        tokens = f"{exchange.prompt_tokens or 0}+{exchange.completion_tokens or 0}"
    cost = getattr(exchange, "cost", None)
    running = exchange.ended is None
    w = WIDTHS
    return (_fit(clock, w["time"]), _fit(who, w["who"]),
            _fit(f"{exchange.method} {exchange.path}", w["request"]),
            _fit(_model(exchange), w["model"]), _status(exchange),
            _fit(duration(exchange.ttft) if exchange.stream else "-", w["ttft"]),
            _fit("…" if running else duration(exchange.duration), w["duration"]),
            _fit(tokens, w["tokens"]),
            _fit(f"${cost:.4f}" if isinstance(cost, (int, float)) else "-", w["cost"]),
            _progress(exchange, now))


class ExchangeList(DataTable):
    """The exchange table (see the module docstring)."""

    def __init__(self, *, clock: Callable[[], float], capacity: int = 1000, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, cell_padding=0, **kwargs)
        self.clock = clock
        self.capacity = capacity
        self.updates = 0
        """How many times ``apply``/``rebuild`` changed the table (the coalescing test reads it)."""
        self.follow = True
        """Keep the cursor on the newest row as rows arrive (until the user moves it)."""
        self._row_text: dict[str, tuple] = {}
        self._live: dict[str, Exchange] = {}
        self._newest = float("-inf")
        self._keys = [key for key, _, _ in COLUMNS]

    def on_mount(self) -> None:
        for key, label, width in COLUMNS:
            self.add_column(Text(" " + label), key=key, width=width)

    @property
    def shown_ids(self) -> list[str]:
        return [row.key.value for row in self.ordered_rows]

    def rebuild(self, exchanges: Iterable[Exchange], filters: Filters) -> None:
        """Show exactly the matching ``exchanges`` (oldest first)."""
        selected = self.selected_id
        self.clear()
        self._row_text.clear()
        self._live.clear()
        self._newest = float("-inf")
        now = self.clock()
        for exchange in exchanges:
            if filters.matches(exchange):
                self._add(exchange, now)
        self._trim()
        self.updates += 1
        if selected in self._row_text and not self.follow:
            self.move_cursor(row=self.get_row_index(selected))
        elif self.row_count:
            self.move_cursor(row=self.row_count - 1)

    def apply(self, changed: dict[str, Exchange], filters: Filters) -> bool:
        """Update rows for ``changed`` exchanges and running streams.

        Returns False when an exchange that starts matching is older than the newest
        row (a stream that fails under "errors only"): appending it would break the
        order, so the caller rebuilds instead.
        """
        now = self.clock()
        touched = False
        fresh = []
        for exchange_id, exchange in {**self._live, **changed}.items():
            matches = filters.matches(exchange)
            if exchange_id in self._row_text:
                if matches:
                    touched |= self._update(exchange, now)
                else:
                    self._remove(exchange_id)
                    touched = True
            elif matches:
                fresh.append(exchange)
        fresh.sort(key=lambda e: e.started)
        if fresh and fresh[0].started < self._newest:
            return False
        for exchange in fresh:
            self._add(exchange, now)
            touched = True
        if touched:
            self._trim()
            self.updates += 1
            if self.follow and self.row_count:
                self.move_cursor(row=self.row_count - 1)
        return True

    def _add(self, exchange: Exchange, now: float) -> None:
        cells = row_cells(exchange, now)
        self.add_row(*cells, key=exchange.id)
        self._row_text[exchange.id] = tuple(map(str, cells))
        self._newest = max(self._newest, exchange.started)
        if exchange.ended is None:
            self._live[exchange.id] = exchange

    def _update(self, exchange: Exchange, now: float) -> bool:
        cells = row_cells(exchange, now)
        texts = tuple(map(str, cells))
        old = self._row_text[exchange.id]
        if exchange.ended is not None:
            self._live.pop(exchange.id, None)
        if texts == old:
            return False
        for key, cell, text, before in zip(self._keys, cells, texts, old):
            if text != before:
                self.update_cell(exchange.id, key, cell)
        self._row_text[exchange.id] = texts
        return True

    def _remove(self, exchange_id: str) -> None:
        self.remove_row(exchange_id)
        del self._row_text[exchange_id]
        self._live.pop(exchange_id, None)

    def _trim(self) -> None:
        while self.row_count > self.capacity:
            self._remove(self.ordered_rows[0].key.value)

    @property
    def selected_id(self) -> str | None:
        if not self.row_count:
            return None
        try:
            return self.ordered_rows[self.cursor_row].key.value
        except IndexError:
            return None
