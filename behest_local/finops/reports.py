"""The SQL behind the usage endpoints and the budget counters' restart.

Each function takes the usage database's connection and runs on the store's writer thread
(``UsageStore.run``), so it sees every record queued before it and never blocks the event
loop. ``usage_report`` is ``GET /v1/usage``'s body (what the v1.5 SDKs read: ``totals`` and
``breakdown``, plus per-model, per-user and per-session cost; each row's ``blocked``
counts the requests a guardrail refused with 451, which ``requests`` leaves out),
``billing_report`` is ``GET /v1/billing/usage``'s (Behest's platform and BYOK buckets with
``by_model``), and ``budget_rows`` is what ``recorder.seed_counters`` replays into the
limiter at startup so a daily quota spent before a restart stays spent.
"""

from __future__ import annotations

import sqlite3

from behest_local.errors import GuardrailBlocked
from behest_local.finops.prices import reported_cost
from behest_local.finops.window import iso

_BLOCKED = GuardrailBlocked.status
_SUMS = (f"COALESCE(SUM(status != {_BLOCKED}), 0), COALESCE(SUM(prompt_tokens), 0), "
         f"COALESCE(SUM(completion_tokens), 0), COALESCE(SUM(cost_usd), 0), "
         f"COALESCE(SUM(status = {_BLOCKED}), 0)")
"""Requests (those a guardrail refused are kept apart: ``blocked``), tokens and cost."""
TOP = 100
"""Rows kept in ``by_user`` and ``by_session`` (the costliest first)."""


def _amounts(row) -> dict:
    requests, prompt, completion, cost, blocked = row
    return {"requests": requests, "prompt_tokens": prompt, "completion_tokens": completion,
            "tokens": prompt + completion, "cost_usd": reported_cost(cost),
            "blocked": blocked}


def _where(project: str, since: float, until: float, user: str | None,
           session: str | None) -> tuple[str, list]:
    sql, args = "project = ? AND at >= ? AND at < ?", [project, since, until]
    if user is not None:
        sql, args = sql + " AND user_id = ?", args + [user]
    if session is not None:
        sql, args = sql + " AND session_id = ?", args + [session]
    return sql, args


def usage_report(conn: sqlite3.Connection, *, project: str, since: float, until: float,
                 bucket: int, user: str | None = None, session: str | None = None) -> dict:
    """Totals, a time series in ``bucket``-second steps (UTC-aligned, empty steps left
    out), and the breakdowns by model, user and session."""
    where, args = _where(project, since, until, user, session)
    totals = _amounts(conn.execute(f"SELECT {_SUMS} FROM usage WHERE {where}", args).fetchone())
    series = conn.execute(
        f"SELECT CAST(at / ? AS INTEGER) * ? AS step, {_SUMS} FROM usage WHERE {where} "
        "GROUP BY step ORDER BY step", [bucket, bucket, *args]).fetchall()
    breakdown = [{"timestamp": iso(step), **_amounts(rest)} for step, *rest in series]
    by_model = [{"model": model, **_amounts(rest)} for model, *rest in conn.execute(
        f"SELECT model, {_SUMS} FROM usage WHERE {where} GROUP BY model "
        "ORDER BY 5 DESC, 1", args)]
    by_user = [{"user_id": who, **_amounts(rest)} for who, *rest in conn.execute(
        f"SELECT user_id, {_SUMS} FROM usage WHERE {where} AND user_id IS NOT NULL "
        f"GROUP BY user_id ORDER BY 5 DESC, 1 LIMIT {TOP}", args)]
    by_session = [{"session_id": sid, "user_id": who, **_amounts(rest)}
                  for sid, who, *rest in conn.execute(
                      f"SELECT session_id, MAX(user_id), {_SUMS} FROM usage WHERE {where} "
                      f"AND session_id IS NOT NULL GROUP BY session_id "
                      f"ORDER BY 6 DESC, 1 LIMIT {TOP}", args)]
    return {"totals": totals, "breakdown": breakdown, "by_model": by_model,
            "by_user": by_user, "by_session": by_session}


def billing_report(conn: sqlite3.Connection, *, project: str, since: float,
                   until: float, user: str | None = None) -> dict:
    """Behest's two buckets: ``platform`` (the platform's key; locally, the emulated
    model) and ``byok`` (the tenant's own provider keys), each with ``by_model``."""
    where, args = _where(project, since, until, user, None)
    rows = conn.execute(f"SELECT byok, model, {_SUMS} FROM usage WHERE {where} "
                        "GROUP BY byok, model ORDER BY 6 DESC, 2", args).fetchall()
    out = {}
    for name, flag in (("platform", 0), ("byok", 1)):
        # A model only refused by guardrails was not used: billing lists no row for it.
        models = [(model, amounts) for byok, model, *rest in rows
                  if byok == flag and (amounts := _amounts(rest))["requests"]]
        bucket = {"requests": 0, "input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0}
        listed = []
        for model, amounts in models:
            bucket["requests"] += amounts["requests"]
            bucket["input_tokens"] += amounts["prompt_tokens"]
            bucket["output_tokens"] += amounts["completion_tokens"]
            bucket["cost_usd"] += amounts["cost_usd"]
            listed.append({"model": model, "requests": amounts["requests"],
                           "input_tokens": amounts["prompt_tokens"],
                           "output_tokens": amounts["completion_tokens"],
                           "cost_usd": amounts["cost_usd"]})
        bucket["cost_usd"] = reported_cost(bucket["cost_usd"])
        out[name] = {**bucket, "by_model": listed}
    return out


def budget_rows(conn: sqlite3.Connection, *, month_since: float, session_since: float
                ) -> list[tuple]:
    """Usage since the start of the month, summed per (project, user, session, day): the
    rows the budget counters are rebuilt from. Sessions older than ``session_since``
    are left out (their budgets matter only while they are used)."""
    return conn.execute(
        "SELECT project, user_id, CASE WHEN at >= ? THEN session_id END AS sid, "
        "CAST(at / 86400 AS INTEGER) * 86400 AS day, COUNT(*), "
        "SUM(prompt_tokens + completion_tokens), SUM(cost_usd) FROM usage "
        "WHERE at >= ? GROUP BY project, user_id, sid, day",
        [session_since, min(month_since, session_since)]).fetchall()
