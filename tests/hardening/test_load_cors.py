"""Hardening (issue 17, item 8): CORS origin patterns are compiled once per configuration.

With 10,000 projects each allowing its own pattern, every preflight used to recompile the
patterns through a 1,024-entry LRU cache (0.55 s and more per preflight). Now the allowed
origins are indexed once per settings snapshot: a preflight looks up exact origins in a dict
and only the patterns that share the origin's fixed trailing labels, so it costs the same
with ten projects or ten thousand.
"""

from __future__ import annotations

import time

import pytest

from behest_local.config import ProjectConfig
from behest_local.policy.cors import OriginRules, decide, matches
from tests.conftest import with_settings

PROJECTS = 10_000
CHAT = "/v1/chat/completions"
PREFLIGHT_BOUND_S = 0.05  # the target; ~4 s per preflight before the fix


def _slug(i: int) -> str:
    """A distinct slug per project (derived ones collide among ten thousand)."""
    return f"load-{chr(97 + i // 1000)}{chr(97 + i // 100 % 10)}-{i % 1000:03d}"


def _many_projects():
    return with_settings(projects=tuple(
        ProjectConfig(name=f"p{i}", id=f"p{i}", slug=_slug(i),
                      cors_origins=(f"https://app-{i}.example.com", f"https://*.tenant{i}.example.com",
                                    f"http://dev{i}.test:*"))
        for i in range(PROJECTS)))


def _preflight(origin: str) -> dict:
    return {"Origin": origin, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type"}


async def _worst_preflight(client, origin: str, *, host: str | None = None,
                           tries: int = 5) -> tuple[float, int]:
    headers = _preflight(origin) | ({"Host": host} if host else {})
    worst, status = 0.0, 0
    for _ in range(tries):
        started = time.perf_counter()
        resp = await client.options(CHAT, headers=headers)
        worst = max(worst, time.perf_counter() - started)
        status = resp.status
    return worst, status


@pytest.mark.parametrize("origin, allowed", [
    ("https://x.tenant9999.example.com", True),    # a pattern of the last project
    ("https://app-9998.example.com", True),        # an exact origin
    ("http://dev9997.test:5173", True),            # a port pattern
    ("https://evil.example.org", False),           # nobody's
])
async def test_a_preflight_among_ten_thousand_projects_takes_well_under_50_ms(
        make_gateway_client, origin, allowed):
    client = await make_gateway_client(_many_projects())
    await client.options(CHAT, headers=_preflight("https://warm.up"))  # builds the index once
    worst, status = await _worst_preflight(client, origin)
    assert status == (204 if allowed else 403)
    assert worst < PREFLIGHT_BOUND_S, f"worst preflight took {worst * 1000:.0f} ms"


async def test_a_preflight_to_a_slug_host_is_checked_against_that_project_only_and_fast(
        make_gateway_client):
    settings = _many_projects()
    project = settings.projects[4321]
    client = await make_gateway_client(settings)
    host = f"{project.slug}.localhost"
    await client.options(CHAT, headers=_preflight("https://warm.up") | {"Host": host})
    worst, status = await _worst_preflight(client, "https://a.tenant4321.example.com", host=host)
    assert status == 204 and worst < PREFLIGHT_BOUND_S
    # Another project's origin is refused at this project's host.
    _, status = await _worst_preflight(client, "https://a.tenant1.example.com", host=host, tries=1)
    assert status == 403


async def test_a_refusal_among_ten_thousand_projects_names_a_few_origins_and_counts_the_rest(
        make_gateway_client):
    client = await make_gateway_client(_many_projects())
    resp = await client.options(CHAT, headers=_preflight("https://evil.example.org"))
    message = (await resp.json())["error"]["message"]
    assert resp.status == 403 and len(message) < 2_000
    assert "'https://app-0.example.com'" in message and "29,981 more" in message


# The index must decide exactly what matching every entry in order decided.
ENTRIES = ("https://*.vercel.app", "https://app-*.vercel.app", "http://localhost:*", "*",
           "https://exact.example", "https://*.*.deep.example", "http://[::1]:*",
           "chrome-extension://abcdef", "https://*", "https://API.Example.com:8443",
           "https://a-*-z.example.com", "http://*:8080")
ORIGINS = ("https://x.vercel.app", "https://app-1.vercel.app", "https://a.b.vercel.app",
           "http://localhost:5173", "http://localhost", "https://EXACT.example",
           "https://a.b.deep.example", "https://a.deep.example", "http://[::1]:3000",
           "chrome-extension://abcdef", "https://localhost", "https://api.example.com:8443",
           "https://a-mid-z.example.com", "https://a--z.example.com", "http://host:8080",
           "https://x.vercel.app:443", "null", "", "https://x.vercel.app.evil.com")


def _reference(origin: str, entries: list[tuple[str | None, str]]):
    named = [(pid, e) for pid, e in entries if e != "*" and matches(origin, e)]
    if named:
        return named[0]
    return next(((pid, "*") for pid, e in entries if e == "*"), None)


@pytest.mark.parametrize("origin", ORIGINS)
def test_the_index_decides_as_checking_every_entry_in_order(origin):
    projects = tuple(ProjectConfig(name=f"p{i}", id=f"p{i}", cors_origins=ENTRIES[i:] + ENTRIES[:i])
                     for i in range(len(ENTRIES)))
    for count in (1, 3, len(projects)):
        chosen = projects[:count]
        entries = [(p.id, e) for p in chosen for e in p.cors_origins] + [(None, "https://behest.ai")]
        decision = decide(origin, OriginRules(chosen, "https://behest.ai"), scope="test")
        expected = _reference(origin, entries)
        got = (decision.project, decision.matched) if decision.allowed_origin else None
        assert got == expected
