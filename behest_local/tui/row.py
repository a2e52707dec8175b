"""One row of the exchange list: its cells and its line. Pure, no widgets.

Columns have fixed widths that fit a 120-column terminal; cells are cut with "…" to
them (the detail view has everything in full). Each cell starts with one space, which
is all the separation the columns need. The cells that hold a client's text (project
and user, method and path, the requested model) are escaped (``printable``): a
newline or ESC in a path would otherwise break the line or reach the terminal.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from rich.text import Text

from behest_local.exchange.timing import duration
from behest_local.printable import printable

if TYPE_CHECKING:
    from behest_local.exchange.exchange import Exchange

# (key, label, width). Cost is 8 wide: one space and "$0.0004", a typical request's.
COLUMNS = (("time", "Time", 9), ("who", "Project/user", 13), ("request", "Request", 26),
           ("model", "Model → provider", 26), ("status", "St", 4), ("ttft", "TTFT", 6),
           ("duration", "Time", 6), ("tokens", "Tokens", 8), ("cost", "Cost", 8),
           ("progress", "Stream", 12))
WIDTHS = {key: width for key, _, width in COLUMNS}


def _fit(value: str, width: int, style: str = "") -> Text:
    if len(value) > width - 1:
        value = value[: width - 2] + "…"
    return Text(" " + value, style=style, no_wrap=True)


def _status(exchange: Exchange) -> Text:
    status = exchange.status
    if status is None:
        return _fit("…", WIDTHS["status"], "dim")
    style = "green" if status < 300 else "yellow" if status < 500 else "red"
    if exchange.error and status < 400:  # a stream that failed after its 200
        style = "red"
    return _fit(str(status), WIDTHS["status"], style)


def _model(exchange: Exchange) -> str:
    if not exchange.model:
        return "-"
    requested = exchange.requested_model
    arrow = f"{requested}→" if requested and requested != exchange.model else ""
    return f"{arrow}{exchange.model}@{exchange.provider}"


def _progress(exchange: Exchange, now: float) -> Text:
    width = WIDTHS["progress"]
    if not exchange.stream:
        return _fit("", width)
    count = exchange.chunks
    if exchange.ended is None:
        return _fit(f"▶ {count} {duration(now - exchange.started)}", width, "bold cyan")
    if exchange.error:
        return _fit(f"✗ {count} ev", width, "red")
    return _fit(f"✓ {count} ev", width, "green")


def _money(cost: float | None) -> str:
    """USD in at most 7 characters: to the hundredth of a cent below a dollar (what a
    request costs), to the cent below $100, whole dollars above; "-" when not billed."""
    if cost is None:
        return "-"
    return f"${cost:.4f}" if cost < 1 else f"${cost:.2f}" if cost < 100 else f"${cost:.0f}"


def row_cells(exchange: Exchange, now: float) -> tuple[Text, ...]:
    """The cells of ``exchange``'s row, in ``COLUMNS`` order."""
    clock = time.strftime("%H:%M:%S", time.localtime(exchange.wall_time))
    who = exchange.project or "-"
    if exchange.user:
        who += f"/{exchange.user}"
    tokens = "-"
    if exchange.prompt_tokens is not None or exchange.completion_tokens is not None:
        tokens = f"{exchange.prompt_tokens or 0}+{exchange.completion_tokens or 0}"
    cost = exchange.cost
    running = exchange.ended is None
    w = WIDTHS
    return (_fit(clock, w["time"]), _fit(printable(who), w["who"]),
            _fit(printable(f"{exchange.method} {exchange.path}"), w["request"]),
            _fit(printable(_model(exchange)), w["model"]), _status(exchange),
            _fit(duration(exchange.ttft) if exchange.stream else "-", w["ttft"]),
            _fit("…" if running else duration(exchange.duration), w["duration"]),
            _fit(tokens, w["tokens"]),
            _fit(_money(cost), w["cost"]),
            _progress(exchange, now))


def row_line(cells: tuple[Text, ...]) -> Text:
    """The cells padded to their columns, as one line."""
    line = Text(no_wrap=True, end="")
    for cell, (_, _, width) in zip(cells, COLUMNS):
        piece = cell.copy()
        piece.truncate(width, pad=True)
        line.append_text(piece)
    return line


def header_line() -> Text:
    return row_line(tuple(_fit(label, width) for _, label, width in COLUMNS))
