"""``GET /v1/usage`` and ``GET /v1/billing/usage``, and the usage store's lifetime.

Two endpoints because the reference documents one and the SDKs call the other
(reference/behest-api.md §1.6, §7.7):

* ``GET /v1/usage?from&to&user_id&granularity`` is what the v1.5 SDKs' ``usage.get`` calls
  and reads: ``{"totals": {...}, "breakdown": [{"timestamp", ...}]}``; granularity
  ``minute|hour|day`` (default ``day``), empty steps left out. This emulator adds
  ``by_model``, ``by_user`` and ``by_session`` (cost per session is the FinOps question)
  and a ``session_id`` filter. ``from``/``to`` are parsed leniently (``finops/window.py``),
  including the Python SDK's unescaped ``+`` that arrives as a space.
* ``GET /v1/billing/usage?from&to`` is the documented one: ``project_id``,
  ``window{from,to}``, and the ``platform`` and ``byok`` buckets with ``by_model``
  (default window: the current calendar month). ``window.to`` is the exclusive end of
  what was counted, so ``to=2026-04-30`` reports ``2026-05-01T00:00:00Z``.

Both take the data plane's credentials and show the caller's project; ``user_id`` filters.
Any token of the project may ask: the v1.5 SDK calls ``/v1/usage`` with a JWT it mints
for its default user ``"default"`` (role ``user``) and passes ``user_id`` only in the
query, so scoping a token to its own ``uid`` (as threads are) would make ``usage.get()``
report nothing; the reference documents no scoping (§1.6). These are Behest's routes, so
errors come in its nested shape (``behest_errors.behest_guard``). The numbers come from
SQLite on the store's own thread; the loop only awaits them.

``setup_usage`` opens the store at startup (off the loop), replays this month's usage
into the limiter's counters, subscribes the recorder and makes its ``price`` the trace
store's pricer (each exchange then carries the cost its usage record holds), and at
cleanup undoes both and closes the store after writing what is queued. A store that
cannot be opened (a damaged file, a directory in its place, a data directory it may not
write) is logged with its path and reason and left as it is; the recorder then runs
without it, so token and dollar budgets are still counted, in memory until restart,
exchanges are still priced, and these endpoints answer 503.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from behest_local.errors import GatewayError, InvalidRequestError
from behest_local.finops.recorder import UsageRecorder, seed_counters, seed_rows
from behest_local.finops.reports import billing_report, usage_report
from behest_local.finops.store import UsageStore, UsageStoreUnavailable
from behest_local.finops.window import WindowError, iso, parse_granularity, parse_window
from behest_local.policy.ratelimit import Counters
from behest_local.server.admission.auth import authenticate
from behest_local.server.keys import GATEWAY, PRINCIPAL
from behest_local.server.admission.limits import COUNTERS
from behest_local.server.admission.principal import Principal
from behest_local.server.render import json_response

log = logging.getLogger("behest_local.finops")

USAGE_PATH = "/v1/usage"
BILLING_PATH = "/v1/billing/usage"


@dataclass(slots=True)
class UsageHolder:
    """The usage store and recorder, present while the app runs."""

    store: UsageStore | None = None
    recorder: UsageRecorder | None = None


USAGE = web.AppKey("usage", UsageHolder)


def setup_usage(app: web.Application) -> None:
    app[USAGE] = UsageHolder()
    app.router.add_get(USAGE_PATH, get_usage)
    app.router.add_get(BILLING_PATH, get_billing_usage)
    app.cleanup_ctx.append(_usage_store)


async def _usage_store(app: web.Application):
    gateway, holder, counters = app[GATEWAY], app[USAGE], app[COUNTERS]
    store = await _open_store(gateway.home, counters)
    recorder = UsageRecorder(store, counters, lambda: gateway.settings)
    unsubscribe = gateway.store.subscribe(recorder, events=recorder.EVENTS)
    # Exchanges price themselves as they end, with the number the recorder then records.
    gateway.store.pricer = pricer = recorder.price
    holder.store, holder.recorder = store, recorder
    try:
        yield
    finally:
        if gateway.store.pricer is pricer:
            gateway.store.pricer = None
        unsubscribe()
        holder.store = holder.recorder = None
        if store is not None:
            await asyncio.to_thread(store.close)


async def _open_store(home: Path, counters: Counters) -> UsageStore | None:
    """The usage store with this month's usage replayed into ``counters``; None (logged)
    when it cannot be opened or read."""
    try:
        store = await asyncio.to_thread(UsageStore.open, home)
    except UsageStoreUnavailable as exc:
        path, reason = exc.path, exc.reason
    else:
        try:
            seed_counters(counters, await store.run(seed_rows, counters.clock()))
            return store
        except sqlite3.DatabaseError as exc:  # opened, but its pages are damaged
            path, reason = store.path, exc
            await asyncio.to_thread(store.close)
    log.warning("usage database unavailable: %s cannot be used (%s). Token and dollar "
                "budgets are kept in memory until restart; usage and cost are not recorded "
                "and /v1/usage answers 503. Check the permissions of the file and its "
                "directory, or move a damaged file aside to start a new one.", path, reason)
    return None


def _caller(request: web.Request) -> Principal:
    principal = request.get(PRINCIPAL)
    return principal if principal is not None else authenticate(request)


def _store(request: web.Request) -> UsageStore:
    store = request.app[USAGE].store
    if store is None:
        raise GatewayError("Usage is not available: the usage database could not be opened "
                           "(see the gateway's log), or the gateway is stopping.",
                           status=503, code="server_error")
    return store


def _window(request: web.Request, default: str) -> tuple[float, float]:
    try:
        return parse_window(request.query, now=request.app[COUNTERS].clock(), default=default)
    except WindowError as exc:
        raise InvalidRequestError(exc.message, param=exc.param,
                                  code="validation_error") from None


async def get_usage(request: web.Request) -> web.Response:
    principal = _caller(request)
    query = request.query
    user = query.get("user_id") or None
    try:
        granularity, step = parse_granularity(query.get("granularity"))
    except WindowError as exc:
        raise InvalidRequestError(exc.message, param=exc.param,
                                  code="validation_error") from None
    since, until = _window(request, "30d")
    session = query.get("session_id") or None
    report = await _store(request).run(
        lambda conn: usage_report(conn, project=principal.project.id, since=since,
                                  until=until, bucket=step, user=user, session=session))
    return json_response({
        "object": "usage", "project_id": principal.project.id, "user_id": user,
        "session_id": session, "granularity": granularity, "currency": "USD",
        "window": {"from": iso(since), "to": iso(until)}, **report})


async def get_billing_usage(request: web.Request) -> web.Response:
    principal = _caller(request)
    user = request.query.get("user_id") or None
    since, until = _window(request, "month")
    report = await _store(request).run(
        lambda conn: billing_report(conn, project=principal.project.id, since=since,
                                    until=until, user=user))
    return json_response({"project_id": principal.project.id, "user_id": user,
                          "currency": "USD",
                          "window": {"from": iso(since), "to": iso(until)}, **report})
