"""CORS per project: preflights before auth, headers on errors and streams, refusals traced.

Rules under test come from the Fetch standard (§3.2 CORS protocol, §4.8 preflight) and the
reference (behest-api.md §5.1; migration guide "CORS errors when calling from the
browser")."""

from __future__ import annotations

import logging
from dataclasses import replace

from hypothesis import given, strategies as st

from behest_local.config import EmulatorConfig, ProjectConfig
from behest_local.policy.cors import EXPOSE_HEADERS, MAX_AGE, matches
from behest_local.exchange.events import CorsRefused
from tests.conftest import TEST_SETTINGS, Recorder, with_settings

CHAT = "/v1/chat/completions"
HELLO = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hello"}]}
APP = "http://localhost:5173"


def settings_with(*origins: str, **emulator):
    local = ProjectConfig(name="local", id="local", cors_origins=origins)
    other = ProjectConfig(name="other", id="other", cors_origins=("https://other.example",))
    return with_settings(projects=(local, other),
                         emulator=replace(TEST_SETTINGS.emulator, **emulator))


def preflight_headers(origin: str, method: str = "POST",
                      headers: str = "authorization, content-type") -> dict:
    return {"Origin": origin, "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": headers}


async def client_for(make_gateway_client, settings):
    client = await make_gateway_client(settings)
    client.recorder = Recorder()
    client.gateway.store.subscribe(client.recorder)
    return client


def refusals(client) -> list[CorsRefused]:
    return [e for e in client.recorder.events if isinstance(e, CorsRefused)]


async def test_preflight_is_answered_without_auth_and_allows_what_clients_send(
        make_gateway_client):
    client = await client_for(make_gateway_client, settings_with(APP))
    sent = "authorization, content-type, x-session-id, x-thread-id, x-end-user-id, " \
           "x-stainless-os, x-stainless-retry-count, openai-beta"
    resp = await client.options(CHAT, headers=preflight_headers(APP, headers=sent))
    assert resp.status == 204
    h = resp.headers
    assert h["Access-Control-Allow-Origin"] == APP
    assert h["Access-Control-Allow-Credentials"] == "true"
    assert "POST" in h["Access-Control-Allow-Methods"]
    assert {n.strip() for n in h["Access-Control-Allow-Headers"].split(",")} == \
        {n.strip() for n in sent.split(",")}
    assert h["Access-Control-Max-Age"] == str(MAX_AGE)
    assert "Origin" in h["Vary"]
    assert not refusals(client)


async def test_a_refused_origin_is_blocked_traced_and_logged_with_the_fix(
        make_gateway_client, caplog):
    client = await client_for(make_gateway_client, settings_with(APP))
    with caplog.at_level(logging.WARNING, logger="behest_local.cors"):
        resp = await client.options(CHAT, headers=preflight_headers("http://evil.test:8080"))
    assert resp.status == 403
    assert "Access-Control-Allow-Origin" not in resp.headers
    assert (await resp.json())["error"]["code"] == "cors_origin_not_allowed"
    [event] = refusals(client)
    assert event.origin == "http://evil.test:8080" and event.preflight
    assert APP in event.allowed and "https://other.example" in event.allowed
    assert "cors_origins" in event.reason and "http://evil.test:8080" in event.reason
    assert "http://evil.test:8080" in caplog.text


async def test_the_actual_response_is_held_to_the_callers_own_project(make_gateway_client):
    """Without a slug host the preflight passes on any project's list; the response to the
    authenticated request then carries CORS headers only for the key's own project."""
    client = await client_for(make_gateway_client, settings_with(APP))
    other = "https://other.example"
    assert (await client.options(CHAT, headers=preflight_headers(other))).status == 204
    resp = await client.post(CHAT, json=HELLO, headers={**client.key, "Origin": other})
    assert resp.status == 200
    assert "Access-Control-Allow-Origin" not in resp.headers
    [event] = refusals(client)
    assert event.project == "local" and not event.preflight
    assert "project 'local'" in event.reason and "/v1/projects/local/settings" in event.reason


async def test_a_slug_host_checks_only_that_projects_list(make_gateway_client):
    client = await client_for(make_gateway_client, settings_with(APP))
    slug = client.gateway.settings.project("local").slug
    headers = {**preflight_headers("https://other.example"), "Host": f"{slug}.localhost"}
    resp = await client.options(CHAT, headers=headers)
    assert resp.status == 403 and refusals(client)[0].project == "local"


async def test_errors_and_streams_carry_cors_headers(make_gateway_client):
    client = await client_for(make_gateway_client, settings_with(APP))
    unauthorized = await client.post(CHAT, json=HELLO, headers={"Origin": APP})
    assert unauthorized.status == 401
    assert unauthorized.headers["Access-Control-Allow-Origin"] == APP
    exposed = {h.strip().lower() for h in
               unauthorized.headers["Access-Control-Expose-Headers"].split(",")}
    assert {h.lower() for h in EXPOSE_HEADERS} <= exposed
    assert {"retry-after", "retry-after-ms", "x-request-id", "x-trace-id",
            "x-ratelimit-remaining-requests", "x-ratelimit-reset-tokens"} <= exposed
    stream = await client.post(CHAT, json={**HELLO, "stream": True},
                               headers={**client.key, "Origin": APP})
    assert stream.headers["Content-Type"].startswith("text/event-stream")
    assert stream.headers["Access-Control-Allow-Origin"] == APP
    assert stream.headers["Timing-Allow-Origin"] == APP
    assert b"[DONE]" in await stream.read()


