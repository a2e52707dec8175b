"""The admin kill-switch API over HTTP (in-process): its secret, and what a kill does to every
route family, each in its own error shape; a provider kill against a fake upstream."""

from __future__ import annotations

import json
from dataclasses import replace
from types import MappingProxyType

from behest_local.config import ProviderConfig
from behest_local.exchange.events import ExchangeFailed, KillSwitchChanged
from behest_local.fakes import openai as fake_openai
from behest_local.fakes.base import STATE
from behest_local.policy.kill_switches import KILL_FILE
from behest_local.vault.store import Vault
from tests.conftest import TEST_SETTINGS

CHAT = "/v1/chat/completions"
HI = {"messages": [{"role": "user", "content": "Hi"}]}
OPENAI_KEY = "sk-proj-" + "a1b2c3d4" * 6 + "WXYZ"


async def admin_client(make_gateway_client, settings=TEST_SETTINGS, **kwargs):
    client = await make_gateway_client(settings, **kwargs)
    client.admin = {"X-Admin-Secret": client.gateway.admin.create(rotate=True).reveal()}
    return client


async def kill(client, path="/v1/admin/projects/local/kill", **body):
    resp = await client.post(path, json=body or None, headers=client.admin)
    return resp.status, await resp.json()


async def test_the_admin_api_answers_only_to_its_secret(make_gateway_client):
    client = await make_gateway_client()
    # No secret configured yet: a guess gets the same answer as a wrong one.
    unset = await client.get("/v1/admin/kill-switches", headers={"X-Admin-Secret": "guess"})
    client.admin = {"X-Admin-Secret": client.gateway.admin.create().reveal()}
    wrong = await client.get("/v1/admin/kill-switches", headers={"X-Admin-Secret": "guess"})
    assert unset.status == wrong.status == 403
    assert await unset.json() == await wrong.json()
    assert (await wrong.json())["code"] == "FORBIDDEN"
    assert "behest-local admin-secret" in (await wrong.json())["error"]
    missing = await client.get("/v1/admin/kill-switches")
    assert missing.status == 401 and (await missing.json())["code"] == "UNAUTHORIZED"
    # The dashboard token is another credential: not the admin's.
    dash = await client.get("/v1/admin/kill-switches", headers=client.dash)
    assert dash.status == 401
    good = await client.get("/v1/admin/kill-switches", headers=client.admin)
    assert good.status == 200
    assert await good.json() == {"projects": [], "providers": [], "state_error": None}


async def test_a_killed_project_is_refused_on_every_route_family_in_its_shape(
        make_gateway_client):
    client = await admin_client(make_gateway_client)
    mint_key = client.key["Authorization"].split()[1]
    status, body = await kill(client, reason="runaway  loop")
    assert status == 200 and body["status"] == "killed" and body["reason"] == "runaway loop"

    chat = await client.post(CHAT, json=HI, headers=client.key)
    error = (await chat.json())["error"]
    assert chat.status == 403 and error["code"] == "forbidden"
    assert "stopped by an admin kill switch (reason: runaway loop)" in error["message"]
    messages = await client.post("/v1/messages", headers={"x-api-key": mint_key}, json={
        "model": "claude-sonnet-4-6", "max_tokens": 16, **HI})
    anthropic = await messages.json()
    assert messages.status == 403 and anthropic["type"] == "error"
    assert anthropic["error"]["type"] == "permission_error"
    for path in ("/v1/threads", "/v1/usage"):
        resp = await client.get(path, headers=client.key)
        assert resp.status == 403, path
        assert (await resp.json())["error"]["code"] == "forbidden", path
    mint = await client.post("/v1/auth/mint", json={"user_id": "u1"}, headers=client.key)
    assert mint.status == 403 and (await mint.json())["error"]["code"] == "forbidden"
    legacy = await client.post("/auth/v1/auth/mint", json={"user_id": "u1"},
                               headers=client.key)
    assert legacy.status == 403 and (await legacy.json())["code"] == "FORBIDDEN"

    listed = await (await client.get("/v1/admin/kill-switches", headers=client.admin)).json()
    assert [p["project_id"] for p in listed["projects"]] == ["local"]
    assert listed["projects"][0]["by"] == "admin API"
    revived = await client.post("/v1/admin/projects/local/revive", headers=client.admin)
    assert revived.status == 200 and (await revived.json())["status"] == "active"
    assert (await client.post(CHAT, json=HI, headers=client.key)).status == 200
    assert (await client.post("/v1/auth/mint", json={"user_id": "u1"},
                              headers=client.key)).status == 200


