"""Real SDKs meeting the emulated limits: what their users' code sees on a 429 or a 402.

* openai-python: ``RateLimitError`` for 429; its retry loop obeys ``x-should-retry``
  (peers.md §4c), so a spent quota is asked once while a per-minute limit is retried;
* behest-ai 1.5.0b1: ``BehestRateLimitError.retry_after`` from ``Retry-After``,
  ``BehestQuotaError`` with Behest's details, and ``usage.get`` with a ``datetime``
  (sent with an unescaped ``+``).

The gateway runs on its own thread and loop (the SDKs are synchronous) on a hand-driven
clock, so a minute never rolls over mid-test.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import httpx
import openai
import pytest
from aiohttp import web
from behest import Behest, BehestQuotaError, BehestRateLimitError

from behest_local.config import ProjectConfig, RateLimitConfig, TierLimits, TierOverrides
from behest_local.exchange.events import ExchangeFailed, RequestReceived
from behest_local.identity.api_keys import KeyStore
from behest_local.runtime.build import build_gateway
from behest_local.server.app import make_app
from behest_local.exchange.bus import TraceStore
from tests.conftest import TEST_SETTINGS, Recorder

T0 = datetime(2026, 4, 1, 12, 0, 30, tzinfo=timezone.utc).timestamp()
HI = [{"role": "user", "content": "Hello"}]


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Served:
    """A gateway on a thread: ``url``, ``key``, ``clock``, ``recorder``; ``close()``."""

    def __init__(self, settings, home, clock: Clock) -> None:
        self.clock, self.recorder = clock, Recorder()
        keys = KeyStore(home, scrypt_n=2**4)
        self.gateway = build_gateway(settings, home, keys=keys,
                                     store=TraceStore(wall_clock=clock))
        self.gateway.store.subscribe(self.recorder)
        self.key, _ = keys.create("local")
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        async def boot() -> None:
            self.runner = web.AppRunner(make_app(self.gateway), handle_signals=False)
            await self.runner.setup()
            site = web.TCPSite(self.runner, "127.0.0.1", 0)
            await site.start()
            self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}"
            ready.set()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(boot())
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, name="limits-gateway", daemon=True)
        self.thread.start()
        assert ready.wait(15)

    def attempts(self, path: str = "/v1/chat/completions") -> list[RequestReceived]:
        return [e for e in self.recorder.events
                if isinstance(e, RequestReceived) and e.path == path]

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def serve(tmp_path, monkeypatch):
    for name in ("BEHEST_KEY", "BEHEST_API_KEY", "BEHEST_BASE_URL", "BEHEST_TIER",
                 "BEHEST_USER_ID", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    started: list[Served] = []

    def make(clock: Clock | None = None, **project) -> Served:
        emulator = {"enforce_limits": True, **project.pop("emulator", {})}
        settings = replace(TEST_SETTINGS, projects=(ProjectConfig(name="local", id="local",
                                                                  **project),),
                           emulator=replace(TEST_SETTINGS.emulator, **emulator))
        started.append(Served(settings, tmp_path / f"home{len(started)}", clock or Clock(T0)))
        return started[-1]

    yield make
    for served in started:
        served.close()


@pytest.fixture
def http():
    with httpx.Client(timeout=30) as client:
        yield client


def test_openai_sdk_raises_rate_limit_error_with_the_headers(serve, http):
    gw = serve(rate_limits=RateLimitConfig(rpm=1))
    client = openai.OpenAI(api_key=gw.key, base_url=gw.url + "/v1", max_retries=0,
                           http_client=http)
    client.chat.completions.create(model="gpt-4o", messages=HI)
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model="gpt-4o", messages=HI)
    err = info.value
    assert err.status_code == 429 and err.code == "rate_limited" and err.type == "requests"
    assert err.response.headers["retry-after"] == "30"
    assert err.response.headers["x-ratelimit-remaining-requests"] == "0"
    assert err.request_id == err.response.headers["x-request-id"]


def test_openai_sdk_retries_a_per_minute_limit_but_not_a_spent_quota(serve, http):
    """429 rate_limited says x-should-retry: true and retry-after-ms (50 ms before the
    minute ends on the frozen clock): the SDK tries 1 + max_retries times. A spent daily
    quota says x-should-retry: false: one attempt, whether it is sent as 402 or 429."""
    gw = serve(Clock(T0 + 29.95), rate_limits=RateLimitConfig(rpm=1))
    client = openai.OpenAI(api_key=gw.key, base_url=gw.url + "/v1", max_retries=2,
                           http_client=http)
    client.chat.completions.create(model="gpt-4o", messages=HI)
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="gpt-4o", messages=HI)
    tries = gw.attempts()[1:]
    assert len(tries) == 3
    assert [dict(e.headers).get("x-stainless-retry-count") for e in tries] == ["0", "1", "2"]

    for status, error in ((402, openai.APIStatusError), (429, openai.RateLimitError)):
        quota = serve(tiers=TierOverrides(free=TierLimits(requests_per_day=1)),
                      rate_limits=RateLimitConfig(default_tier="free"),
                      emulator={"quota_status": status})
        sdk = openai.OpenAI(api_key=quota.key, base_url=quota.url + "/v1", max_retries=2,
                            http_client=http, default_headers={"X-End-User-Id": "ivy"})
        sdk.chat.completions.create(model="gpt-4o", messages=HI)
        with pytest.raises(error) as info:
            sdk.chat.completions.create(model="gpt-4o", messages=HI)
        assert info.value.status_code == status
        assert info.value.response.headers["x-should-retry"] == "false"
        assert len(quota.attempts()) == 2, status  # the refused call was sent once


def test_behest_sdk_rate_limit_and_quota_errors(serve, http):
    gw = serve(tiers=TierOverrides(free=TierLimits(rpm=1, requests_per_day=2)))
    behest = Behest(key=gw.key, base_url=gw.url, tier=1, http_client=http)
    behest.chat.completions.create(messages=HI, user_id="jo")
    with pytest.raises(BehestRateLimitError) as limited:
        behest.chat.completions.create(messages=HI, user_id="jo")
    assert limited.value.retry_after == 30 and limited.value.code == "rate_limited"
    assert limited.value.trace_id
    gw.clock.now += 60
    behest.chat.completions.create(messages=HI, user_id="jo")
    gw.clock.now += 60
    with pytest.raises(BehestQuotaError) as quota:
        behest.chat.completions.create(messages=HI, user_id="jo")
    err = quota.value
    assert err.status == 402 and err.code == "quota_exceeded"
    assert err.raw["error"]["details"]["tier"] == "free"
    assert err.raw["error"]["details"]["limit"] == {"requests_per_day": 2}
    # A refusal's end is traced once its response has been written: wait for the last.
    refused = next(x for x in list(gw.gateway.store.recent) if x.trace_id == err.trace_id)
    gw.recorder.wait_end(refused.id)
    failed = [e for e in gw.recorder.events if isinstance(e, ExchangeFailed)]
    assert [e.code for e in failed] == ["rate_limited", "quota_exceeded"]


def test_behest_sdk_usage_with_datetimes_and_an_unescaped_plus(serve, http):
    gw = serve()
    sent: list[httpx.URL] = []
    http.event_hooks["request"] = [lambda request: sent.append(request.url)]
    behest = Behest(key=gw.key, base_url=gw.url, http_client=http)
    for _ in range(2):
        behest.chat.completions.create(messages=HI, user_id="kim", session_id="trip-1")
    start = datetime(2026, 4, 1, tzinfo=timezone.utc)
    report = behest.usage.get(from_=start, to=start + timedelta(days=1), granularity="hour")
    assert b"from=2026-04-01T00:00:00+00:00" in sent[-1].raw_path  # "+" unescaped on the wire
    assert report["window"] == {"from": "2026-04-01T00:00:00Z", "to": "2026-04-02T00:00:00Z"}
    assert report["totals"]["requests"] == 2 and report["totals"]["tokens"] > 0
    assert report["breakdown"][0]["timestamp"] == "2026-04-01T12:00:00Z"
    assert report["by_session"][0]["session_id"] == "trip-1"
    mine = behest.usage.get(user_id="kim")
    assert mine["user_id"] == "kim" and mine["totals"]["requests"] == 2


def test_a_limit_refusal_names_the_limit_its_value_and_the_settings_that_change_it(serve, http):
    """The v1.5 SDK mints every call as user 'default' (reference §2.3): the 7th call of a
    minute meets the default per-user limit, max(3, 60 // 10) = 6. The message says which
    limit, its value, and both ways out, with the real config keys."""
    gw = serve()
    behest = Behest(key=gw.key, base_url=gw.url, http_client=http)
    for _ in range(6):
        behest.chat.completions.create(messages=HI)
    with pytest.raises(BehestRateLimitError) as limited:
        behest.chat.completions.create(messages=HI)
    message = limited.value.raw["error"]["message"]
    assert "Rate limit reached for user 'default' of project 'local' on requests per " \
           "minute: limit 6, used 6." in message
    assert "[projects.rate_limits] user_rpm in behest.toml" in message
    assert "[emulator] enforce_limits = false" in message
    assert "mint every call as user 'default'" in message


def test_a_spent_quota_names_the_tier_setting_in_the_openai_error_shape(serve, http):
    gw = serve(tiers=TierOverrides(free=TierLimits(requests_per_day=1)),
               rate_limits=RateLimitConfig(default_tier="free"))
    client = openai.OpenAI(api_key=gw.key, base_url=gw.url + "/v1", max_retries=0,
                           http_client=http, default_headers={"X-End-User-Id": "ivy"})
    client.chat.completions.create(model="gpt-4o", messages=HI)
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(model="gpt-4o", messages=HI)
    assert info.value.status_code == 402
    message = info.value.body["message"]  # OpenAI's envelope: {"error": {"message", …}}
    assert "daily request limit for tier 'free': limit 1, used 1." in message
    assert "[projects.tiers.free] requests_per_day in behest.toml" in message
    assert "[emulator] enforce_limits = false" in message
    assert "user 'default'" not in message  # a named user: no word about the SDK default


def test_the_emulator_setting_named_in_refusals_exists():
    from behest_local.config.schema import EmulatorConfig, RateLimitConfig as Rates

    assert "enforce_limits" in EmulatorConfig.__dataclass_fields__
    assert {"user_rpm", "rpm", "ip_rpm"} <= set(Rates.__dataclass_fields__)


def test_moderations_spend_the_request_limit_like_any_inference_call(serve, http):
    gw = serve(rate_limits=RateLimitConfig(rpm=1))
    client = openai.OpenAI(api_key=gw.key, base_url=gw.url + "/v1", max_retries=0,
                           http_client=http)
    client.moderations.create(input="hello")
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="gpt-4o", messages=HI)
