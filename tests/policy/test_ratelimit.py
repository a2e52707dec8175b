"""The limiter's arithmetic (policy/ratelimit.py) and the tier policy (policy/tiers.py), on a hand-driven
clock: no test here sleeps; time moves when a test says so."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timezone

from hypothesis import given, settings as hsettings, strategies as st

from behest_local.config import (BudgetConfig, ProjectConfig, RateLimitConfig, TierLimits,
                                 TierOverrides)
from behest_local.policy.ratelimit import (Counters, Limit, Window, binding, duration_text,
                                    retry_after_seconds, window_span)
from behest_local.policy.tiers import effective_tier, request_limits, tier_table

T0 = datetime(2026, 4, 1, 12, 0, 0, tzinfo=timezone.utc).timestamp()


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def rpm(n: int, key="p") -> Limit:
    return Limit("project_rpm", ("requests", "project", key), Window.MINUTE, n, "requests",
                 "project", f"project {key!r}", "rate_limits.rpm")


def test_windows_are_calendar_aligned_in_utc():
    at = datetime(2026, 12, 31, 23, 59, 30, tzinfo=timezone.utc).timestamp()
    assert window_span(Window.MINUTE, at)[1] == at + 30
    assert window_span(Window.DAY, at)[1] == at + 30
    month, reset = window_span(Window.MONTH, at)
    assert reset == datetime(2027, 1, 1, tzinfo=timezone.utc).timestamp()
    assert window_span(Window.MONTH, reset)[0] == month + 1


def test_a_limit_of_n_admits_n_refuses_the_next_and_resets_with_the_minute():
    clock = Clock(T0 + 15)
    counters = Counters(clock)
    verdicts = [counters.admit([rpm(3)]) for _ in range(4)]
    assert [v.admitted for v in verdicts] == [True, True, True, False]
    assert [v.states[0].remaining for v in verdicts[:3]] == [2, 1, 0]
    assert verdicts[3].retry_after == 45 and verdicts[3].refused.used == 3
    assert counters.used(("requests", "project", "p"), Window.MINUTE) == 3  # refusals not counted
    clock.now = T0 + 60
    assert counters.admit([rpm(3)]).admitted


def test_a_refusal_counts_nothing_anywhere():
    """Check-then-take: a request refused by its user limit leaves the project count alone."""
    counters = Counters(Clock())
    user = Limit("user_rpm", ("requests", "user", "p", "u"), Window.MINUTE, 1, "requests",
                 "user", "user 'u'")
    assert counters.admit([rpm(10), user]).admitted
    refused = counters.admit([rpm(10), user])
    assert refused.refused.limit.name == "user_rpm"
    assert counters.used(("requests", "project", "p"), Window.MINUTE) == 1


def test_token_budgets_refuse_once_spent_and_are_charged_after_the_fact():
    counters = Counters(Clock())
    tokens = Limit("user_tokens_per_day", ("tokens", "user", "p", "u"), Window.DAY, 100,
                   "tokens", "user", "user 'u'")
    assert counters.admit([tokens]).admitted
    assert counters.used(tokens.key, Window.DAY) == 0  # admission never takes tokens
    counters.add(tokens.key, Window.DAY, 99)
    assert counters.admit([tokens]).admitted  # 1 left: still admitted
    counters.add(tokens.key, Window.DAY, 5)
    verdict = counters.admit([tokens])
    assert not verdict.admitted and verdict.refused.used == 104
    assert verdict.retry_after == 12 * 3600


def test_not_enforcing_still_counts_and_reports():
    counters = Counters(Clock())
    for _ in range(3):
        verdict = counters.admit([rpm(2)], enforce=False)
    assert not verdict.admitted and verdict.states[0].used == 3


def test_an_amount_for_a_window_already_past_is_ignored():
    clock = Clock()
    counters = Counters(clock)
    key = ("tokens", "project", "p")
    counters.add(key, Window.DAY, 10)
    counters.add(key, Window.DAY, 7, at=T0 - 86_400)
    assert counters.used(key, Window.DAY) == 10
    clock.now += 86_400
    assert counters.used(key, Window.DAY) == 0


def test_counters_are_bounded_and_forget_the_least_recently_used():
    counters = Counters(Clock(), max_counters=100)
    for n in range(100):
        counters.add(n, Window.TOTAL, 1)
    counters.add(0, Window.TOTAL, 1)  # touched: now the most recent
    counters.add("new", Window.TOTAL, 1)
    assert len(counters) == 99  # 101 → the 1% (plus the excess) oldest forgotten at once
    assert counters.used(1, Window.TOTAL) == 0 and counters.used(0, Window.TOTAL) == 2


# Instants around month ends (the cached month's edges), and anywhere from 1970 to 2100.
_MONTH_ENDS = st.builds(lambda y, m, d: datetime(y, m, 1, tzinfo=timezone.utc).timestamp() + d,
                        st.integers(1971, 2099), st.integers(1, 12),
                        st.sampled_from([-86_400.0, -1.0, -1e-6, 0.0, 1e-6, 1.0, 86_400.0]))
_INSTANTS = _MONTH_ENDS | st.floats(0, 4.1e9, allow_nan=False)


@hsettings(max_examples=200, deadline=None)
@given(st.lists(_INSTANTS, min_size=1, max_size=12))
def test_the_remembered_month_always_agrees_with_the_calendar(instants: list[float]):
    counters = Counters(Clock())
    for now in instants:  # in any order: the remembered month is replaced, never trusted
        for window in Window:
            assert counters.span(window, now) == window_span(window, now)


def test_adding_to_many_counters_at_once_is_adding_to_each():
    slots = [(("tokens", "project", "p"), Window.DAY), (("tokens", "user", "p", "u"), Window.DAY),
             (("tokens", "project", "p"), Window.MONTH), (("tokens", "s"), Window.TOTAL)]
    together, apart = Counters(Clock()), Counters(Clock())
    for at in (T0, T0 + 86_400, T0 - 86_400, T0 + 40 * 86_400):
        together.add_all(slots, 5, at=at)
        for key, window in slots:
            apart.add(key, window, 5, at=at)
    later = T0 + 40 * 86_400
    for key, window in slots:
        for now in (T0, later):
            assert together.used(key, window, now=now) == apart.used(key, window, now=now)
    assert together.used(*slots[0], now=later) == 5 and together.used(*slots[3]) == 20


async def test_concurrent_admissions_are_exact():
    """All tasks are released at once by one event; asyncio interleaves them, and exactly
    the limit are admitted because admit() never awaits."""
    counters, go, ready, waiting = Counters(Clock()), asyncio.Event(), asyncio.Event(), [0]

    async def one() -> bool:
        waiting[0] += 1
        if waiting[0] == 40:
            ready.set()
        await go.wait()
        return counters.admit([rpm(25)]).admitted

    tasks = [asyncio.create_task(one()) for _ in range(40)]
    await ready.wait()  # every task is parked at the gate
    go.set()
    results = await asyncio.gather(*tasks)
    assert results.count(True) == 25


@hsettings(max_examples=60, deadline=None)
@given(st.integers(1, 8), st.lists(st.floats(0, 50), min_size=1, max_size=60))
def test_no_minute_ever_admits_more_than_the_limit(limit, steps):
    clock = Clock(T0)
    counters = Counters(clock)
    admitted: dict[int, int] = {}
    for step in steps:
        clock.now += step
        verdict = counters.admit([rpm(limit)])
        assert 0 <= verdict.retry_after <= 60
        if verdict.admitted:
            minute = int(clock.now // 60)
            admitted[minute] = admitted.get(minute, 0) + 1
        else:
            assert retry_after_seconds(verdict.retry_after) >= 1
    assert all(count <= limit for count in admitted.values())


def test_headers_report_the_limit_closest_to_refusing():
    counters = Counters(Clock())
    user = Limit("user_rpm", ("requests", "user", "p", "u"), Window.MINUTE, 2, "requests",
                 "user", "user 'u'")
    verdict = counters.admit([rpm(60), user])
    assert binding(verdict.states, "requests").limit.name == "user_rpm"
    assert binding(verdict.states, "tokens") is None


def test_reset_durations_in_openais_format_and_retry_after_in_whole_seconds():
    assert [duration_text(s) for s in (0.012, 1, 360, 2.081, 21_030.03)] == \
        ["12ms", "1s", "6m0s", "2s81ms", "5h50m30s30ms"]
    # The fast path for resets under a minute meets the general one at its edges.
    assert [duration_text(s) for s in (-3, 0, 0.0004, 0.9995, 59.9994, 59.9995, 60.5,
                                       float("inf"), float("-inf"))] == \
        ["0ms", "0ms", "0ms", "1s", "59s999ms", "1m0s", "1m0s500ms", "0s", "0s"]
    assert [retry_after_seconds(s) for s in (0.05, 1, 1.2, 59.999)] == [1, 1, 2, 60]


def test_tier_table_overrides_and_the_free_plan():
    project = ProjectConfig(name="p", id="p", tiers=TierOverrides(free=TierLimits(rpm=2)))
    assert tier_table(project, "free").rpm == 2
    assert tier_table(project, "free").tokens_per_day == 50_000
    assert tier_table(project, "max").requests_per_day == 100_000
    assert effective_tier(project, "pro", 3) == "max"
    assert effective_tier(project, "pro", None) is None
    assert effective_tier(project, "free", 3) == "free"  # a free tenant is free whatever it mints
    off = replace(project, rate_limits=RateLimitConfig(use_tiers=False))
    assert effective_tier(off, "pro", 3) is None
    keyed = replace(project, rate_limits=RateLimitConfig(default_tier="pro"))
    assert effective_tier(keyed, "pro", None) == "pro"


def test_request_limits_follow_the_rate_limiting_pages_order_and_defaults():
    project = ProjectConfig(name="p", id="p", budgets=BudgetConfig(
        user_tokens_per_month=5, project_tokens_per_day=7, session_tokens=9))
    names = [(lim.name, lim.limit) for lim in request_limits(project, user="u", session="s",
                                                        tier=None)]
    assert names == [("project_rpm", 60), ("user_rpm", 6), ("user_tokens_per_day", 1_000_000),
                     ("user_tokens_per_month", 5), ("project_tokens_per_day", 7),
                     ("session_tokens", 9)]
    tiered = [(lim.name, lim.limit) for lim in request_limits(project, user="u", session=None,
                                                         tier="free")]
    assert tiered[:4] == [("project_rpm", 60), ("user_rpm", 10), ("user_requests_per_day", 100),
                          ("user_tokens_per_day", 50_000)]
    anonymous = request_limits(project, user=None, session=None, tier="free")
    assert [lim.name for lim in anonymous] == ["project_rpm", "project_tokens_per_day"]


def test_the_limit_table_builds_each_list_once_per_settings_snapshot():
    from behest_local.config import Settings
    from behest_local.policy.tiers import LimitTable

    project = ProjectConfig(name="p", id="p", rate_limits=RateLimitConfig(rpm=50, ip_rpm=7))
    settings = Settings(projects=(project,))
    table = LimitTable(max_entries=3)
    first = table.request(settings, project, user="u", session="s1", claim=None)
    assert first == tuple(request_limits(project, user="u", session=None, tier=None))
    # no session budget: the session is not part of the key, the list is shared
    assert table.request(settings, project, user="u", session="s2", claim=None) is first
    assert table.ip(settings, "127.0.0.1:7717", "127.0.0.1")[0].limit == 7
    faster = replace(project, rate_limits=RateLimitConfig(rpm=99, ip_rpm=7))
    renewed = Settings(projects=(faster,))
    again = table.request(renewed, faster, user="u", session=None, claim=None)
    assert again is not first and again[0].limit == 99  # a new snapshot starts afresh
    for user in ("a", "b", "c", "d"):  # bounded: user ids come from clients
        table.request(renewed, faster, user=user, session=None, claim=None)
    assert len(table._lists) <= 3


def test_a_refusal_counts_nothing_and_a_repeated_counter_counts_twice():
    clock = Clock()
    counters = Counters(clock)
    day = Limit("rpd", ("requests", "p"), Window.DAY, 10, "requests", "project", "p")
    tight = Limit("rpm", ("requests", "u"), Window.MINUTE, 1, "requests", "user", "u")
    assert counters.admit([day, tight]).admitted
    refused = counters.admit([day, tight])
    assert not refused.admitted and refused.refused.limit is tight
    assert [s.used for s in refused.states] == [1, 1]  # checked, not counted
    assert counters.used(("requests", "p"), Window.DAY) == 1
    twice = counters.admit([day, day])  # the same counter listed twice counts twice
    assert [s.used for s in twice.states] == [2, 2]
    assert counters.used(("requests", "p"), Window.DAY) == 3
    clock.now += 86_400  # a new day: the stale counter restarts from zero
    assert [s.used for s in counters.admit([day]).states] == [1]
