"""Rate limits, daily quotas and budgets on the wire: 429, 402 and ``x-ratelimit-*``.

**Placement**: two phases of the gateway middleware (``server/middleware.py``, in the order
of ``server/app.py``): exchange → cors → management → **check_ip** → auth →
**check_caller** → handler.

* ``check_ip`` runs *before* authentication: the rate-limiting page applies the
  per-IP safety limit "before JWT validation" (reference §3.2), so a flood of bad tokens
  meets 429s without a signature being checked, as in the cloud. Every data-plane and
  auth-plane request counts (``/v1/…``, ``/auth/v1/…``, JWKS; the v1.5 SDK's mint per
  call included) but one a web page could have forged: no credential, and a method and
  content type that need no CORS preflight (``cors.page_can_forge``: ``text/plain`` or
  form bodies, plain GETs). Every local client shares 127.0.0.1, so counting those would
  let any page a user visits lock the user's own client out with 429s; they are
  refused by authentication instead, at no cost (JWKS, public, is served). Preflights
  never reach it (CORS answers them first) and the control plane's management routes
  are answered before it. Its limit is the slug host's project
  ``rate_limits.ip_rpm``, or the largest of the projects' when the host names none: it is
  checked before anyone is known, and every local client shares 127.0.0.1.
* ``check_caller`` runs *after* authentication: project RPM, per-user RPM and the
  tier, quota and budget limits (``tiers.request_limits``) need the principal. Inference
  routes count toward them; other authenticated routes only report them.

**Refusals.** A per-minute limit answers 429 ``rate_limited`` with ``Retry-After`` in
integer seconds (RFC 9110 §10.2.3), ``retry-after-ms`` (which OpenAI's SDKs read first) and
``x-should-retry: true``. A spent daily, monthly or session quota or budget answers 402
``quota_exceeded`` ("do not retry", reference §3.3) with ``x-should-retry: false``, which
OpenAI's SDKs obey (peers.md §4c); ``emulator.quota_status = 429`` answers 429
``budget_exceeded`` instead, the v1.x contract (§7.14). Bodies: OpenAI's envelope plus
Behest's ``details`` on OpenAI routes, Behest's nested ``{"error": {code, message,
details}}`` on Behest's routes. ``emulator.enforce_limits = false`` counts and reports
everything and refuses nothing.

**Headers.** ``limit_headers`` (from the app's ``on_response_prepare`` hook: JSON, errors
and streams) writes OpenAI's ``x-ratelimit-limit|remaining|reset-requests|tokens``
(peers.md §4a) for the limit closest to refusing: the tightest request limit and the
tightest token quota; on Anthropic's Messages API also ``anthropic-ratelimit-requests|
tokens-limit|remaining|reset``, and refusals there are Anthropic's error JSON (429
``rate_limit_error`` with ``retry-after``).

**Cost.** Both phases run on every request, so the lists of limits come from a
``tiers.LimitTable`` (built once per settings snapshot and caller), and the verdicts'
states are kept as they are for the headers.
"""

from __future__ import annotations

import math

from aiohttp import web

from behest_local.errors import GatewayError
from behest_local.finops.window import iso
from behest_local.policy.cors import page_can_forge
from behest_local.policy.ratelimit import (Counters, LimitState, Window, duration_text,
                                    retry_after_seconds)
from behest_local.dialects.messages_wire import error_body
from behest_local.server.behest_errors import PathKind, path_kind, speaks_anthropic
from behest_local.server.ending import refuse
from behest_local.server.keys import EXCHANGE, GATEWAY, INTERNAL_CALLERS, PRINCIPAL
from behest_local.policy.tiers import LimitTable, describe, detail_names

COUNTERS = web.AppKey("limit_counters", Counters)
LIMITS = web.AppKey("limit_table", LimitTable)
STATES = web.RequestKey("limit_states", tuple)
"""The limits checked for this request and their counters after it (for the headers)."""
_INF = math.inf
_REQUESTS, _TOKENS = ((f"x-ratelimit-limit-{unit}", f"x-ratelimit-remaining-{unit}",
                       f"x-ratelimit-reset-{unit}") for unit in ("requests", "tokens"))
"""OpenAI's header names per reported unit, in the order they are written."""
ANTHROPIC_HEADERS = tuple((f"anthropic-ratelimit-{unit}-limit",
                           f"anthropic-ratelimit-{unit}-remaining",
                           f"anthropic-ratelimit-{unit}-reset") for unit in ("requests", "tokens"))
"""Anthropic's names for the same (anthropic-ingress.md §9), on its dialect's responses."""


def setup_limits(app: web.Application) -> Counters:
    """The counters (on the trace store's wall clock, so one injected clock drives both)
    and the table of limits; the two checks are phases of the gateway middleware and
    ``limit_headers`` part of the app's response hook (``server/app.py``)."""
    counters = app[COUNTERS] = Counters(app[GATEWAY].store.wall_clock)
    app[LIMITS] = LimitTable()
    return counters