async def test_a_kill_and_the_refusals_it_causes_are_on_the_bus(make_gateway_client):
    client = await admin_client(make_gateway_client)
    changes: list = []
    client.gateway.live.subscribe(changes.append)
    failed: list[ExchangeFailed] = []
    client.gateway.store.subscribe(lambda e, x: failed.append(e), events=(ExchangeFailed,))
    await kill(client, reason="abuse")
    resp = await client.post(CHAT, json=HI, headers=client.key)
    await client.post("/v1/admin/projects/local/revive", headers=client.admin)
    assert [(c.kind, c.target, c.killed, c.reason) for c in changes
            if isinstance(c, KillSwitchChanged)] == [("project", "local", True, "abuse"),
                                                      ("project", "local", False, None)]
    refused = next(e for e in failed if e.exchange_id == resp.headers["X-Request-Id"])
    assert refused.status == 403 and refused.code == "forbidden"


async def test_unknown_projects_tenants_and_providers_are_named(make_gateway_client):
    client = await admin_client(make_gateway_client)
    status, body = await kill(client, "/v1/admin/projects/nope/kill")
    assert status == 404 and body["code"] == "PROJECT_NOT_FOUND"
    status, body = await kill(client, "/v1/admin/tenants/other/providers/openai/kill")
    assert status == 404 and body["code"] == "TENANT_NOT_FOUND"
    status, body = await kill(client, "/v1/admin/tenants/local/providers/emulated/kill")
    assert status == 400 and body["code"] == "INVALID_PROVIDER"
    # A typo would kill nothing while saying it had: refused, with the closest name.
    status, body = await kill(client, "/v1/admin/tenants/local/providers/opnai/kill")
    assert status == 404 and body["code"] == "PROVIDER_NOT_FOUND"
    assert "did you mean 'openai'?" in body["error"]
    resp = await client.post("/v1/admin/projects/local/kill", data="reason", headers={
        **client.admin, "Content-Type": "application/json"})
    assert resp.status == 400
    assert (await client.post(CHAT, json=HI, headers=client.key)).status == 200


async def test_a_killed_provider_refuses_only_what_routes_to_it(make_gateway_client,
                                                                aiohttp_server, tmp_path):
    upstream = await aiohttp_server(fake_openai.make_app(key=OPENAI_KEY))
    home = tmp_path / "byok-home"
    Vault.open(home, scrypt_n=2**4).set("openai", OPENAI_KEY)
    settings = replace(TEST_SETTINGS, providers=MappingProxyType({
        "openai": ProviderConfig(base_url=str(upstream.make_url("/v1")))}))
    client = await admin_client(make_gateway_client, settings, home=home)
    status, body = await kill(client, "/v1/admin/tenants/local/providers/OpenAI/kill",
                              reason="leaked key")
    assert status == 200 and body["provider"] == "openai"
    seen = len(upstream.app[STATE].requests)

    resp = await client.post(CHAT, json={**HI, "model": "gpt-4o-mini"}, headers=client.key)
    error = (await resp.json())["error"]
    assert resp.status == 403 and error["code"] == "forbidden"
    assert "The openai provider of tenant 'local' was stopped" in error["message"]
    embed = await client.post("/v1/embeddings", json={"model": "text-embedding-3-small",
                                                      "input": "hi"}, headers=client.key)
    assert embed.status == 403
    assert len(upstream.app[STATE].requests) == seen  # nothing reached the provider
    # Other providers' models and the platform's default are served.
    for model in ("claude-sonnet-4-6", "gemini-2.5-flash"):
        resp = await client.post(CHAT, json={**HI, "model": model}, headers=client.key)
        assert resp.status == 200, model

    await client.post("/v1/admin/tenants/local/providers/openai/revive", headers=client.admin)
    resp = await client.post(CHAT, json={**HI, "model": "gpt-4o-mini"}, headers=client.key)
    assert resp.status == 200 and len(upstream.app[STATE].requests) == seen + 1


async def test_a_kill_survives_a_restart(make_gateway_client, tmp_path):
    home = tmp_path / "restart-home"
    first = await admin_client(make_gateway_client, home=home)
    await kill(first)
    second = await make_gateway_client(home=home)
    assert (await second.post(CHAT, json=HI, headers=second.key)).status == 403


async def test_a_state_file_damaged_while_running_keeps_the_last_state_and_is_reported(
        make_gateway_client, tmp_path):
    home = tmp_path / "damaged-home"
    client = await admin_client(make_gateway_client, home=home)
    await kill(client)
    (home / KILL_FILE).write_text("{not json")
    client.gateway.kills.refresh()
    assert (await client.post(CHAT, json=HI, headers=client.key)).status == 403
    listed = await (await client.get("/v1/admin/kill-switches", headers=client.admin)).json()
    assert KILL_FILE in listed["state_error"] and "damaged" in listed["state_error"]
    resp = await client.post("/v1/admin/projects/local/revive", headers=client.admin)
    assert resp.status == 503 and (await resp.json())["code"] == "KILL_SWITCHES_DAMAGED"
    assert (home / KILL_FILE).read_text() == "{not json"  # never silently replaced
    secret = client.admin["X-Admin-Secret"]
    assert all(secret not in p.read_text(errors="replace") for p in home.rglob("*")
               if p.is_file()), "the admin secret reached a state file"
    assert secret not in json.dumps(listed)
