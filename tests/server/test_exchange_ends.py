"""One way to end an exchange: the gateway middleware alone calls ``Exchange.finish`` or
``fail``, once, after the answer has gone out; refusals and streams only say how
(``server/ending.py``)."""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

import behest_local
from behest_local.config import (ProjectConfig, RateLimitConfig, TenantConfig, TierLimits,
                                 TierOverrides)
from behest_local.exchange.events import ExchangeFailed, ExchangeFinished
from behest_local.exchange.exchange import Exchange
from tests.conftest import TEST_SETTINGS, poll_until

CHAT = "/v1/chat/completions"
HELLO = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hello"}]}
APP = "http://localhost:5173"
MIDDLEWARE = "behest_local.server.middleware"
ENDS = (ExchangeFinished, ExchangeFailed)


@pytest.fixture
def enders(monkeypatch) -> list[tuple[str, str]]:
    """(calling module, exchange id) of every ``Exchange.finish``/``fail`` call."""
    calls: list[tuple[str, str]] = []
    for name in ("finish", "fail"):
        def ending(self, *args, _original=getattr(Exchange, name), **kwargs):
            calls.append((sys._getframe(1).f_globals["__name__"], self.id))
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(Exchange, name, ending)
    return calls


def settings(*, plan: str = "pro", enforce: bool = False, **project):
    local = ProjectConfig(name="local", id="local", **project)
    return replace(TEST_SETTINGS, tenant=TenantConfig(plan=plan), projects=(local,),
                   emulator=replace(TEST_SETTINGS.emulator, enforce_limits=enforce))


def preflight(origin: str) -> dict:
    return {"Origin": origin, "Access-Control-Request-Method": "POST"}


@dataclass(frozen=True)
class Refusal:
    settings: object
    calls: tuple[tuple[str, str, dict | None, str | None], ...]
    """(method, path, JSON body, credential: "key", "dash" or None); the last is refused."""
    status: int
    code: str


BAD_KEY = "behest_sk_live_wrong"
REFUSALS = {
    "CORS preflight": Refusal(settings(cors_origins=(APP,)),
                              (("OPTIONS", CHAT, None, "evil"),), 403,
                              "cors_origin_not_allowed"),
    "CORS preflight of the management API": Refusal(
        settings(cors_origins=(APP,)), (("OPTIONS", "/v1/projects/local", None, "app"),),
        403, "cors_origin_not_allowed"),
    "per-IP limit": Refusal(settings(enforce=True, rate_limits=RateLimitConfig(ip_rpm=1)),
                            (("POST", CHAT, HELLO, "bad"), ("POST", CHAT, HELLO, "bad")),
                            429, "rate_limited"),
    "authentication": Refusal(settings(), (("POST", CHAT, HELLO, None),), 401,
                              "invalid_api_key"),
    "Behest route authentication": Refusal(settings(), (("GET", "/v1/threads", None, None),),
                                           401, "invalid_api_key"),
    "caller rate limit": Refusal(settings(enforce=True, rate_limits=RateLimitConfig(rpm=1)),
                                 (("POST", CHAT, HELLO, "key"), ("POST", CHAT, HELLO, "key")),
                                 429, "rate_limited"),
    "caller quota": Refusal(
        settings(enforce=True, rate_limits=RateLimitConfig(default_tier="free"),
                 tiers=TierOverrides(free=TierLimits(requests_per_day=1))),
        (("POST", CHAT, HELLO, "user"), ("POST", CHAT, HELLO, "user")), 402, "quota_exceeded"),
    "management dashboard token": Refusal(settings(), (("GET", "/v1/projects", None, None),),
                                          401, "UNAUTHORIZED"),
    "management plan": Refusal(
        settings(plan="free"),
        (("PUT", "/v1/tenants/local/providers/openai", {"api_key": "sk-x"}, "dash"),),
        403, "BYOAK_REQUIRES_PRO"),
}


def watch(client) -> list[tuple[object, bool]]:
    """(event, whether the exchange's capture was attached yet), in order."""
    seen: list[tuple[object, bool]] = []
    client.gateway.store.subscribe(lambda e, x: seen.append((e, x.capture is not None)))
    return seen


@pytest.mark.parametrize("kind", REFUSALS)
async def test_every_refusal_ends_its_exchange_once_in_the_middleware_after_its_response(
        make_gateway_client, enders, kind):
    refusal = REFUSALS[kind]
    client = await make_gateway_client(refusal.settings)
    credentials = {"key": client.key, "dash": client.dash, None: {},
                   "user": {**client.key, "X-End-User-Id": "ivy"},
                   "bad": {"Authorization": f"Bearer {BAD_KEY}"},
                   "evil": preflight("http://evil.test"), "app": preflight(APP)}
    seen = watch(client)
    for method, path, body, credential in refusal.calls:
        response = await client.request(method, path, json=body,
                                        headers=credentials[credential])
    assert response.status == refusal.status, await response.text()
    rid = response.headers["X-Request-Id"]
    mine = [(event, captured) for event, captured in seen if event.exchange_id == rid]
    ends = [event for event, _ in mine if isinstance(event, ENDS)]
    assert len(ends) == 1 and isinstance(ends[0], ExchangeFailed)
    assert (ends[0].status, ends[0].code) == (refusal.status, refusal.code)
    # Traced last, once its response has gone out (its capture attached before the end).
    assert [type(e).__name__ for e, _ in mine][-2:] == ["ResponseStarted", "ExchangeFailed"]
    assert mine[-1][1] is True
    assert [module for module, xid in enders if xid == rid] == [MIDDLEWARE]


