"""Which limits apply to a request: Behest's tier table, its gateway defaults, budgets, plan.

The reference gives two sets of per-user limits that contradict each other
(reference/behest-api.md §7.13): the tiers guide's table (§3.1, per (project, uid): free 10
RPM, 100 requests and 50k tokens a day; pro 60, 10k, 2M; max 300, 100k, 20M) and the
rate-limiting page (§3.2: per-user RPM ``max(3, floor(rpm / 10))``, 1M tokens a day). Each
is applied where its own page says it applies:

* **the tier table** to requests that carry a tier: a JWT's ``tier`` claim (v1.5 mint
  and signing), ``rate_limits.default_tier`` for the rest, and every user of a tenant on
  the free plan (the migration guide: the free tier "has rate limits on requests per
  minute"; a free tenant cannot mint a higher tier);
* **the rate-limiting page's per-user defaults** (``rate_limits.user_rpm``,
  ``budgets.user_tokens_per_day``) to requests without one: v1.x API keys with
  ``X-End-User-Id``, tokens minted without a tier.

The per-IP safety limit, project RPM, the monthly and project budgets come from the
rate-limiting page for everyone. ``rate_limits.use_tiers = false`` turns the table off;
``default_tier = "pro"`` turns it on for API-key traffic. Per-user limits are skipped
without a user id, as Kong skips them. The lists come in §3.2's check order (IP, project
RPM, user RPM, user daily, monthly, project daily; then the dollar and session budgets
this emulator adds), and ``ratelimit.Counters.admit`` refuses on the first that fails.

``LimitTable`` remembers the lists per settings snapshot and caller: they depend on nothing
else, and the limit middlewares ask for them on every request.
"""

from __future__ import annotations

from dataclasses import dataclass

from behest_local.identity.jwt import tier_name
from behest_local.config import ProjectConfig, Settings
from behest_local.policy.cors import project_for_host
from behest_local.policy.ratelimit import Limit, Window

IP_RPM = 120
"""Kong's per-IP safety limit (§3.2); ``rate_limits.ip_rpm`` overrides it."""


@dataclass(frozen=True, slots=True)
class TierTable:
    rpm: int
    requests_per_day: int
    tokens_per_day: int


TIER_TABLE = {"free": TierTable(10, 100, 50_000), "pro": TierTable(60, 10_000, 2_000_000),
              "max": TierTable(300, 100_000, 20_000_000)}
"""Behest's default tier limits per (project, user) (reference §3.1)."""


def tier_table(project: ProjectConfig, tier: str) -> TierTable:
    """``tier``'s limits for ``project``: Behest's defaults with the project's overrides."""
    base, override = TIER_TABLE[tier], getattr(project.tiers, tier)
    return TierTable(override.rpm or base.rpm,
                     override.requests_per_day or base.requests_per_day,
                     override.tokens_per_day or base.tokens_per_day)


def effective_tier(project: ProjectConfig, plan: str, claim: int | None) -> str | None:
    """The tier whose table limits this caller, or None for the gateway defaults."""
    if plan == "free":
        return "free"
    if not project.rate_limits.use_tiers:
        return None
    if claim is not None:
        return tier_name(claim)
    default = project.rate_limits.default_tier
    return None if default == "none" else default


def ip_limits(ip: str, rpm: int) -> list[Limit]:
    return [Limit("ip_rpm", ("requests", "ip", ip), Window.MINUTE, rpm, "requests", "ip",
                  f"IP {ip}", "rate_limits.ip_rpm")]


class LimitTable:
    """``ip_limits`` and ``request_limits`` built once per settings snapshot and caller.

    Building them costs ~2-7 us (f-strings, frozen dataclasses) and every request asks for
    both. The table starts afresh when the settings object changes (a reload or a deploy
    makes a new one, so a cached list never outlives its settings) and when it holds
    ``max_entries`` lists (user and session ids come from clients). One per application
    (``server/admission/limits.py``); event-loop only.
    """

    def __init__(self, max_entries: int = 4096) -> None:
        self.max_entries = max_entries
        self._settings: Settings | None = None
        self._lists: dict[tuple, tuple[Limit, ...]] = {}

    def _for(self, settings: Settings) -> dict[tuple, tuple[Limit, ...]]:
        if settings is not self._settings:
            self._settings, self._lists = settings, {}
        elif len(self._lists) >= self.max_entries:
            self._lists = {}
        return self._lists

    def ip(self, settings: Settings, host: str, ip: str) -> tuple[Limit, ...]:
        """The per-IP limit: the slug host's project's ``ip_rpm``, else the largest of all
        projects' (it is checked before anyone is known, and local clients share an IP)."""
        lists = self._for(settings)
        key = ("ip", host, ip)
        hit = lists.get(key)
        if hit is None:
            host_project = project_for_host(settings.projects, host)
            rpm = host_project.rate_limits.ip_rpm if host_project is not None else max(
                (p.rate_limits.ip_rpm for p in settings.projects), default=IP_RPM)
            hit = lists[key] = tuple(ip_limits(ip, rpm))
        return hit

    def request(self, settings: Settings, project: ProjectConfig, *, user: str | None,
                session: str | None, claim: int | None) -> tuple[Limit, ...]:
        """``request_limits`` of ``project`` (one of ``settings``' projects) for a caller
        whose token claims tier ``claim`` (None: no claim), at ``effective_tier``."""
        budgets = project.budgets
        if not (budgets.session_tokens or budgets.session_cost_usd):
            session = None  # no session budget: the list does not depend on the session
        lists = self._for(settings)
        key = (project.id, user, session, claim)
        hit = lists.get(key)
        if hit is None:
            tier = effective_tier(project, settings.tenant.plan, claim)
            hit = lists[key] = tuple(request_limits(project, user=user, session=session,
                                                    tier=tier))
        return hit


