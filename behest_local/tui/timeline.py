"""The stream timeline tab: per-event times, gaps, stalls, and a chart of the gaps.

Shows, for the selected exchange's stream, each event's arrival from upstream (when the
capture recorded it), its departure to the client, how long the write held it (client
back-pressure), the gap since the previous event, and, when ``behest-local probe``
measured this exchange, its arrival behind the user's proxy. Stalls (exchange/timing.py: a gap
far above the stream's median) are marked, and a sparkline charts the gaps so a stall
or a burst is visible at a glance. Rendered from a record (observe/record.py), never from live
objects, so it shows exactly what an export would contain. The probe's verdict and findings come
from another process over ``/_behest/``: escaped like any client text (``printable``).
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Log, Sparkline, Static

from behest_local.exchange import timing
from behest_local.printable import printable

LEVEL_STYLE = {"ok": "green", "warning": "yellow", "buffered": "bold red"}


def summary_text(line: timing.Timeline, record: dict, probe: dict | None) -> Text:
    """Two lines: the stream's shape, then the probe's verdict (or the capture note)."""
    text = Text(no_wrap=True, overflow="ellipsis")
    if not line.rows:
        text.append("no stream events" if not record.get("stream") else "waiting for the "
                    "first event…", style="dim")
    else:
        stalls = line.stalls
        text.append(f"TTFT {timing.duration(line.ttft)}", style="bold")
        text.append(f" · {len(line.rows)} events · median gap {timing.ms(line.median_gap)} ms · "
                    f"max gap {timing.ms(line.max_gap)} ms · ")
        if stalls:
            worst = max(stalls, key=lambda r: r.gap or 0)
            text.append(f"{len(stalls)} stall{'s' if len(stalls) > 1 else ''} (longest before "
                        f"#{worst.index}: {timing.duration(worst.gap)})", style="bold yellow")
        else:
            text.append("no stalls", style="green")
    text.append("\n")
    if probe:
        text.append("probe: ", style="bold")
        text.append(f"{probe['level'].upper()} ", style=LEVEL_STYLE.get(probe["level"], ""))
        text.append(printable(probe["verdict"]))
    elif record.get("events_dropped"):
        text.append(f"{record['events_dropped']} later events kept timing only (capture cap)",
                    style="dim")
    return text


def probe_lines(probe: dict | None) -> list[str]:
    if not probe or not probe.get("findings"):
        return []
    return [printable(f"probe finding: {f}") for f in probe["findings"]] + [" "]


def table_lines(line: timing.Timeline) -> list[str]:
    """One row per event; the arrival/held and client columns only when recorded."""
    arrivals, client = line.has_arrivals, line.has_client
    head = f"{'#':>5} "
    if arrivals:
        head += f"{'arrival':>10} "
    head += f"{'departure':>10} "
    if arrivals:
        head += f"{'held':>7} "
    head += f"{'gap':>9} "
    if client:
        head += f"{'client':>10} "
    lines = [head + f"{'bytes':>6}   (ms from the start)"]
    for row in line.rows:
        cells = f"{row.index:>5} "
        if arrivals:
            cells += f"{timing.ms(row.arrival):>10} "
        cells += f"{timing.ms(row.departure):>10} "
        if arrivals:
            cells += f"{timing.ms(row.held):>7} "
        cells += f"{timing.ms(row.gap, signed=True) if row.gap is not None else '-':>9} "
        if client:
            cells += f"{timing.ms(row.client):>10} "
        cells += f"{row.size if row.size is not None else '-':>6}"
        lines.append(cells + ("  ◀ stall" if row.stall else ""))
    return lines


def timeline_of(record: dict, probe: dict | None) -> timing.Timeline:
    times = record["timeline"]
    return timing.build(times["departures"], started=0.0, arrivals=times.get("arrivals"),
                        sizes=times.get("sizes"), client=(probe or {}).get("client"))


class TimelineView(Vertical):
    """Summary line, gap sparkline, and the per-event table (a ``Log``: only the rows on
    screen are rendered, however long the stream)."""

    def compose(self) -> ComposeResult:
        yield Static(id="timeline-summary")
        yield Sparkline([], id="timeline-gaps")
        yield Log(id="timeline-table", auto_scroll=False)

    def show(self, record: dict, probe: dict | None) -> None:
        line = timeline_of(record, probe)
        summary = self.query_one("#timeline-summary", Static)
        summary.update(summary_text(line, record, probe), layout=False)  # fixed height
        gaps = [round(g * 1000, 1) for g in line.gaps]  # float noise would look like jitter
        chart = self.query_one("#timeline-gaps", Sparkline)
        chart.data = gaps
        chart.display = len(gaps) > 1
        table = self.query_one("#timeline-table", Log)
        y = table.scroll_y
        table.clear()
        if line.rows:
            table.write_lines(probe_lines(probe) + table_lines(line), scroll_end=False)
            table.scroll_to(y=y, animate=False, immediate=True)

    def clear(self) -> None:
        self.query_one("#timeline-summary", Static).update("", layout=False)
        self.query_one("#timeline-gaps", Sparkline).display = False
        self.query_one("#timeline-table", Log).clear()