async def test_a_refused_limit_still_carries_its_details_to_the_trace(make_gateway_client):
    client = await make_gateway_client(settings(enforce=True,
                                                rate_limits=RateLimitConfig(rpm=1)))
    seen = watch(client)
    assert (await client.post(CHAT, json=HELLO, headers=client.key)).status == 200
    refused = await client.post(CHAT, json=HELLO, headers=client.key)
    body = await refused.json()
    failed = [e for e, _ in seen if isinstance(e, ExchangeFailed)]
    assert failed[-1].details == body["error"]["details"]
    assert failed[-1].details["limit_name"] and failed[-1].message == body["error"]["message"]


STREAMS = {
    "whole": ("", ExchangeFinished, 200, None, {}),
    "error event": ("error_after=3", ExchangeFailed, 500, None, {"mid_stream": True}),
    "drop": ("drop_after=2", ExchangeFailed, 200, "stream_dropped", {}),
}


@pytest.mark.parametrize("kind", STREAMS)
async def test_every_stream_ends_in_the_middleware_as_its_relay_says(make_gateway_client,
                                                                    enders, kind):
    directives, ended, status, code, details = STREAMS[kind]
    client = await make_gateway_client(settings())
    seen = watch(client)
    headers = {**client.key, "x-behest-emulate": directives} if directives else client.key
    response = await client.post(CHAT, json={**HELLO, "stream": True}, headers=headers)
    assert response.status == 200
    try:
        await response.read()
    except Exception:  # the drop: the client sees a broken stream
        pass
    rid = response.headers["X-Request-Id"]
    await poll_until(lambda: any(isinstance(e, ENDS) and e.exchange_id == rid
                                 for e, _ in seen))
    ends = [e for e, _ in seen if isinstance(e, ENDS) and e.exchange_id == rid]
    assert len(ends) == 1 and isinstance(ends[0], ended) and ends[0].status == status
    if ended is ExchangeFailed:
        assert (ends[0].code, ends[0].details) == (code, details)
    assert [module for module, xid in enders if xid == rid] == [MIDDLEWARE]


async def test_a_stream_cancelled_as_its_client_leaves_is_ended_by_the_middleware(
        make_gateway_client, enders):
    client = await make_gateway_client(settings())
    seen = watch(client)
    response = await client.post(CHAT, json={**HELLO, "stream": True},
                                 headers={**client.key,
                                          "x-behest-emulate": "tokens_per_second=20"})
    rid = response.headers["X-Request-Id"]
    await response.content.readline()  # the stream has begun
    response.close()  # aiohttp cancels the handler: the relay re-raises, leaving its ending
    await poll_until(lambda: any(isinstance(e, ENDS) and e.exchange_id == rid
                                 for e, _ in seen))
    ends = [e for e, _ in seen if isinstance(e, ENDS) and e.exchange_id == rid]
    assert len(ends) == 1 and (ends[0].status, ends[0].code) == (499, "cancelled")
    assert ends[0].cancelled
    assert [module for module, xid in enders if xid == rid] == [MIDDLEWARE]


ENDERS = ("server/middleware.py", "server/routes/responses_runs.py")
"""The modules that end exchanges: the middleware ends every request's, and a background
response's run ends its own exchange, which no request carries."""


def test_only_the_middleware_and_background_runs_call_exchange_finish_or_fail():
    """Every ``.finish(``/``.fail(`` call in the package outside ``ENDERS`` is a stream
    translator's (``dialects``, ``providers``): none ends an exchange."""
    root = Path(behest_local.__file__).parent
    outside: list[str] = []
    for path in sorted(root.rglob("*.py")):
        module = path.relative_to(root).as_posix()
        if module in ENDERS:
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        classes = {node: cls.name for cls in ast.walk(tree) if isinstance(cls, ast.ClassDef)
                   for node in ast.walk(cls)}
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("finish", "fail")):
                continue
            receiver = ast.unparse(node.func.value)
            translator = "translator" in receiver.lower() or (
                receiver == "self" and "Translator" in classes.get(node, ""))
            if not translator:
                outside.append(f"{module}:{node.lineno}: {ast.unparse(node)}")
    assert outside == []
    middleware = ast.unparse(ast.parse((root / "server/middleware.py").read_text()))
    assert "exchange.finish(" in middleware and "exchange.fail(" in middleware