async def test_wildcards_extensions_and_star(make_gateway_client):
    ext = "chrome-extension://abcdefghijklmnopabcdefghijklmnop"
    client = await client_for(make_gateway_client,
                              settings_with("https://*.vercel.app", ext, "http://localhost:*"))
    for origin, ok in (("https://my-app-git-main.vercel.app", True), (ext, True),
                       ("http://localhost:3000", True), ("https://vercel.app", False),
                       ("https://a.b.vercel.app", False), ("http://vercel.app.evil.test", False),
                       ("chrome-extension://zzzz", False), ("http://localhost", False)):
        resp = await client.options(CHAT, headers=preflight_headers(origin))
        assert (resp.status == 204) is ok, origin
    star = await client_for(make_gateway_client, settings_with("*"))
    resp = await star.options(CHAT, headers=preflight_headers("https://anything.test"))
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in resp.headers  # never with "*"
    actual = await star.get("/v1/models", headers={**star.key, "Origin": "https://x.test"})
    assert actual.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in actual.headers


async def test_a_new_project_allows_only_the_configurable_dashboard_origin(make_gateway_client):
    client = await client_for(make_gateway_client, settings_with())
    assert (await client.options(CHAT, headers=preflight_headers("https://behest.ai"))).status \
        == 204
    assert (await client.options(CHAT, headers=preflight_headers(APP))).status == 403
    custom = await client_for(make_gateway_client,
                              settings_with(dashboard_origin="http://127.0.0.1:9000"))
    assert (await custom.options(CHAT, headers=preflight_headers(
        "http://127.0.0.1:9000"))).status == 204
    assert (await custom.options(CHAT, headers=preflight_headers(
        "https://behest.ai"))).status == 403


async def test_the_guides_cors_command_allows_an_origin(make_gateway_client):
    """Migration guide: PUT /v1/projects/$PROJECT_ID/settings {"cors_origins": [...]}, then
    deploy; the origin works at once."""
    client = await client_for(make_gateway_client, settings_with())
    assert (await client.options(CHAT, headers=preflight_headers(APP))).status == 403
    put = await client.put("/v1/projects/local/settings", headers=client.dash,
                           json={"cors_origins": [APP, "https://staging.your-app.com"]})
    assert put.status == 200, await put.text()
    deploy = await client.post("/v1/projects/local/settings/deploy", headers=client.dash)
    assert deploy.status == 200, await deploy.text()
    resp = await client.options(CHAT, headers=preflight_headers(APP))
    assert resp.status == 204 and resp.headers["Access-Control-Allow-Origin"] == APP


async def test_management_api_allows_the_dashboard_only(make_gateway_client):
    client = await client_for(make_gateway_client, settings_with(APP))
    dash = await client.options("/v1/projects", headers=preflight_headers("https://behest.ai"))
    assert dash.status == 204
    app = await client.options("/v1/projects/local/settings", headers=preflight_headers(APP))
    assert app.status == 403 and (await app.json())["code"] == "CORS_ORIGIN_NOT_ALLOWED"


async def test_refused_methods_and_headers_name_the_culprit(make_gateway_client):
    client = await client_for(make_gateway_client, settings_with(APP))
    resp = await client.options(CHAT, headers=preflight_headers(APP, headers="x-secret-thing"))
    assert resp.status == 403 and "x-secret-thing" in (await resp.json())["error"]["message"]
    resp = await client.options(CHAT, headers=preflight_headers(APP, method="PATCH"))
    assert resp.status == 403 and "PATCH" in refusals(client)[-1].reason


async def test_behest_routes_refuse_in_behests_shape(make_gateway_client):
    client = await client_for(make_gateway_client, settings_with(APP))
    resp = await client.options("/v1/threads", headers=preflight_headers("http://evil.test"))
    body = await resp.json()
    assert resp.status == 403 and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == "forbidden"


async def test_same_origin_private_network_and_non_cors_routes(make_gateway_client):
    client = await client_for(make_gateway_client, settings_with(APP))
    own = f"http://{client.host}:{client.port}"
    resp = await client.post(CHAT, json=HELLO, headers={**client.key, "Origin": own})
    assert resp.status == 200 and "Access-Control-Allow-Origin" not in resp.headers
    health = await client.get("/healthz", headers={"Origin": APP})
    assert "Access-Control-Allow-Origin" not in health.headers and "Vary" not in health.headers
    pna = await client.options(CHAT, headers={**preflight_headers("https://behest.ai"),
                                              "Access-Control-Request-Private-Network": "true"})
    assert pna.headers["Access-Control-Allow-Private-Network"] == "true"
    assert not refusals(client)


@given(st.from_regex(r"[a-z0-9-]{1,12}", fullmatch=True),
       st.sampled_from(["https://evil.test/", ".evil.test", "x.", "@evil.test", ":443.evil"]))
def test_a_wildcard_never_escapes_its_label(label, tail):
    pattern = "https://*.vercel.app"
    assert matches(f"https://{label}.vercel.app", pattern)
    assert matches(f"HTTPS://{label.upper()}.VERCEL.APP", pattern)  # origins are case-blind
    assert not matches(f"https://{label}.vercel.app{tail}", pattern)
    assert not matches(f"https://{label}{tail}.vercel.app", pattern)


def test_emulator_defaults():
    assert EmulatorConfig().dashboard_origin == "https://behest.ai"
    assert EmulatorConfig().enforce_limits and EmulatorConfig().quota_status == 402
