"""Rate limits, quotas and budgets over HTTP: exact counts, 429/402 shapes and headers.

Every gateway here runs on a hand-driven wall clock shared by the trace store, the limiter
and the usage recorder, so windows roll over when a test says so; nothing sleeps."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timezone

import pytest

from behest_local.config import (BudgetConfig, ProjectConfig, RateLimitConfig, TenantConfig,
                                 TierLimits, TierOverrides)
from behest_local.identity.api_keys import KeyStore
from behest_local.runtime.build import build_gateway
from behest_local.server.app import make_app
from behest_local.exchange.bus import TraceStore
from tests.conftest import TEST_SETTINGS, Recorder

CHAT = "/v1/chat/completions"
HELLO = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hello"}]}
T0 = datetime(2026, 4, 1, 12, 0, 0, tzinfo=timezone.utc).timestamp()


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def limited(*, plan: str = "pro", **project) -> object:
    """TEST_SETTINGS with limits enforced and project ``local`` changed by ``project``."""
    emulator = {"enforce_limits": True, **project.pop("emulator", {})}
    local = ProjectConfig(name="local", id="local", **project)
    return replace(TEST_SETTINGS, tenant=TenantConfig(plan=plan), projects=(local,),
                   emulator=replace(TEST_SETTINGS.emulator, **emulator))


@pytest.fixture
def gateway(aiohttp_client, tmp_path):
    """``await gateway(settings, clock=…, home=…)``: a client with ``.key``, ``.clock``,
    ``.recorder`` and ``.mint(user, tier)``; the same home is a restarted gateway."""

    async def make(settings, *, clock: Clock | None = None, home=None):
        clock = clock or Clock(T0 + 30)
        home = home or tmp_path / "home"
        keys = KeyStore(home, scrypt_n=2**4)
        gw = build_gateway(settings, home, keys=keys, store=TraceStore(wall_clock=clock))
        client = await aiohttp_client(make_app(gw))
        key, _ = keys.create("local")
        client.key, client.clock, client.gateway = {"Authorization": f"Bearer {key}"}, clock, gw
        client.recorder = Recorder()
        gw.store.subscribe(client.recorder)

        async def mint(user: str, tier=None, session=None) -> dict:
            body = {"user_id": user, **({"tier": tier} if tier else {}),
                    **({"session_id": session} if session else {})}
            resp = await client.post("/v1/auth/mint", json=body, headers=client.key)
            assert resp.status == 200, await resp.text()
            return {"Authorization": f"Bearer {(await resp.json())['jwt']}"}

        client.mint = mint
        return client

    return make


async def test_a_project_limit_of_n_admits_exactly_n_concurrent_requests(gateway):
    client = await gateway(limited(rate_limits=RateLimitConfig(rpm=5)))
    responses = await asyncio.gather(*(client.post(CHAT, json=HELLO, headers=client.key)
                                       for _ in range(8)))
    assert sorted(r.status for r in responses) == [200] * 5 + [429] * 3


async def test_429_says_when_to_retry_in_every_header_clients_read(gateway):
    client = await gateway(limited(rate_limits=RateLimitConfig(rpm=2)), clock=Clock(T0 + 36.5))
    ok = [await client.post(CHAT, json=HELLO, headers=client.key) for _ in range(2)]
    assert [r.headers["x-ratelimit-remaining-requests"] for r in ok] == ["1", "0"]
    assert ok[0].headers["x-ratelimit-limit-requests"] == "2"
    assert ok[0].headers["x-ratelimit-reset-requests"] == "23s500ms"
    assert "x-ratelimit-limit-tokens" not in ok[0].headers  # no token limit without a user
    refused = await client.post(CHAT, json=HELLO, headers=client.key)
    assert refused.status == 429
    h = refused.headers
    assert h["Retry-After"] == "24" and h["retry-after-ms"] == "23500"
    assert h["x-should-retry"] == "true" and h["x-ratelimit-remaining-requests"] == "0"
    error = (await refused.json())["error"]
    assert {"message", "type", "param", "code", "details"} == set(error)
    assert error["code"] == "rate_limited" and error["type"] == "requests"
    assert error["details"]["limit"] == {"requests_per_minute": 2}
    assert error["details"]["usage"] == {"requests_this_minute": 2}
    assert error["details"]["setting"] == "rate_limits.rpm"
    assert "project 'local'" in error["message"] and "24s" in error["message"]
    client.clock.now = T0 + 60  # the next minute
    assert (await client.post(CHAT, json=HELLO, headers=client.key)).status == 200


async def test_streams_and_401s_carry_the_headers(gateway):
    client = await gateway(limited(rate_limits=RateLimitConfig(rpm=7)))
    stream = await client.post(CHAT, json={**HELLO, "stream": True}, headers=client.key)
    assert stream.headers["Content-Type"].startswith("text/event-stream")
    assert stream.headers["x-ratelimit-remaining-requests"] == "6"
    await stream.read()
    unauthorized = await client.post(CHAT, json=HELLO)
    assert unauthorized.status == 401
    assert unauthorized.headers["x-ratelimit-limit-requests"] == "120"  # the per-IP limit


async def test_per_user_rpm_defaults_to_a_tenth_and_is_skipped_without_a_user(gateway):
    client = await gateway(limited())
    alice = {**client.key, "X-End-User-Id": "alice"}
    statuses = [(await client.post(CHAT, json=HELLO, headers=alice)).status for _ in range(7)]
    assert statuses == [200] * 6 + [429]
    last = await client.post(CHAT, json=HELLO, headers=alice)
    assert last.headers["x-ratelimit-limit-tokens"] == "1000000"  # budgets.user_tokens_per_day
    assert last.headers["x-ratelimit-reset-tokens"] == "11h59m30s"
    assert "limit 6, used 6" in (await last.json())["error"]["message"]
    assert "user 'alice'" in (await last.json())["error"]["message"]
    bob = await client.post(CHAT, json=HELLO, headers={**client.key, "X-End-User-Id": "bob"})
    anonymous = await client.post(CHAT, json=HELLO, headers=client.key)
    assert bob.status == anonymous.status == 200


async def test_a_free_tier_token_meets_its_daily_cap_as_a_402(gateway):
    client = await gateway(limited(tiers=TierOverrides(free=TierLimits(requests_per_day=3))))
    token = await client.mint("carol", tier=1)
    assert [(await client.post(CHAT, json=HELLO, headers=token)).status
            for _ in range(3)] == [200] * 3
    refused = await client.post(CHAT, json=HELLO, headers=token)
    assert refused.status == 402 and refused.headers["x-should-retry"] == "false"
    assert "Retry-After" not in refused.headers
    error = (await refused.json())["error"]
    assert error["code"] == "quota_exceeded"
    assert error["details"]["tier"] == "free"
    assert error["details"]["limit"] == {"requests_per_day": 3}
    assert error["details"]["usage"] == {"requests_today": 3}
    assert error["details"]["resets_at"] == "2026-04-02T00:00:00Z"
    pro = await client.mint("carol-pro", tier=2)
    assert (await client.post(CHAT, json=HELLO, headers=pro)).status == 200


async def test_daily_tokens_refuse_in_the_references_shape_and_survive_a_restart(
        gateway, tmp_path):
    settings = limited(tiers=TierOverrides(free=TierLimits(tokens_per_day=20)))
    client = await gateway(settings)
    token = await client.mint("dave", tier="free")
    first = await client.post(CHAT, json={**HELLO, "max_tokens": 40}, headers=token)
    usage = (await first.json())["usage"]
    used = usage["prompt_tokens"] + usage["completion_tokens"]
    assert used > 20
    refused = await client.post(CHAT, json=HELLO, headers=token)
    body = await refused.json()
    assert refused.status == 402
    assert {"tier": "free", "limit": {"tokens_per_day": 20}, "usage": {"tokens_today": used}} \
        .items() <= body["error"]["details"].items()
    assert body["error"]["message"].startswith("User 'dave' of project 'local' has exceeded "
                                               "the daily token limit for tier 'free'")
    await client.close()  # an orderly shutdown writes what is queued
    restarted = await gateway(settings, clock=client.clock, home=tmp_path / "home")
    again = await restarted.post(CHAT, json=HELLO, headers=await restarted.mint("dave", 1))
    assert again.status == 402


async def test_legacy_budget_status_is_a_429_that_says_do_not_retry(gateway):
    client = await gateway(limited(emulator={"quota_status": 429},
                                   tiers=TierOverrides(free=TierLimits(requests_per_day=1))))
    token = await client.mint("erin", tier=1)
    assert (await client.post(CHAT, json=HELLO, headers=token)).status == 200
    refused = await client.post(CHAT, json=HELLO, headers=token)
    assert refused.status == 429 and refused.headers["x-should-retry"] == "false"
    assert refused.headers["Retry-After"] == str(12 * 3600 - 30)  # 12:00:30 → midnight UTC
    assert (await refused.json())["error"]["code"] == "budget_exceeded"


async def test_the_free_plan_puts_api_key_users_on_the_free_tier(gateway):
    client = await gateway(limited(plan="free"))
    frank = {**client.key, "X-End-User-Id": "frank"}
    statuses = [(await client.post(CHAT, json=HELLO, headers=frank)).status for _ in range(11)]
    assert statuses == [200] * 10 + [429]
    last = await client.post(CHAT, json=HELLO, headers=frank)
    assert (await last.json())["error"]["details"]["tier"] == "free"


async def test_default_tier_and_use_tiers_switch_between_the_references_limits(gateway):
    keyed = await gateway(limited(rate_limits=RateLimitConfig(default_tier="free")))
    gina = {**keyed.key, "X-End-User-Id": "gina"}
    assert [(await keyed.post(CHAT, json=HELLO, headers=gina)).status
            for _ in range(11)][-1] == 429  # the free tier's 10 RPM, not the default 6
    off = await gateway(limited(rate_limits=RateLimitConfig(use_tiers=False)),
                        clock=Clock(T0 + 90))
    token = await off.mint("hank", tier=3)  # max tier, but tiers are off: 6 RPM
    assert [(await off.post(CHAT, json=HELLO, headers=token)).status
            for _ in range(7)][-1] == 429


async def test_the_ip_limit_comes_before_authentication(gateway):
    client = await gateway(limited(rate_limits=RateLimitConfig(ip_rpm=3)))
    bad = {"Authorization": "Bearer behest_sk_live_wrong"}
    statuses = [(await client.post(CHAT, json=HELLO, headers=bad)).status for _ in range(3)]
    assert statuses == [401] * 3
    refused = await client.post(CHAT, json=HELLO, headers=bad)
    assert refused.status == 429
    assert "IP 127.0.0.1" in (await refused.json())["error"]["message"]
    mint = await client.post("/v1/auth/mint", json={"user_id": "x"}, headers=client.key)
    body = await mint.json()
    assert mint.status == 429 and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == "rate_limited"


async def test_not_enforcing_counts_and_reports_but_never_refuses(gateway):
    settings = limited(rate_limits=RateLimitConfig(rpm=1), emulator={"enforce_limits": False})
    client = await gateway(settings)
    responses = [await client.post(CHAT, json=HELLO, headers=client.key) for _ in range(3)]
    assert [r.status for r in responses] == [200] * 3
    assert responses[-1].headers["x-ratelimit-remaining-requests"] == "0"


async def test_session_and_dollar_budgets(gateway):
    client = await gateway(limited(budgets=BudgetConfig(session_tokens=1,
                                                        project_cost_usd_per_month=0.001)))
    s1 = {**client.key, "X-Session-Id": "s1"}
    assert (await client.post(CHAT, json=HELLO, headers=s1)).status == 200
    refused = await client.post(CHAT, json=HELLO, headers=s1)
    error = (await refused.json())["error"]
    assert refused.status == 402 and error["details"]["limit_name"] == "session_tokens"
    assert error["details"]["resets_at"] is None
    s2 = {**client.key, "X-Session-Id": "s2"}
    for _ in range(40):  # gpt-4o at $2.50/$10 per million: a few requests pass $0.001
        resp = await client.post(CHAT, json=HELLO, headers=s2)
        if resp.status != 200:
            break
        s2 = {**client.key, "X-Session-Id": f"s{resp.headers['X-Request-Id']}"}
    error = (await resp.json())["error"]
    assert resp.status == 402 and error["details"]["limit_name"] == "project_cost_usd_per_month"
    assert "$0.0010" in error["message"]


async def test_rpm_gauges_show_each_project_and_its_busiest_users(make_gateway_client):
    """What the TUI header draws: requests this minute against the project's and users' RPM."""
    from behest_local.server.admission.limits import COUNTERS, rpm_gauges

    client = await make_gateway_client()
    # Windows are calendar minutes: a fixed clock keeps all three requests in one of them.
    client.app[COUNTERS].clock = lambda: 1_767_225_630.0
    for user in ("ann", "ann", "bob"):
        resp = await client.post("/v1/chat/completions", headers={
            **client.key, "X-End-User-Id": user}, json={
            "messages": [{"role": "user", "content": "Hi"}]})
        assert resp.status == 200
    gauges = {label: (used, limit) for label, used, limit in rpm_gauges(client.app)}
    assert gauges["local rpm"][0] == 3
    assert gauges["local/ann"][0] == 2 and gauges["local/bob"][0] == 1
