"""The live list of exchanges: one line per exchange, updated by the refresh timer.

Rows hold the summary the issue asks for: time, project and user, method and path,
requested → routed model and provider, status, time to first token, duration,
tokens, cost, a progress cell for streams still running and the request id (row.py
renders them, and chooses the columns that fit the width: ``row.layout``). The cursor
row is drawn in the cursor colours over the list's background, so it stands out focused
or not.

This is a line-API widget (like Textual's ``Log``, or toolong's log view) rather than
a ``DataTable``, because of what a refresh costs: a DataTable re-renders every visible
cell whenever any cell changes, so a running stream repainted the whole table on
every tick. Here each row's rendered line is cached by its text, and ``apply``
repaints only the lines whose text changed: a 1,000-chunk stream is one line per
tick. Running streams are re-rendered every tick (their elapsed time moves), which is
bounded by how many streams run at once. A row's cells are made when it is first
drawn (or asked for), not when it arrives: under heavy traffic most rows scroll past
unseen, and making every row's cells was ~7 % of the loop at ~1,000 requests a second.
The list never holds more rows than the trace ring (``capacity``); the oldest go first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from behest_local.tui.row import (COLUMNS, INDEX, Layout, header_line, layout, row_cells,
                                  row_line, widths)

if TYPE_CHECKING:
    from behest_local.exchange.exchange import Exchange
    from behest_local.tui.filters import Filters



class ExchangeList(ScrollView, can_focus=True):
    """The exchange list (see the module docstring). Line 0 is the column header."""

    BINDINGS = [
        Binding("up", "cursor(-1)", "up", show=False),
        Binding("down", "cursor(1)", "down", show=False),
        Binding("pageup", "cursor(-10)", show=False),
        Binding("pagedown", "cursor(10)", show=False),
        Binding("home", "first", show=False),
        Binding("end", "last", show=False),
        Binding("enter", "app.focus_detail", "detail"),
    ]
    COMPONENT_CLASSES = {"exchange-list--header", "exchange-list--cursor"}
    DEFAULT_CSS = """
    ExchangeList { background: $surface; }
    ExchangeList > .exchange-list--header { text-style: bold; color: $text-accent; }
    ExchangeList > .exchange-list--cursor { background: $block-cursor-background;
                                            color: $block-cursor-foreground; }
    ExchangeList:blur > .exchange-list--cursor { background: $block-cursor-blurred-background;
                                                 color: $foreground; }
    """

    class Highlighted(Message):
        """The cursor moved to another exchange (or the list became empty: None)."""

        def __init__(self, exchange_id: str | None) -> None:
            super().__init__()
            self.exchange_id = exchange_id

    def __init__(self, *, clock: Callable[[], float], capacity: int = 1000, **kwargs) -> None:
        super().__init__(**kwargs)
        self.clock = clock
        self.capacity = capacity
        self.updates = 0
        """How many refreshes changed the list (the coalescing test reads it)."""
        self.follow = True
        """Keep the cursor on the newest row as rows arrive (until the user moves it)."""
        self.cursor_row = 0
        self._ids: list[str] = []
        self._rows: dict[str, Exchange] = {}
        """Every row's exchange; ``_texts``/``_plain`` hold the cells of those made so far."""
        self._texts: dict[str, tuple[Text, ...]] = {}
        self._plain: dict[str, tuple[str, ...]] = {}
        self._strips: dict[tuple[str, bool], Strip] = {}
        self._live: dict[str, Exchange] = {}
        self._newest = float("-inf")
        self._announced: str | None = None
        self._widest = {column.key: len(column.label) + 1 for column in COLUMNS}
        """The widest cell made in each column since the last rebuild (``row.layout``)."""
        self._widest_changed = True
        self._layout: Layout = ()
        self._layout_width = -1

    # -- queries (the app and tests) --------------------------------------------------

    @property
    def shown_ids(self) -> list[str]:
        return list(self._ids)

    @property
    def row_count(self) -> int:
        return len(self._ids)

    @property
    def running(self) -> bool:
        """Whether a listed exchange is still running: its row's elapsed time moves on
        without an event, so the app's timer must keep refreshing it."""
        return bool(self._live)

    @property
    def selected_id(self) -> str | None:
        return self._ids[self.cursor_row] if self._ids else None

    def row_text(self, exchange_id: str) -> str:
        """Every cell of a row, whole, shown or not."""
        return " ".join(self._cells(exchange_id)[1])

    def cell(self, exchange_id: str, column: str) -> str:
        """A cell's whole text, shown or not, e.g. ``cell(id, "status") == "200"``."""
        return self._cells(exchange_id)[1][INDEX[column]]

    @property
    def columns(self) -> list[str]:
        """The keys of the columns shown at the current width."""
        return [COLUMNS[n].key for n, _ in self._columns()]

    # -- updates (the refresh timer) --------------------------------------------------

    def rebuild(self, exchanges: Iterable[Exchange], filters: Filters) -> None:
        """Show exactly the matching ``exchanges`` (oldest first)."""
        selected = self.selected_id
        self._ids, self._rows, self._texts, self._plain = [], {}, {}, {}
        self._strips.clear()
        self._widest = {column.key: len(column.label) + 1 for column in COLUMNS}
        self._widest_changed = True
        self._live.clear()
        self._newest = float("-inf")
        now = self.clock()
        for exchange in exchanges:
            if filters.matches(exchange):
                self._add(exchange, now)
        self._trim()
        self.updates += 1
        self._resize()
        if selected in self._rows and not self.follow:
            self._move(self._ids.index(selected))
        else:
            self._move(max(0, len(self._ids) - 1))
        self.refresh()

    def apply(self, changed: dict[str, Exchange], filters: Filters) -> bool:
        """Update rows for ``changed`` exchanges and running streams.

        Returns False when an exchange that starts matching is older than the newest row
        (a stream that fails under "errors only"): appending it would break the order,
        so the caller rebuilds instead.
        """
        now = self.clock()
        fresh, dirty, removed = [], [], False
        for exchange_id, exchange in {**self._live, **changed}.items():
            matches = filters.matches(exchange)
            if exchange_id in self._rows:
                if not matches:
                    self._remove(exchange_id)
                    removed = True
                elif self._update(exchange, now):
                    dirty.append(exchange_id)
            elif matches:
                fresh.append(exchange)
        fresh.sort(key=lambda e: e.started)
        if fresh and fresh[0].started < self._newest:
            return False
        for exchange in fresh:
            self._add(exchange, now)
        removed |= self._trim()
        if not (fresh or dirty or removed):
            return True
        self.updates += 1
        if fresh or removed:
            self._resize()  # before moving: scrolling to a new last row needs its room
        selected = self.selected_id
        if self.follow or selected is None or selected not in self._rows:
            self._move(max(0, len(self._ids) - 1))
        if fresh or removed:
            self.refresh()
        else:
            for exchange_id in dirty:
                self._refresh_row(self._ids.index(exchange_id))
        return True

    def _add(self, exchange: Exchange, now: float) -> None:
        self._ids.append(exchange.id)
        self._rows[exchange.id] = exchange  # its cells are made when it is drawn
        self._newest = max(self._newest, exchange.started)
        if exchange.ended is None:
            self._live[exchange.id] = exchange

    def _update(self, exchange: Exchange, now: float) -> bool:
        if exchange.ended is not None:
            self._live.pop(exchange.id, None)
        shown = self._plain.get(exchange.id)
        if shown is None:  # never drawn: made when it is
            return False
        cells = row_cells(exchange, now)
        if tuple(c.plain for c in cells) == shown:
            return False
        self._set(exchange, cells)
        return True

    def _cells(self, exchange_id: str) -> tuple[tuple[Text, ...], tuple[str, ...]]:
        """A row's cells and their plain texts, made now if they were not yet."""
        if exchange_id not in self._texts:
            self._set(self._rows[exchange_id], row_cells(self._rows[exchange_id], self.clock()))
        return self._texts[exchange_id], self._plain[exchange_id]

    def _set(self, exchange: Exchange, cells: tuple[Text, ...]) -> None:
        widest = self._widest
        for key, width in widths(cells).items():
            if width > widest[key]:
                widest[key] = width
                self._widest_changed = True
        self._texts[exchange.id] = cells
        self._plain[exchange.id] = tuple(c.plain for c in cells)
        self._strips.pop((exchange.id, False), None)
        self._strips.pop((exchange.id, True), None)

    def _remove(self, exchange_id: str) -> None:
        self._ids.remove(exchange_id)
        for table in (self._rows, self._texts, self._plain, self._live):
            table.pop(exchange_id, None)
        self._strips.pop((exchange_id, False), None)
        self._strips.pop((exchange_id, True), None)

    def _trim(self) -> bool:
        excess = len(self._ids) - self.capacity
        for exchange_id in self._ids[:max(0, excess)]:
            self._remove(exchange_id)
        return excess > 0

    # -- cursor -----------------------------------------------------------------------

    def move_cursor(self, *, row: int) -> None:
        self.follow = row >= len(self._ids) - 1
        self._move(row)

    def action_cursor(self, delta: int) -> None:
        self.move_cursor(row=self.cursor_row + delta)

    def action_first(self) -> None:
        self.move_cursor(row=0)

    def action_last(self) -> None:
        self.move_cursor(row=len(self._ids) - 1)

    def on_click(self, event: events.Click) -> None:
        row = int(self.scroll_y) + event.y - 1
        if event.y >= 1 and 0 <= row < len(self._ids):
            self.move_cursor(row=row)

    def _move(self, row: int) -> None:
        row = max(0, min(row, len(self._ids) - 1))
        if row != self.cursor_row:
            old, self.cursor_row = self.cursor_row, row
            self._refresh_row(old)
            self._refresh_row(row)
        if self._ids:
            # Keep the cursor visible below the header line.
            self.scroll_to_region(Region(0, row + 1, 1, 1), spacing=None, animate=False,
                                  immediate=True, top=False)
        if self.selected_id != self._announced:
            self._announced = self.selected_id
            self.post_message(self.Highlighted(self._announced))

    # -- rendering --------------------------------------------------------------------

    def _columns(self) -> Layout:
        """The columns for the current width and the widest cells made so far; a change
        restyles every line (the strips cached for the old one are dropped)."""
        width = self.scrollable_content_region.width
        if width != self._layout_width or self._widest_changed:
            self._layout_width, self._widest_changed = width, False
            columns = layout(width, self._widest)
            if columns != self._layout:
                self._layout = columns
                self._strips.clear()
                self._resize()
        return self._layout

    def _resize(self) -> None:
        # As wide as the columns shown: a horizontal scrollbar only when even the columns
        # that are never dropped do not fit.
        self.virtual_size = Size(sum(w for _, w in self._layout), len(self._ids) + 1)

    def _refresh_row(self, row: int) -> None:
        y = row + 1 - int(self.scroll_y)
        if 1 <= y < self.size.height:
            self.refresh(Region(0, y, self.size.width, 1))

    def render_lines(self, crop: Region) -> list[Strip]:
        # Make the cells of every row on screen first, so the columns are chosen from
        # them before any line is drawn; if they changed, lines outside ``crop`` are stale.
        top = int(self.scroll_y)
        for exchange_id in self._ids[top:top + self.size.height]:
            self._cells(exchange_id)
        before = self._layout
        if self._columns() != before and crop.height < self.size.height:
            self.refresh()
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.size.width
        columns = self._layout
        total = sum(w for _, w in columns)
        if y == 0:
            strip = Strip(header_line(columns).render(self.app.console), total)
            strip = strip.apply_style(self.get_component_rich_style("exchange-list--header"))
        else:
            row = scroll_y + y - 1
            if row >= len(self._ids):
                return Strip.blank(width, self.rich_style)
            base = self._base_style(row == self.cursor_row)
            return self._row_strip(row, base).crop_extend(scroll_x, scroll_x + width, base)
        return strip.crop_extend(scroll_x, scroll_x + width, self.rich_style)

    def _base_style(self, cursor: bool) -> Style:
        # Under the cells' own colours: the cursor's background is laid over the list's,
        # not under it (where it never showed), and across the whole width.
        if not cursor:
            return self.rich_style
        return self.rich_style + self.get_component_rich_style("exchange-list--cursor")

    def _row_strip(self, row: int, base: Style) -> Strip:
        exchange_id = self._ids[row]
        key = (exchange_id, row == self.cursor_row)
        strip = self._strips.get(key)
        if strip is None:
            columns = self._layout
            line = row_line(self._cells(exchange_id)[0], columns)
            strip = Strip(line.render(self.app.console),
                          sum(w for _, w in columns)).apply_style(base)
            self._strips[key] = strip
        return strip

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()  # focus and theme changes restyle every line
