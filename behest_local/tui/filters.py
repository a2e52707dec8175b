"""Which exchanges the list shows: the filter state and the bar that edits it.

``Filters`` is a frozen value with one rule, ``matches(exchange)``, applied by the list
on every rebuild and to each exchange that changed (a stream that fails can start
matching "errors only"). ``FilterBar`` holds the controls (text search, project,
status class, errors only) and posts ``FilterBar.Changed`` with a new ``Filters``; the
app's key bindings edit the same controls, so keyboard and mouse never disagree.

Text search looks at the summary fields (id, path, model, provider, project, user,
session, status, error), never bodies: matching bodies would mean building records
for every exchange on the event loop.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Checkbox, Input, Select

if TYPE_CHECKING:
    from behest_local.exchange.exchange import Exchange

STATUS_CLASSES = ("all", "running", "2xx", "4xx", "5xx")


@dataclass(frozen=True, slots=True)
class Filters:
    project: str | None = None
    status: str = "all"
    errors_only: bool = False
    text: str = ""
    after: float | None = None
    """Hide exchanges started at or before this monotonic time (the "clear" action)."""

    def matches(self, exchange: Exchange) -> bool:
        if self.after is not None and exchange.started <= self.after:
            return False
        if self.project is not None and exchange.project != self.project:
            return False
        status = exchange.status
        if self.errors_only and not (exchange.error or (status is not None and status >= 400)):
            return False
        if self.status == "running" and exchange.ended is not None:
            return False
        if self.status[0].isdigit() and (status is None or str(status)[0] != self.status[0]):
            return False
        if self.text:
            needle = self.text.lower()
            fields = (exchange.id, exchange.method, exchange.path, exchange.model,
                      exchange.requested_model, exchange.provider, exchange.project,
                      exchange.user, exchange.session, exchange.error,
                      str(status) if status is not None else None)
            return any(needle in f.lower() for f in fields if f)
        return True

    def next_status(self) -> Filters:
        index = STATUS_CLASSES.index(self.status)
        return replace(self, status=STATUS_CLASSES[(index + 1) % len(STATUS_CLASSES)])


class FilterBar(Horizontal):
    """Search box, project and status selects, errors-only checkbox."""

    class Changed(Message):
        def __init__(self, filters: Filters) -> None:
            super().__init__()
            self.filters = filters

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.filters = Filters()
        self._projects: list[str] = []

    def compose(self) -> ComposeResult:
        yield Input(placeholder="search id, path, model, error…  (/)", id="search")
        yield Select([], prompt="all projects", id="project", allow_blank=True)
        yield Select([(s, s) for s in STATUS_CLASSES], value="all", id="status",
                     allow_blank=False)
        yield Checkbox("errors only", id="errors-only")

    def set_projects(self, projects: set[str]) -> None:
        """Offer every project seen so far (the current choice is kept)."""
        ordered = sorted(projects)
        if ordered == self._projects:
            return
        self._projects = ordered
        select = self.query_one("#project", Select)
        current = select.value
        with select.prevent(Select.Changed):
            select.set_options([(p, p) for p in ordered])
            if current in ordered:
                select.value = current

    def show_if_needed(self, *, searching: bool = False) -> None:
        """On a short terminal the bar is hidden (behest.tcss) unless a filter is set or a
        search is being typed: its three rows are the detail's there."""
        self.set_class(searching or self.filters != Filters(), "-shown")

    def set_filters(self, filters: Filters) -> None:
        """Reflect ``filters`` in the controls (key bindings) and announce the change."""
        self.query_one("#status", Select).value = filters.status
        self.query_one("#errors-only", Checkbox).value = filters.errors_only
        self._update(filters)

    def _update(self, filters: Filters) -> None:
        if filters != self.filters:
            self.filters = filters
            self.post_message(self.Changed(filters))

    @on(Input.Changed, "#search")
    def _search(self, event: Input.Changed) -> None:
        self._update(replace(self.filters, text=event.value.strip()))

    @on(Select.Changed, "#project")
    def _project(self, event: Select.Changed) -> None:
        value = event.value if isinstance(event.value, str) else None
        self._update(replace(self.filters, project=value))

    @on(Select.Changed, "#status")
    def _status(self, event: Select.Changed) -> None:
        if isinstance(event.value, str):
            self._update(replace(self.filters, status=event.value))

    @on(Checkbox.Changed, "#errors-only")
    def _errors(self, event: Checkbox.Changed) -> None:
        self._update(replace(self.filters, errors_only=event.value))
