"""The detail view of the selected exchange: overview, request, response, message,
raw events and stream timeline, one tab each.

It shows a record (observe/record.py), which the app builds off the event loop for the one
selected exchange, so everything here is already redacted and is exactly what an export
of that exchange would contain. What each tab says is panes.py's. Long tabs are
``Log`` widgets, which render only the lines on screen: a 128 KiB stream costs no more
to display than a short one. Only the visible tab is rendered on each update; the
others are marked stale and rendered when opened, so a running stream costs one tab's
lines per refresh. The title (method and path) is escaped like every client text the
tabs show (``printable``; panes.py escapes the tabs' lines).

Every tab scrolls from the keyboard: ``enter`` in the list (or ``tab``) focuses the open
tab's pane (``focus_pane``), where the arrows, page keys, ``home`` and ``end`` scroll it,
the digits still switch tabs, and ``escape`` goes back to the list.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Log, Static, TabbedContent, TabPane

from behest_local.printable import printable
from behest_local.tui import panes
from behest_local.tui.row import ellipsize
from behest_local.tui.timeline import TimelineView

TABS = ("overview", "request", "response", "message", "events", "timeline")
LOG_TABS = {"request": panes.request_lines, "response": panes.response_lines,
            "message": panes.message_lines, "events": panes.events_lines}


class ExchangeDetail(Vertical):
    """Tabs showing one record; ``show`` replaces it."""

    BINDINGS = [Binding("escape", "app.focus_list", "back to the list")]
    ALLOW_MAXIMIZE = True  # ``z`` (BehestApp.action_zoom)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.record: dict | None = None
        self._reason: str | None = None
        self._probe: dict | None = None
        self._stale: set[str] = set()
        self._overview_height = 0

    def compose(self) -> ComposeResult:
        yield Static("select an exchange", id="detail-title")
        with TabbedContent(id="detail-tabs"):
            with TabPane("overview", id="tab-overview"):
                with VerticalScroll(id="overview-scroll", can_focus=True):
                    yield Static(id="detail-overview")
            for tab in LOG_TABS:
                with TabPane(tab, id=f"tab-{tab}"):
                    yield Log(id=f"detail-{tab}", auto_scroll=False)
            with TabPane("timeline", id="tab-timeline"):
                yield TimelineView(id="detail-timeline")

    def show(self, record: dict | None, *, reason: str | None = None,
             probe: dict | None = None) -> None:
        self.record, self._reason, self._probe = record, reason, probe
        title = self.query_one("#detail-title", Static)
        if record is None:
            title.update(Text("select an exchange", style="dim"), layout=False)
            self.query_one("#detail-overview", Static).update("")
            self._overview_height = 0
            for tab in LOG_TABS:
                self.query_one(f"#detail-{tab}", Log).clear()
            self.query_one(TimelineView).clear()
            return
        # layout=False throughout: these widgets have fixed heights (behest.tcss), and a
        # layout pass re-arranges the whole screen, far dearer than repainting a widget.
        title.update(title_text(record, self.size.width - 2), layout=False)  # its padding
        self._stale = set(TABS)
        self._render_tab(self.active)

    @property
    def active(self) -> str:
        return (self.query_one("#detail-tabs", TabbedContent).active or "tab-overview")[4:]

    def show_tab(self, tab: str) -> None:
        had_focus = self.has_focus_within
        self.query_one("#detail-tabs", TabbedContent).active = f"tab-{tab}"
        self._render_tab(tab)
        if had_focus:  # reading the detail: stay in it, on the new tab's pane
            self.focus_pane()

    def pane(self, tab: str | None = None):
        """The scrollable widget of ``tab`` (the open one by default)."""
        tab = tab or self.active
        if tab == "overview":
            return self.query_one("#overview-scroll", VerticalScroll)
        if tab == "timeline":
            return self.query_one("#timeline-table", Log)
        return self.query_one(f"#detail-{tab}", Log)

    def focus_pane(self) -> None:
        self.pane().focus()

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self._render_tab(self.active)

    def on_resize(self) -> None:
        # Log lines are folded to the pane's width: a new width needs new lines.
        if self.record is not None:
            self.query_one("#detail-title", Static).update(
                title_text(self.record, self.size.width - 2), layout=False)
            self._stale = set(TABS)
            self._render_tab(self.active)

    def _render_tab(self, tab: str) -> None:
        record = self.record
        if record is None or tab not in self._stale:
            return
        self._stale.discard(tab)
        if tab == "timeline":
            self.query_one(TimelineView).show(record, self._probe)
        elif tab == "overview":
            text = panes.overview_text(record, self._reason, self._probe)
            # Its scroll needs a layout pass only when the text's height changed.
            height = text.plain.count("\n")
            self.query_one("#detail-overview", Static).update(
                text, layout=height != self._overview_height)
            self._overview_height = height
        else:
            log = self.query_one(f"#detail-{tab}", Log)
            y = log.scroll_y  # keep the reader's place while a stream refreshes
            log.clear()
            lines = LOG_TABS[tab](record, _width(log, self))
            # A Log drops empty lines (it splits each line again): keep them as a space.
            log.write_lines([line or " " for line in lines], scroll_end=False)
            log.scroll_to(y=y, animate=False, immediate=True)


def title_text(record: dict, width: int) -> Text:
    """Method, path and id on one line: the id whole, the path cut in its middle to fit."""
    exchange_id = printable(record["id"])
    room = max(12, width - len(exchange_id) - 2)
    request = ellipsize(printable(f"{record['method']} {record['path']}"), room, middle=True)
    return Text(f"{request}  {exchange_id}", style="bold", no_wrap=True, overflow="ellipsis")


def _width(log: Log, detail: ExchangeDetail) -> int:
    # The scrollbar takes two columns; before the first layout the log has no size yet,
    # so estimate from the detail's own width.
    width = log.size.width - 2
    return width if width > 20 else detail.size.width - 4
