"""``BehestApp``: the Textual front end, one more subscriber of the trace store.

It runs in the gateway's own process and event loop (runtime/tui.py), so it must never
slow a request down. The contract, all in this module:

* the only code on the request path is ``Feed.__call__`` (tui/feed.py): O(1), no
  widgets;
* a timer (``tick``, 0.2 s: at most 5 list refreshes a second, well under 20) takes
  what changed and updates the list, the header and, for the selected exchange only,
  the detail; it runs only while something can change (tui/pacing.py: idle is
  idle). Under heavy traffic (over ``BUSY_CHANGES`` exchanges changed in a tick) it
  refreshes every ``BUSY_EVERY`` ticks instead: the list then scrolls faster than
  anyone reads, and each refresh repaints every line on screen (Textual's rendering was
  a third of the loop's time at ~1,000 requests a second). A refresh repaints only the
  list lines whose text changed (exchange_list.py), and the detail's long tabs render
  only the lines on screen, so a refresh costs what changed on screen, not what the
  traffic was;
* the detail's record (observe/record.py: decoding and redaction) is built in a worker thread,
  while its stream runs at most every ``DETAIL_EVERY`` seconds (or five times what the
  last build cost, for long streams), and decodes the stream's events only when the
  message or events tab is open;
* memory is the trace ring's: the list never holds more rows than the ring.

The app only reads the store, the gateway object (vault state) and the trace database;
it never imports ``server/`` or providers (style.md §3.3).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.widgets import Footer, Input, TabbedContent

from behest_local.observe.record import build_record
from behest_local.exchange.bus import TraceStore
from behest_local.tui import clipboard
from behest_local.tui.actions import ExportActions
from behest_local.tui.commands import palette_commands
from behest_local.tui.exchange_detail import TABS, ExchangeDetail
from behest_local.tui.exchange_list import ExchangeList
from behest_local.tui.feed import INTERNAL_PREFIX, ConfigStatus, Feed
from behest_local.tui.filters import FilterBar, Filters
from behest_local.tui.first_run import FirstRun
from behest_local.tui.header import Gauge, HeaderState, StatusHeader, vault_summary
from behest_local.tui.pacing import Pacing

DETAIL_EVERY = 0.25
BUSY_CHANGES = 50
"""Exchanges changed within one tick past which the list refreshes every ``BUSY_EVERY``
ticks (250 a second at the 0.2 s tick)."""
BUSY_EVERY = 2
SHORT = 32
"""Terminal rows below which the filter bar hides until used, and the gap chart is one
row (behest.tcss ``-short``): at 24 rows the stream timeline needs them."""
EVENT_TABS = ("message", "events")


class BehestApp(ExportActions, Pacing, App[int]):
    """Live exchanges, their detail and stream timelines (see the module docstring)."""

    CSS_PATH = Path(__file__).with_name("behest.tcss")  # absolute: subclasses live elsewhere
    TITLE = "behest-local"
    BINDINGS = [  # a tooltip puts the action in the command palette (tui/commands.py)
        Binding("q", "quit", "quit", tooltip="Stop behest-local (the gateway too)"),
        Binding("ctrl+c", "quit", "quit", show=False, priority=True),
        Binding("space", "pause", "pause", tooltip="Pause or resume the live list"),
        Binding("c", "clear", "clear", tooltip="Hide every exchange listed so far"),
        Binding("slash", "search", "search",
                tooltip="Filter by id, path, model, provider, project, user, status or error"),
        Binding("escape", "focus_list", "list", show=False),
        Binding("e", "errors", "errors only", tooltip="Show only failed exchanges, or all"),
        Binding("s", "status", "status",
                tooltip="Filter by status class: all, running, 2xx, 4xx, 5xx"),
        Binding("f", "follow", "follow", tooltip="Select the newest exchange as they arrive"),
        Binding("y", "copy_curl", "copy curl",
                tooltip="Copy the selected request as a curl command"),
        Binding("x", "export", "export HAR", tooltip="Export the listed exchanges as a HAR"),
        Binding("w", "fixture", "save fixture",
                tooltip="Save the selected stream as a replayable fixture"),
        Binding("z", "zoom", "zoom detail", tooltip="The detail over the whole screen, or back"),
        *[Binding(str(n + 1), f"tab('{tab}')", f"{tab} tab", show=False,
                  tooltip=f"Open the detail's {tab} tab") for n, tab in enumerate(TABS)],
    ]

    def __init__(self, store: TraceStore, *, url: str, gateway: object = None,
                 home: Path | None = None, db=None, tick: float = 0.2,
                 limits: Callable[[], Sequence[Gauge]] | None = None,
                 notices: Sequence[str] = (), first_keys: Mapping[str, str] | None = None
                 ) -> None:
        super().__init__()
        self.store = store
        self.url = url
        self.gateway = gateway
        self.home = home
        self.db = db
        self.tick = tick
        self.limits = limits
        self.notices = list(notices)
        self.first_keys = dict(first_keys or {})
        """The API keys created at this start, by project: the first-run notice's."""
        self.clipboard_tool = clipboard.system_tool()
        self.feed = Feed(capacity=store.recent.maxlen or 1000)
        self.filters = Filters()
        self.paused = False
        self.vault_state = "vault: …"
        self.detail_loads = 0
        self._stale = False
        self._unsubscribe: Callable[[], None] | None = None
        self._unsubscribe_config: Callable[[], None] | None = None
        self._shown_id: str | None = None
        self._detail_at = 0.0
        self._detail_cost = 0.0
        self._detail_pending = False
        self._cleared_after: float | None = None
        self._header_version = -1
        self._config_notified: object = None
        self._ticks_since_refresh = 0

    # -- layout and lifecycle ---------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield StatusHeader(id="header")
        yield FilterBar(id="filters")
        yield ExchangeList(clock=self.store.clock, capacity=self.feed.capacity, id="exchanges")
        yield ExchangeDetail(id="detail")
        yield Footer()

    @property
    def exchanges(self) -> ExchangeList:
        return self.query_one(ExchangeList)

    @property
    def detail(self) -> ExchangeDetail:
        return self.query_one(ExchangeDetail)

    def on_mount(self) -> None:
        self._unsubscribe = self.store.subscribe(self.feed)
        live = getattr(self.gateway, "live", None)  # reload.LiveConfig: config events
        self._unsubscribe_config = live.subscribe(self.feed.config_event) if live else None
        source = getattr(getattr(self.gateway, "settings", None), "source", None)
        if source:
            self.feed.config = ConfigStatus(None, f"{source} (loaded at start)")
        for exchange in self.store.recent:  # the gateway may have served requests already
            if exchange.project:
                self.feed.projects.add(exchange.project)
        self.query_one(FilterBar).set_projects(self.feed.projects)
        self.exchanges.rebuild(self._source(), self.filters)
        self.start_timers()  # they stop themselves while idle (tui/pacing.py)
        self.check_vault()
        self.refresh_header()
        self.exchanges.focus()
        self.screen.set_class(self.size.height < SHORT, "-short")
        for notice in self.notices:
            self.notify(notice, timeout=30)
        if self.first_keys:
            self.action_show_key()

    def get_system_commands(self, screen) -> Iterator[SystemCommand]:
        """The palette: the app's own actions with their keys, then Textual's (its quit
        is ours, listed with its key)."""
        yield from palette_commands(self)
        yield from (c for c in super().get_system_commands(screen) if c.title != "Quit")

    def on_resize(self, event) -> None:
        self.screen.set_class(event.size.height < SHORT, "-short")

    def on_unmount(self) -> None:
        self.stop_timers()
        for unsubscribe in (self._unsubscribe, self._unsubscribe_config):
            if unsubscribe is not None:
                unsubscribe()

    def _source(self) -> list:
        return [e for e in self.store.recent if not e.path.startswith(INTERNAL_PREFIX)]

    # -- the refresh timers -----------------------------------------------------------

    def tick_refresh(self) -> None:
        """The list's timer: ``refresh_feed`` every tick, or every ``BUSY_EVERY`` ticks
        while more than ``BUSY_CHANGES`` exchanges change between two (module
        docstring); it stops itself when quiet (tui/pacing.py)."""
        self._ticks_since_refresh += 1
        if self.feed.pending > BUSY_CHANGES and self._ticks_since_refresh < BUSY_EVERY:
            return
        self._ticks_since_refresh = 0
        self.refresh_feed()
        self.sleep_if_quiet()

    def refresh_feed(self) -> None:
        """Apply what changed since the last tick. Public so tests can drive it."""
        changed = self.feed.take()
        if self.paused:
            self._stale |= bool(changed)
            return
        try:
            table = self.exchanges
        except NoMatches:  # a last tick while the app shuts down
            return
        if not table.apply(changed, self.filters):
            table.rebuild(self._source(), self.filters)
        if self.feed.header_version != self._header_version:
            self.query_one(FilterBar).set_projects(self.feed.projects)
            self.refresh_header()
            config = self.feed.config
            if config.detail and config is not self._config_notified:
                # The header has room for one line; the whole error goes in a toast.
                self._config_notified = config
                self.notify(config.detail, title="behest.toml rejected", severity="error",
                            timeout=15)
        selected = table.selected_id
        if selected is None:
            return
        if selected != self._shown_id:
            self.load_detail(selected)
        elif selected in changed or self._detail_pending:
            # Never spend more than a fifth of the time rebuilding the detail, however
            # long the stream has grown.
            if time.monotonic() - self._detail_at >= max(DETAIL_EVERY, 5 * self._detail_cost):
                self.load_detail(selected)
            else:
                self._detail_pending = True

    def refresh_header(self) -> HeaderState | None:
        """Show the header's current state (returned; None while the app shuts down)."""
        try:
            header = self.query_one(StatusHeader)
        except NoMatches:  # a last tick while the app shuts down
            return None
        self._header_version = self.feed.header_version
        now = self.store.clock()
        in_flight = sum(1 for e in self.store.recent
                        if e.ended is None and not e.path.startswith(INTERNAL_PREFIX))
        traces = None
        if self.db is not None:
            traces = f"traces: {self.db.error}" if self.db.error else "traces: saved"
        state = HeaderState(
            url=self.url, config=self.feed.config, vault=self.vault_state,
            rate=self.feed.rate.per_second(now), in_flight=in_flight, traces=traces,
            gauges=tuple(self.limits()) if self.limits else (), paused=self.paused)
        header.show(state)
        return state

    def check_vault(self) -> None:
        if self.gateway is None:
            self.vault_state = "vault: -"
        else:
            self._check_vault()

    @work(exclusive=True, group="vault")
    async def _check_vault(self) -> None:
        state = await asyncio.to_thread(vault_summary, self.gateway)
        if state != self.vault_state:
            self.vault_state = state
            self.refresh_header()

    # -- selection and detail ---------------------------------------------------------

    @on(ExchangeList.Highlighted)
    def _highlighted(self, event: ExchangeList.Highlighted) -> None:
        if event.exchange_id is None:
            self._shown_id = None
            self.detail.show(None)
        elif event.exchange_id != self._shown_id:
            self.load_detail(event.exchange_id)

    def load_detail(self, exchange_id: str) -> None:
        self._shown_id = exchange_id
        self._detail_at = time.monotonic()
        self._detail_pending = False
        # A callable, not a coroutine: an exclusive worker replaced before it starts must
        # not leave a never-awaited coroutine behind.
        self.run_worker(partial(self._load, exchange_id), exclusive=True, group="detail")

    async def record_of(self, exchange_id: str, *, events: bool = True) -> dict | None:
        """The record of an exchange: live from the ring, else from the trace database.
        Built in a thread: decoding and redacting a long stream must not hold the loop."""
        exchange = self.store.find(exchange_id)
        record = (await asyncio.to_thread(partial(build_record, exchange, events=events))
                  if exchange else None)
        if (record is None or record.get("released")) and self.db is not None:
            stored = await asyncio.to_thread(self.db.get, exchange_id)
            record = stored or record
        return record

    def probe_of(self, exchange_id: str, record: dict | None) -> dict | None:
        event = self.feed.probes.get(exchange_id)
        if event is not None:
            return {"verdict": event.verdict, "level": event.level,
                    "client": list(event.client), "findings": list(event.findings)}
        return (record or {}).get("probe")

    async def _load(self, exchange_id: str) -> None:
        exchange = self.store.find(exchange_id)
        # While a stream runs, decode its events only if they are on screen.
        events = (exchange is None or exchange.ended is not None
                  or self.detail.active in EVENT_TABS)
        began = time.perf_counter()
        record = await self.record_of(exchange_id, events=events)
        self._detail_cost = time.perf_counter() - began
        if exchange_id != self._shown_id:
            return
        try:
            self.detail.show(record, reason=self.feed.reasons.get(exchange_id),
                             probe=self.probe_of(exchange_id, record))
        except NoMatches:  # the record arrived while the app was shutting down
            return
        self.detail_loads += 1

    @on(TabbedContent.TabActivated, "#detail-tabs")
    def _tab_opened(self, event: TabbedContent.TabActivated) -> None:
        record = self.detail.record
        if record and record.get("partial") and self.detail.active in EVENT_TABS:
            self.load_detail(record["id"])

    # -- actions ----------------------------------------------------------------------

    @on(FilterBar.Changed)
    def _filters_changed(self, event: FilterBar.Changed) -> None:
        self.filters = replace(event.filters, after=self._cleared_after)
        self.exchanges.rebuild(self._source(), self.filters)
        bar = self.query_one(FilterBar)
        bar.show_if_needed(searching=bar.has_focus_within)

    def action_search(self) -> None:
        self.query_one(FilterBar).show_if_needed(searching=True)
        self.query_one("#search", Input).focus()

    @on(Input.Submitted, "#search")
    def action_focus_list(self) -> None:
        self.exchanges.focus()
        self.query_one(FilterBar).show_if_needed()

    def action_focus_detail(self) -> None:
        """Into the open tab's pane, which then scrolls from the keyboard."""
        self.detail.focus_pane()

    def action_zoom(self) -> None:
        """The detail over the whole screen (a long timeline on a small terminal), or back;
        ``escape`` also restores it (Textual's minimize)."""
        if self.screen.maximized is not None:
            self.screen.minimize()
            return
        self.screen.maximize(self.detail, container=False)
        self.detail.focus_pane()

    def action_errors(self) -> None:
        bar = self.query_one(FilterBar)
        bar.set_filters(replace(bar.filters, errors_only=not bar.filters.errors_only))

    def action_status(self) -> None:
        bar = self.query_one(FilterBar)
        bar.set_filters(bar.filters.next_status())

    def action_pause(self) -> None:
        self.paused = not self.paused
        if not self.paused and self._stale:
            self._stale = False
            self.exchanges.rebuild(self._source(), self.filters)
        self.refresh_header()

    def action_clear(self) -> None:
        self._cleared_after = max((e.started for e in self.store.recent), default=None)
        self.filters = replace(self.filters, after=self._cleared_after)
        self.exchanges.rebuild(self._source(), self.filters)
        self._shown_id = None
        self.detail.show(None)

    def action_follow(self) -> None:
        table = self.exchanges
        table.move_cursor(row=table.row_count - 1)  # the last row: following again

    def action_tab(self, tab: str) -> None:
        self.detail.show_tab(tab)

    def action_show_key(self) -> None:
        """The first-run notice: the keys created at start, the base URL, copy actions."""
        if self.first_keys and not isinstance(self.screen, FirstRun):
            # Back to the list when it closes: the list's own focus, asked for in on_mount,
            # may not have landed before the notice opened over it.
            self.push_screen(FirstRun(self.first_keys, f"{self.url}/v1", self.clipboard_tool),
                             callback=lambda _: self.exchanges.focus())