def check_ip(request: web.Request, kind: PathKind) -> web.Response | None:
    """The per-IP limit of a gateway route (``kind`` is its path's): the refusal, or None
    once the request is counted."""
    method, headers = request.method, request.headers
    if method == "OPTIONS" or not kind.gateway or page_can_forge(
            method, headers.get("Content-Type"),
            headers.get("Authorization") or headers.get("x-api-key")):
        return None
    app = request.app
    if app[INTERNAL_CALLERS] and _is_batch_line(headers, app[INTERNAL_CALLERS]):
        return None
    settings = app[GATEWAY].settings
    enforce = settings.emulator.enforce_limits
    limits = app[LIMITS].ip(settings, request.host, request.remote or "?")
    verdict = app[COUNTERS].admit(limits, enforce=enforce)
    request[STATES] = verdict.states
    if not verdict.admitted and enforce:
        return refusal(request, verdict.refused, verdict.retry_after)
    return None


def check_caller(request: web.Request, kind: PathKind) -> web.Response | None:
    """The authenticated caller's limits (none without a principal): the refusal of an
    inference request over one, or None once the request is counted."""
    principal = request.get(PRINCIPAL)
    if principal is None:
        return None
    settings, app = principal.settings, request.app
    limits = app[LIMITS].request(settings, principal.project, user=principal.user,
                                 session=principal.session, claim=principal.tier)
    if principal.kind == "batch":
        # A batch has no per-minute limits (OpenAI's batches have their own queue), so its
        # lines never spend the requests an interactive client of the project may make;
        # its tokens still count toward, and are refused by, the daily quotas and budgets.
        limits = tuple(limit for limit in limits if limit.window is not Window.MINUTE)
    inference = request.method == "POST" and kind.inference
    enforce = settings.emulator.enforce_limits
    verdict = app[COUNTERS].admit(limits, take=inference, enforce=enforce)
    before = request.get(STATES)
    request[STATES] = before + verdict.states if before else verdict.states
    if inference and not verdict.admitted and enforce:
        return refusal(request, verdict.refused, verdict.retry_after)
    return None


def _is_batch_line(headers, callers: dict) -> bool:
    """A batch's line, sent by the gateway itself (``routes/batches.py``): not a client
    on 127.0.0.1, so the per-IP limit does not count it."""
    header = headers.get("Authorization", "")
    return header[7:] in callers if header.startswith("Bearer ") else False


def _amount(value: float, unit: str) -> str:
    return f"${value:.4f}" if unit == "cost_usd" else str(_number(value))


def refusal(request: web.Request, state: LimitState, retry_after: float) -> web.Response:
    """The 429 or 402 for ``state``'s limit, in the route's error shape."""
    limit, settings = state.limit, request.app[GATEWAY].settings
    per, this = detail_names(limit)
    used, cap = _number(state.used), _number(limit.limit)
    details = {"tier": limit.tier, "scope": limit.scope, "limit_name": limit.name,
               "limit": {per: cap}, "usage": {this: used}, "setting": limit.setting,
               "resets_at": None if math.isinf(state.reset_at) else iso(state.reset_at)}
    tier_text = f" (tier {limit.tier})" if limit.tier else ""
    principal = request.get(PRINCIPAL)
    pid = principal.project.id if principal is not None else "<project>"
    where = _where(limit.setting, pid)
    if limit.scope == "user" and principal is not None and principal.user == "default":
        where += (". The v1.5 SDKs mint every call as user 'default' unless given a user_id, "
                  "so all their calls share this user's limit")
    headers: dict[str, str] = {}
    if limit.window is Window.MINUTE:
        status, code, kind = 429, "rate_limited", "requests"
        wait = retry_after_seconds(retry_after)
        details["retry_after"] = wait
        message = (f"Rate limit reached for {limit.subject} on {describe(limit)}{tier_text}: "
                   f"limit {_amount(cap, limit.unit)}, used {_amount(used, limit.unit)}. "
                   f"Please try again in {wait}s. (The limit is {where}.)")
        headers.update({"Retry-After": str(wait), "retry-after-ms": str(math.ceil(
            retry_after * 1000)), "x-should-retry": "true"})
    else:
        status = settings.emulator.quota_status
        code = "quota_exceeded" if status == 402 else "budget_exceeded"
        kind = "insufficient_quota"
        period = {Window.DAY: "daily", Window.MONTH: "monthly", Window.TOTAL: "session"}
        noun = {"tokens": "token", "requests": "request", "cost_usd": "spending (USD)"}
        what = f"{period[limit.window]} {noun[limit.unit]} limit"
        resets = f" It resets at {details['resets_at']}." if details["resets_at"] else ""
        tier_name = f" for tier '{limit.tier}'" if limit.tier else ""
        message = (f"{limit.subject[0].upper()}{limit.subject[1:]} has exceeded the {what}"
                   f"{tier_name}: limit {_amount(cap, limit.unit)}, used "
                   f"{_amount(used, limit.unit)}.{resets} Do not retry before then. "
                   f"(The limit is {where}.)")
        headers["x-should-retry"] = "false"
        if status == 429 and details["resets_at"]:
            headers["Retry-After"] = str(retry_after_seconds(retry_after))
    if path_kind(request.path).behest:
        body: dict = {"error": {"code": code, "message": message, "details": details}}
    elif speaks_anthropic(request):  # 429 rate_limit_error, 402 billing_error
        body = error_body(status, message, request[EXCHANGE].id)
    else:
        body = GatewayError(message, status=status, type=kind, code=code).to_openai()
        body["error"]["details"] = details
    return refuse(request, body, status=status, code=code, message=message, details=details,
                  headers=headers)