def request_limits(project: ProjectConfig, *, user: str | None, session: str | None,
                   tier: str | None) -> list[Limit]:
    """Every limit on one inference request, in the order they are checked."""
    pid, rate, budgets = project.id, project.rate_limits, project.budgets
    who_project = f"project {pid!r}"
    out = [Limit("project_rpm", ("requests", "project", pid), Window.MINUTE, rate.rpm,
                 "requests", "project", who_project, "rate_limits.rpm")]
    if user is not None:
        who = f"user {user!r} of project {pid!r}"
        ukey = ("user", pid, user)
        if tier is not None:
            table = tier_table(project, tier)
            at = f"tiers.{tier}"
            out += [
                Limit("user_rpm", ("requests", *ukey), Window.MINUTE, table.rpm, "requests",
                      "user", who, f"{at}.rpm", tier),
                Limit("user_requests_per_day", ("requests", *ukey), Window.DAY,
                      table.requests_per_day, "requests", "user", who,
                      f"{at}.requests_per_day", tier),
                Limit("user_tokens_per_day", ("tokens", *ukey), Window.DAY,
                      table.tokens_per_day, "tokens", "user", who, f"{at}.tokens_per_day",
                      tier)]
        else:
            user_rpm = rate.user_rpm or max(3, rate.rpm // 10)
            out.append(Limit("user_rpm", ("requests", *ukey), Window.MINUTE, user_rpm,
                             "requests", "user", who, "rate_limits.user_rpm"))
            if budgets.user_tokens_per_day:
                out.append(Limit("user_tokens_per_day", ("tokens", *ukey), Window.DAY,
                                 budgets.user_tokens_per_day, "tokens", "user", who,
                                 "budgets.user_tokens_per_day"))
        if budgets.user_tokens_per_month:
            out.append(Limit("user_tokens_per_month", ("tokens", *ukey), Window.MONTH,
                             budgets.user_tokens_per_month, "tokens", "user", who,
                             "budgets.user_tokens_per_month", tier))
        if budgets.user_cost_usd_per_day:
            out.append(Limit("user_cost_usd_per_day", ("cost_usd", *ukey), Window.DAY,
                             budgets.user_cost_usd_per_day, "cost_usd", "user", who,
                             "budgets.user_cost_usd_per_day", tier))
    if budgets.project_tokens_per_day:
        out.append(Limit("project_tokens_per_day", ("tokens", "project", pid), Window.DAY,
                         budgets.project_tokens_per_day, "tokens", "project", who_project,
                         "budgets.project_tokens_per_day"))
    if budgets.project_cost_usd_per_month:
        out.append(Limit("project_cost_usd_per_month", ("cost_usd", "project", pid),
                         Window.MONTH, budgets.project_cost_usd_per_month, "cost_usd",
                         "project", who_project, "budgets.project_cost_usd_per_month"))
    if session is not None:
        skey = ("session", pid, user or "", session)
        who_session = f"session {session!r} of project {pid!r}"
        if budgets.session_tokens:
            out.append(Limit("session_tokens", ("tokens", *skey), Window.TOTAL,
                             budgets.session_tokens, "tokens", "session", who_session,
                             "budgets.session_tokens"))
        if budgets.session_cost_usd:
            out.append(Limit("session_cost_usd", ("cost_usd", *skey), Window.TOTAL,
                             budgets.session_cost_usd, "cost_usd", "session", who_session,
                             "budgets.session_cost_usd"))
    return out


def usage_counters(project: ProjectConfig, *, user: str | None,
                   session: str | None) -> list[tuple[tuple, Window]]:
    """The token counters one response's usage is added to (the dollar counters are the
    same keys with ``cost_usd`` first). Session counters only while a session budget is
    set: the v1.5 SDK makes a new session per call, and counting those would be waste."""
    pid = project.id
    out: list[tuple[tuple, Window]] = [(("project", pid), Window.DAY),
                                       (("project", pid), Window.MONTH)]
    if user is not None:
        out += [(("user", pid, user), Window.DAY), (("user", pid, user), Window.MONTH)]
    budgets = project.budgets
    if session is not None and (budgets.session_tokens or budgets.session_cost_usd):
        out.append((("session", pid, user or "", session), Window.TOTAL))
    return out


_PERIOD = {Window.MINUTE: ("minute", "this_minute"), Window.DAY: ("day", "today"),
           Window.MONTH: ("month", "this_month"), Window.TOTAL: ("session", "this_session")}
_UNIT_TEXT = {"requests": "requests", "tokens": "tokens", "cost_usd": "dollars"}


def detail_names(limit: Limit) -> tuple[str, str]:
    """The names Behest's error details use: ``("tokens_per_day", "tokens_today")``."""
    per, this = _PERIOD[limit.window]
    return f"{limit.unit}_per_{per}", f"{limit.unit}_{this}"


def describe(limit: Limit) -> str:
    """``requests per minute``, ``tokens per day``, ``dollars per session``."""
    return f"{_UNIT_TEXT[limit.unit]} per {_PERIOD[limit.window][0]}"
