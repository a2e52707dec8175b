"""One row of the exchange list: its cells, the columns that fit, its line. Pure, no widgets.

A row's cells are made whole (``row_cells``); which columns are shown and how wide is
``layout``'s, from the terminal's width and the widest cell seen in each column: columns
are taken in the order of their ``keep`` rank (time, status, model and duration first)
while their minimum widths fit, and the room left widens the flexible ones up to their
widest cell, so at 80 columns the list keeps what says what happened and at 200 nothing
that fits is cut. A cell too long for its column is cut with "…" at its end, or in its
middle for ids and models, whose ends differ as much as their starts (``req_01…9f3a``,
``gpt-4o-m…@emulated``); a request keeps its method and the start of its path. Each cell is drawn after one space, which is
all the separation the columns need. The cells that hold a client's text (project and
user, method and path, the requested model) are escaped (``printable``): a newline or ESC
in a path would otherwise break the line or reach the terminal.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.cells import cell_len
from rich.text import Text

from behest_local.exchange.timing import duration
from behest_local.finops.prices import COST_DECIMALS, reported_cost
from behest_local.printable import printable

if TYPE_CHECKING:
    from behest_local.exchange.exchange import Exchange


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str
    width: int
    """Its width with the leading space: fixed columns always get it, flexible ones get at
    least it (their cells are cut to it when nothing more fits)."""
    keep: int
    """Its rank when the terminal is narrow: 1 is the last column dropped."""
    flex: bool = False
    """Widens to its widest cell when there is room."""
    middle: bool = False
    """Cut in the middle (ids, models) rather than at the end."""


COLUMNS = (Column("time", "Time", 9, keep=1),
           Column("who", "Project", 10, keep=10, flex=True),
           Column("request", "Request", 20, keep=6, flex=True),
           Column("model", "Model → provider", 18, keep=3, flex=True, middle=True),
           Column("status", "St", 4, keep=2),
           Column("ttft", "TTFT", 7, keep=7),
           Column("duration", "Dur", 7, keep=4),
           Column("tokens", "Tokens", 8, keep=8, flex=True),
           Column("cost", "Cost", 10, keep=5, flex=True),
           Column("progress", "Stream", 12, keep=9),
           Column("id", "Request id", 14, keep=11, flex=True, middle=True))
CORE = 6
"""Columns ranked up to this (time, status, model, duration, cost, request) are the core."""
INDEX = {column.key: n for n, column in enumerate(COLUMNS)}
Layout = tuple[tuple[int, int], ...]
"""The columns shown, in display order, as (index in ``COLUMNS``, width)."""


def layout(width: int, widest: Mapping[str, int]) -> Layout:
    """The columns that fit ``width`` cells and their widths (module docstring);
    ``widest[key]`` is the widest cell seen in a column, its leading space included.

    The core columns (``keep`` up to ``CORE``) come first and grow to their widest cells
    before any other column is considered: an extra column never squeezes the model."""
    chosen: dict[int, int] = {}
    used = 0
    ranked = sorted(range(len(COLUMNS)), key=lambda i: COLUMNS[i].keep)
    for group in ([n for n in ranked if COLUMNS[n].keep <= CORE],
                  [n for n in ranked if COLUMNS[n].keep > CORE]):
        added = []
        for n in group:
            if used + COLUMNS[n].width > width and chosen:
                break  # in rank order only: a column never outlives one ranked above it
            chosen[n] = COLUMNS[n].width
            used += COLUMNS[n].width
            added.append(n)
        for n in added:
            column = COLUMNS[n]
            if column.flex and used < width:
                grow = min(width - used, max(0, widest.get(column.key, 0) - column.width))
                chosen[n] += grow
                used += grow
        if len(added) < len(group):
            break
    return tuple(sorted(chosen.items()))


def ellipsize(value: str, width: int, *, middle: bool = False) -> str:
    """``value`` cut to ``width`` cells with "…" at its end, or in its middle."""
    if cell_len(value) <= width:
        return value
    if width <= 1:
        return "…"[:width]
    if middle and len(value) == cell_len(value):  # one cell per character: slice freely
        keep = width - 1
        tail = keep // 2
        return value[:keep - tail] + "…" + (value[-tail:] if tail else "")
    text = Text(value)
    text.truncate(width, overflow="ellipsis")
    return text.plain


def usd(cost: float | None) -> str:
    """The figure ``GET /v1/usage`` reports (``reported_cost``), trailing zeros dropped
    to the cent: ``$0.000138``, ``$0.50``, ``$12.345678``; "-" when not billed."""
    if cost is None:
        return "-"
    text = f"{reported_cost(cost):.{COST_DECIMALS}f}".rstrip("0")
    whole, _, cents = text.partition(".")
    return f"${whole}.{cents.ljust(2, '0')}"


def _status(exchange: Exchange) -> Text:
    status = exchange.status
    if status is None:
        return Text("…", style="dim")
    style = "green" if status < 300 else "yellow" if status < 500 else "red"
    if exchange.error and status < 400:  # a stream that failed after its 200
        style = "red"
    return Text(str(status), style=style)


def _model(exchange: Exchange) -> str:
    if not exchange.model:
        return "-"
    requested = exchange.requested_model
    arrow = f"{requested}→" if requested and requested != exchange.model else ""
    return f"{arrow}{exchange.model}@{exchange.provider}"


def _model_cell(exchange: Exchange) -> Text:
    """The model, marked when the gateway warned about it (``x-behest-warning``: an
    unknown model the emulated model answered anyway); the detail says what it was."""
    if exchange.warning:
        return Text("⚠ " + printable(_model(exchange)), style="yellow")
    return Text(printable(_model(exchange)))


def _progress(exchange: Exchange, now: float) -> Text:
    if not exchange.stream:
        return Text("")
    count = exchange.chunks
    if exchange.ended is None:
        return Text(f"▶ {count} {duration(now - exchange.started)}", style="bold cyan")
    if exchange.error:
        return Text(f"✗ {count} ev", style="red")
    return Text(f"✓ {count} ev", style="green")


def row_cells(exchange: Exchange, now: float) -> tuple[Text, ...]:
    """The cells of ``exchange``'s row, whole, in ``COLUMNS`` order."""
    clock = time.strftime("%H:%M:%S", time.localtime(exchange.wall_time))
    who = exchange.project or "-"
    if exchange.user:
        who += f"/{exchange.user}"
    tokens = "-"
    if exchange.prompt_tokens is not None or exchange.completion_tokens is not None:
        tokens = f"{exchange.prompt_tokens or 0}+{exchange.completion_tokens or 0}"
    running = exchange.ended is None
    return (Text(clock), Text(printable(who)),
            Text(printable(f"{exchange.method} {exchange.path}")),
            _model_cell(exchange), _status(exchange),
            Text(duration(exchange.ttft) if exchange.stream else "-"),
            Text("…" if running else duration(exchange.duration)),
            Text(tokens), Text(usd(exchange.cost)), _progress(exchange, now),
            Text(exchange.id))


def row_line(cells: tuple[Text, ...], columns: Layout) -> Text:
    """The cells shown by ``columns``, each after a space and cut or padded to its width."""
    line = Text(no_wrap=True, end="")
    for n, width in columns:
        cell = cells[n]
        value = ellipsize(cell.plain, width - 1, middle=COLUMNS[n].middle)
        line.append(" " + value + " " * (width - 1 - cell_len(value)), style=cell.style)
    return line


def header_line(columns: Layout) -> Text:
    return row_line(tuple(Text(column.label) for column in COLUMNS), columns)


def widths(cells: tuple[Text, ...]) -> dict[str, int]:
    """Each cell's width with its leading space, by column key (what ``layout`` reads)."""
    return {column.key: cell.cell_len + 1 for column, cell in zip(COLUMNS, cells)}