def _where(setting: str, pid: str) -> str:
    """Where a limit is set and how to stop enforcing it: ``rate_limits.user_rpm`` is
    ``[projects.rate_limits] user_rpm`` in behest.toml (or the project's settings API)."""
    table, _, key = setting.rpartition(".")
    return (f"[projects.{table}] {key} in behest.toml, or PUT /v1/projects/{pid}/settings; "
            f"[emulator] enforce_limits = false counts without refusing")


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else round(value, 6)


def limit_headers(request: web.Request, response: web.StreamResponse) -> None:
    """From ``on_response_prepare``: OpenAI's rate-limit headers for the binding limits,
    ``ratelimit.binding``'s choice (least remaining, sooner reset on ties; the first on a
    full tie) made in one pass over the states; limits that never reset (session budgets)
    are not reported, nor are dollar budgets (OpenAI has no header for them)."""
    states = request.get(STATES)
    if not states:
        return
    requests = tokens = None  # the binding state of each reported unit so far
    req_left = req_reset = tok_left = tok_reset = 0.0
    for state in states:
        reset_at = state.reset_at
        if reset_at == _INF:
            continue
        limit = state.limit
        remaining = limit.limit - state.used  # ``LimitState.remaining``, inlined
        if not remaining > 0.0:
            remaining = 0.0
        unit = limit.unit
        if unit == "requests":
            if requests is None or remaining < req_left or (remaining == req_left
                                                            and reset_at < req_reset):
                requests, req_left, req_reset = state, remaining, reset_at
        elif unit == "tokens":
            if tokens is None or remaining < tok_left or (remaining == tok_left
                                                          and reset_at < tok_reset):
                tokens, tok_left, tok_reset = state, remaining, reset_at
    if requests is None and tokens is None:
        return
    now = request.app[COUNTERS].clock()
    headers = response.headers
    if requests is not None:
        headers[_REQUESTS[0]] = str(int(requests.limit.limit))
        headers[_REQUESTS[1]] = str(int(req_left))
        headers[_REQUESTS[2]] = duration_text(req_reset - now)
    if tokens is not None:
        headers[_TOKENS[0]] = str(int(tokens.limit.limit))
        headers[_TOKENS[1]] = str(int(tok_left))
        headers[_TOKENS[2]] = duration_text(tok_reset - now)
    if speaks_anthropic(request):
        # The same limits as Anthropic names them, resets as RFC 3339 times
        # (anthropic-ingress.md §9); the counters' clock is Unix time.
        for names, state, left, reset in ((ANTHROPIC_HEADERS[0], requests, req_left, req_reset),
                                          (ANTHROPIC_HEADERS[1], tokens, tok_left, tok_reset)):
            if state is not None:
                headers[names[0]] = str(int(state.limit.limit))
                headers[names[1]] = str(int(left))
                headers[names[2]] = iso(reset)


def rpm_gauges(app: web.Application, *, busiest_users: int = 2) -> list[tuple[str, float, float]]:
    """``(label, used, limit)`` for each project's requests this minute against its RPM, and
    for its busiest users against theirs: what the TUI header draws as gauges."""
    counters, settings = app[COUNTERS], app[GATEWAY].settings
    minute = counters.current(Window.MINUTE)
    gauges: list[tuple[str, float, float]] = []
    for project in settings.projects:
        rpm = project.rate_limits.rpm
        gauges.append((f"{project.id} rpm",
                       counters.used(("requests", "project", project.id), Window.MINUTE), rpm))
        users = sorted(((key[3], used) for key, used in minute
                        if isinstance(key, tuple) and len(key) == 4 and key[:3] ==
                        ("requests", "user", project.id)), key=lambda kv: -kv[1])
        user_rpm = project.rate_limits.user_rpm or max(3, rpm // 10)
        gauges += [(f"{project.id}/{user}", used, user_rpm) for user, used in users[:busiest_users]]
    return gauges
