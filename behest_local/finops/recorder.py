"""From finished exchanges to usage records and budget counts.

``UsageRecorder`` is a ``TraceStore`` subscriber (exchange/bus.py), for the terminal events
only (``UsageRecorder.EVENTS``). When an inference exchange
ends (``ExchangeFinished``, or ``ExchangeFailed`` after tokens were produced: a stream cut
mid-way is billed for what was sent, as the cloud "stops billing the moment Kong sees the
disconnect", reference §5.2) it prices the tokens with the live settings' price table,
queues a ``UsageRecord`` for the SQLite store and adds the tokens and dollars to the
limiter's counters (``tiers.usage_counters``). The pricing is ``price``, which is also the
trace store's pricer (``TraceStore.pricer``, installed by server/routes/usage.py): the
exchange prices itself with it as it ends and the recorder records that ``cost``, so the
TUI, the trace database and the exports show the number ``GET /v1/usage`` adds up.
Subscribers run on the request's task, so this is a few microseconds: what depends only
on the settings (the price table, a project's config, a caller's counter keys) is worked
out once per settings object, and the store's ``add`` is a deque append.

Streams and replies whose provider reports no usage are counted by ``meter.py``
(``StreamMeter``, ``estimate_completion``), which the routes import directly.
``seed_counters`` replays the store into the counters at startup so a spent daily quota
stays spent across a restart. Without a store (the usage database cannot be opened,
``server/routes/usage.py``) the recorder still adds to the counters: budgets hold, in
memory until the gateway restarts, and only the records are lost.
"""

from __future__ import annotations

from collections.abc import Callable

from behest_local.config import ProjectConfig, Settings
from behest_local.errors import GuardrailBlocked
from behest_local.exchange.events import ExchangeFailed, ExchangeFinished, TraceEvent
from behest_local.exchange.exchange import Exchange, Phase
from behest_local.finops.prices import PriceTable
from behest_local.finops.reports import budget_rows
from behest_local.finops.store import UsageRecord, UsageStore
from behest_local.finops.window import month_start
from behest_local.policy.ratelimit import Counters, Window
from behest_local.policy.routing import EMULATED
from behest_local.policy.tiers import usage_counters

INFERENCE_PATHS = frozenset({"/v1/chat/completions", "/v1/completions", "/v1/responses",
                             "/v1/embeddings", "/v1/messages", "/v1/moderations",
                             "/v1/images/generations", "/v1/images/edits",
                             "/v1/images/variations", "/v1/audio/speech",
                             "/v1/audio/transcriptions", "/v1/audio/translations"})
"""The billed routes: what per-project and per-user limits count, and what usage reports
(moderations: free at OpenAI, so counted but never charged)."""
_ENDED = (ExchangeFinished, ExchangeFailed)


def _blocked(event: TraceEvent, exchange: Exchange) -> bool:
    """A routed inference request a guardrail refused (451): free, but counted in usage
    (``reports._SUMS``: ``blocked``)."""
    return (event.status == GuardrailBlocked.status and isinstance(event, ExchangeFailed)
            and exchange.model is not None and exchange.project is not None
            and exchange.path in INFERENCE_PATHS)
_MAX_CACHED = 4096
"""Callers whose counters ``UsageRecorder`` remembers before it starts afresh."""


class UsageRecorder:
    """Turns ended exchanges into usage records and counter increments.

    Args:
        store: where records go; None keeps none (the counters are still added to).
        counters: the limiter's counters (tokens and dollars are added after the fact);
            their clock also stamps the records, so one injected clock drives both.
        settings: returns the live settings (projects, budgets, ``[prices]``).
    """

    def __init__(self, store: UsageStore | None, counters: Counters,
                 settings: Callable[[], Settings]) -> None:
        self.store, self.counters, self.settings = store, counters, settings
        self._prices: tuple[object, PriceTable] | None = None
        # What each request would otherwise work out again, derived from ``_seen`` and
        # dropped when a reload replaces it: its price table, a project id's config and
        # whether its sessions are counted, and the counters one (project, user, session)
        # adds to.
        self._seen: Settings | None = None
        self._table: PriceTable | None = None
        self._projects: dict[str, tuple[ProjectConfig | None, bool]] = {}
        self._slots: dict[tuple, tuple[tuple, tuple]] = {}

    def prices(self, settings: Settings) -> PriceTable:
        """The price table of ``settings`` (rebuilt only when ``[prices]`` changes)."""
        if self._prices is None or self._prices[0] is not settings.prices:
            self._prices = (settings.prices, PriceTable(settings.prices))
        return self._prices[1]

    EVENTS = _ENDED
    """What it takes: ``store.subscribe(recorder, events=UsageRecorder.EVENTS)``, with
    ``store.pricer = recorder.price`` so the exchange carries the cost it records."""

    def price(self, exchange: Exchange, failed: bool | None = None) -> float | None:
        """What ``exchange``, as it ends, is billed in USD; None when it is not billed (not
        an inference route, no project or model, or ``failed`` (by default: its phase says
        so) before any token). The ``TraceStore.pricer``: the exchange keeps this as its
        ``cost`` and ``__call__`` records that same number."""
        model = exchange.model
        if model is None or exchange.project is None or exchange.path not in INFERENCE_PATHS:
            return None
        prompt, completion = exchange.prompt_tokens or 0, exchange.completion_tokens or 0
        if not prompt + completion and (exchange.phase is Phase.FAILED if failed is None
                                         else failed):
            return None  # refused or failed before any token: nothing to bill
        self._current()
        return self._table.cost(model, prompt, completion,  # type: ignore[union-attr]
                                exchange.variant)

    def _current(self) -> Settings:
        """The live settings, their price table in ``_table``; what was derived from older
        settings (a reload replaced them) is dropped."""
        settings = self.settings()
        if settings is not self._seen or self._table is None:
            self._seen = settings
            self._projects.clear()
            self._slots.clear()
            self._table = self.prices(settings)
        return settings

    def __call__(self, event: TraceEvent, exchange: Exchange) -> None:
        if not isinstance(event, _ENDED):  # the store sends only these; direct calls may not
            return
        cost = exchange.cost
        if cost is None:  # not priced as it ended (its store has no pricer): price it now
            cost = exchange.cost = self.price(exchange, isinstance(event, ExchangeFailed))
            if cost is None:
                if not _blocked(event, exchange):
                    return
                cost = 0.0  # refused by a guardrail: a row of its own, for ``blocked``
        settings = self._current()
        project_id = exchange.project
        prompt, completion = exchange.prompt_tokens or 0, exchange.completion_tokens or 0
        now = self.counters.clock()
        store = self.store
        if store is not None:
            provider = exchange.provider or EMULATED
            store.add(UsageRecord(
                exchange.id, now, exchange.tenant or settings.tenant_id, project_id,
                exchange.user, exchange.session, exchange.model, exchange.requested_model,
                provider, provider != EMULATED, exchange.stream, event.status, prompt,
                completion, cost, exchange.path))
        tokens, dollars = self._counter_slots(settings, project_id, exchange.user,
                                              exchange.session)
        if tokens:
            self.counters.add_all(tokens, prompt + completion, at=now)
        if cost and dollars:
            self.counters.add_all(dollars, cost, at=now)

    def _counter_slots(self, settings: Settings, project_id: str, user: str | None,
                       session: str | None) -> tuple[tuple, tuple]:
        """The (token, dollar) counters a response of this caller adds to; none for a
        project the settings no longer have."""
        known = self._projects.get(project_id)
        if known is None:
            project = settings.project(project_id)
            budgets = project.budgets if project is not None else None
            known = (project, bool(budgets and (budgets.session_tokens
                                                or budgets.session_cost_usd)))
            self._projects[project_id] = known
        project, sessions_counted = known
        if project is None:
            return (), ()
        # A session is part of the key only when counted: most are one call long.
        key = (project_id, user, session if sessions_counted else None)
        slots = self._slots.get(key)
        if slots is None:
            # Grouped by window: ``Counters.add_all`` then works out each window once.
            counters = sorted(usage_counters(project, user=user, session=key[2]),
                              key=lambda slot: slot[1].value)
            slots = (tuple((("tokens", *k), window) for k, window in counters),
                     tuple((("cost_usd", *k), window) for k, window in counters))
            if len(self._slots) >= _MAX_CACHED:
                self._slots.clear()
            self._slots[key] = slots
        return slots


def seed_rows(conn, now: float) -> list[tuple]:
    """This month's usage in aggregate (on the store's thread): ``seed_counters``' input."""
    return budget_rows(conn, month_since=month_start(now), session_since=now - 7 * 86_400)


def seed_counters(counters: Counters, rows: list[tuple]) -> None:
    """Replay ``seed_rows`` into ``counters`` (on the loop, before the gateway serves), so a
    daily quota spent before a restart stays spent."""
    for project, user, session, day, requests, tokens, cost in rows:
        at = float(day)
        keys = [(("project", project), Window.DAY), (("project", project), Window.MONTH)]
        if user is not None:
            keys += [(("user", project, user), Window.DAY),
                     (("user", project, user), Window.MONTH)]
            counters.add(("requests", "user", project, user), Window.DAY, requests, at=at)
        if session is not None:
            keys.append((("session", project, user or "", session), Window.TOTAL))
        for key, window in keys:
            counters.add(("tokens", *key), window, tokens or 0, at=at)
            if cost:
                counters.add(("cost_usd", *key), window, cost, at=at)
