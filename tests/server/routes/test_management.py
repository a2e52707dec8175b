"""Behest's management API on localhost: the migration guide's steps, as HTTP calls in order."""

from __future__ import annotations

import asyncio
import json
import os
import shutil

import pytest

from dataclasses import replace
from types import MappingProxyType

from behest_local.config import EmulatorConfig, ProviderConfig, TenantConfig
from behest_local.fakes import openai as fake_openai
from behest_local.fakes.base import STATE
from behest_local.exchange.events import ConfigReloaded, Routed
from tests.conftest import with_settings

CHAT = "/v1/chat/completions"
HI = {"messages": [{"role": "user", "content": "Hi"}]}
OPENAI_KEY = "sk-proj-" + "a1b2c3d4" * 6 + "WXYZ"
STRICT = with_settings(emulator=EmulatorConfig(emulate_unconfigured=False))


async def chat(client, **body):
    resp = await client.post(CHAT, json={**HI, **body}, headers=client.key)
    return resp.status, await resp.json()


async def test_the_guides_byok_steps_in_order(make_gateway_client, aiohttp_server):
    # Once the key is saved, gpt-4o goes to OpenAI itself: here a fake of it on loopback.
    upstream = await aiohttp_server(fake_openai.make_app(key=OPENAI_KEY))
    client = await make_gateway_client(replace(STRICT, providers=MappingProxyType({
        "openai": ProviderConfig(base_url=str(upstream.make_url("/v1")))})))
    routed: list[Routed] = []
    client.gateway.store.subscribe(lambda e, x: routed.append(e) if isinstance(e, Routed) else None)
    # Before: the guide's "Model not found after switching" gotcha, in OpenAI's shape.
    status, body = await chat(client, model="gpt-4o")
    assert status == 422 and body == {"error": {
        "message": "Configure your openai API key in Provider Settings to use gpt-4o",
        "type": "invalid_request_error", "param": "model", "code": "PROVIDER_NOT_CONFIGURED"}}

    # 1. Save a provider key for your tenant.
    resp = await client.put("/v1/tenants/local/providers/openai", json={"api_key": OPENAI_KEY},
                            headers=client.dash)
    saved = await resp.json()
    assert resp.status == 200 and saved["key_last4"] == "WXYZ" and saved["provider"] == "openai"
    assert OPENAI_KEY not in json.dumps(saved)
    # 2. Update your project to use GPT-4o: a draft, not live yet.
    resp = await client.put("/v1/projects/local/settings", json={"provider_model": "gpt-4o"},
                            headers=client.dash)
    assert resp.status == 200 and (await resp.json())["draft"] == {"provider_model": "gpt-4o"}
    assert (await chat(client))[1]["model"] == "gemini-2.5-flash"
    # 3. Deploy to activate.
    resp = await client.post("/v1/projects/local/settings/deploy", headers=client.dash)
    deployed = await resp.json()
    assert resp.status == 200 and deployed["status"] == "deployed"
    assert deployed["settings"]["provider_model"] == "gpt-4o"

    assert (await chat(client))[1]["model"] == "gpt-4o"
    status, body = await chat(client, model="claude-sonnet-4-20250514")
    assert status == 200 and body["model"] == "gpt-4o"  # another provider's model is ignored
    assert "ignored" in routed[-1].reason and "openai key from the vault" in routed[-1].reason
    assert routed[-1].provider == "openai" and upstream.app[STATE].requests[-1].auth_ok
    assert (await chat(client, model="gpt-4o-mini"))[1]["model"] == "gpt-4o-mini"
    # The key is sealed in the vault; nothing in the state dir holds it in plaintext.
    for path in client.gateway.home.rglob("*"):  # databases included (data/)
        if path.is_file():
            assert OPENAI_KEY.encode() not in path.read_bytes(), path


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs the curl binary")
async def test_the_guides_curl_blocks_run_verbatim(make_gateway_client):
    """The guide's "Via the API" and CORS blocks, character for character except the host."""
    client = await make_gateway_client()
    base = str(client.make_url("")).rstrip("/")
    script = GUIDE_CURLS.replace("https://api.behest.app", base)
    env = {**os.environ, "TENANT_ID": "local", "PROJECT_ID": "local",
           "DASHBOARD_JWT": client.dash["Authorization"].split()[1]}
    proc = await asyncio.create_subprocess_exec("bash", "-c", script, env=env,
                                                stdout=asyncio.subprocess.PIPE)
    out, _ = await asyncio.wait_for(proc.communicate(), 30)
    replies = [json.loads(line) for line in out.decode().splitlines() if line.strip()]
    assert [r.get("status") for r in replies] == [None, "draft", "deployed", "draft", "deployed"]
    assert replies[0]["provider"] == "openai"
    project = client.gateway.settings.project("local")
    assert project.provider_model == "gpt-4o"
    assert project.cors_origins == ("https://your-app.com", "https://staging.your-app.com")


GUIDE_CURLS = r'''
# Save a provider key for your tenant
curl -X PUT https://api.behest.app/v1/tenants/$TENANT_ID/providers/openai \
  -H "Authorization: Bearer $DASHBOARD_JWT" \
  -H "Content-Type: application/json" \
  -d '{"api_key": "sk-..."}'
echo
# Update your project to use GPT-4o
curl -X PUT https://api.behest.app/v1/projects/$PROJECT_ID/settings \
  -H "Authorization: Bearer $DASHBOARD_JWT" \
  -H "Content-Type: application/json" \
  -d '{"provider_model": "gpt-4o"}'
echo
# Deploy to activate
curl -X POST https://api.behest.app/v1/projects/$PROJECT_ID/settings/deploy \
  -H "Authorization: Bearer $DASHBOARD_JWT"
echo
curl -X PUT https://api.behest.app/v1/projects/$PROJECT_ID/settings \
  -H "Authorization: Bearer $DASHBOARD_JWT" \
  -H "Content-Type: application/json" \
  -d '{"cors_origins": ["https://your-app.com", "https://staging.your-app.com"]}'
echo
curl -X POST https://api.behest.app/v1/projects/$PROJECT_ID/settings/deploy \
  -H "Authorization: Bearer $DASHBOARD_JWT"
'''


async def test_only_the_dashboard_token_opens_the_management_api(make_gateway_client):
    client = await make_gateway_client()
    for headers, fragment in (({}, "Missing dashboard token"),
                              (client.key, "A project API key cannot call the management API"),
                              ({"Authorization": "Bearer behest_dash_wrong"}, "Invalid dashboard")):
        resp = await client.get("/v1/projects", headers=headers)
        body = await resp.json()
        assert resp.status == 401 and body["code"] == "UNAUTHORIZED", body
        assert fragment in body["error"] and "behest-local dashboard-token" in body["error"]
    # and the dashboard token is no data-plane key
    resp = await client.post(CHAT, json=HI, headers=client.dash)
    assert resp.status == 401 and (await resp.json())["error"]["code"] == "invalid_api_key"
    # a new token replaces the old one at once
    old = client.dash
    client.gateway.dashboard.create()
    assert (await client.get("/v1/projects", headers=old)).status == 401


@pytest.mark.parametrize("method, path, body, status, code", [
    ("POST", "/v1/projects/local/settings/deploy", None, 409, "NO_DRAFT"),
    ("DELETE", "/v1/projects/local/settings/draft", None, 409, "NO_DRAFT"),
    ("GET", "/v1/projects/nope/settings", None, 404, "PROJECT_NOT_FOUND"),
    ("PUT", "/v1/tenants/other/providers/openai", {"api_key": "sk-x"}, 404, "TENANT_NOT_FOUND"),
    ("GET", "/v1/tenants/local/providers/openai", None, 404, "PROVIDER_NOT_CONFIGURED"),
    ("PUT", "/v1/tenants/local/providers/openai", {"api_key": "AIza" + "x" * 35}, 400,
     "INVALID_API_KEY_FORMAT"),
    ("PUT", "/v1/tenants/local/providers/openai", {"key": "sk-x"}, 400, "VALIDATION_ERROR"),
    ("PUT", "/v1/projects/local/settings", {"provider_modle": "gpt-4o"}, 400, "VALIDATION_ERROR"),
    ("PUT", "/v1/projects/local/settings", {"cors_origins": ["https://a.com/"]}, 400,
     "VALIDATION_ERROR"),
    ("PUT", "/v1/projects/local/settings", {"provider_model": "llama3"}, 422, "MODEL_NOT_FOUND"),
    ("DELETE", "/v1/projects", None, 405, "METHOD_NOT_ALLOWED"),
    ("GET", "/v1/projects/local/nothing", None, 404, "NOT_FOUND"),
])
async def test_errors_use_behests_flat_shape(make_gateway_client, method, path, body, status,
                                             code):
    client = await make_gateway_client()
    resp = await client.request(method, path, json=body, headers=client.dash)
    payload = await resp.json()
    assert resp.status == status and payload["code"] == code, payload
    assert isinstance(payload["error"], str) and payload["error"]


async def test_validation_messages_say_what_was_expected(make_gateway_client):
    client = await make_gateway_client()
    resp = await client.put("/v1/projects/local/settings", json={"provider_modle": "x"},
                            headers=client.dash)
    assert "did you mean 'provider_model'?" in (await resp.json())["error"]
    resp = await client.put("/v1/projects/local/settings",
                            json={"cors_origins": ["https://a.com/"]}, headers=client.dash)
    assert "ends with '/'" in (await resp.json())["error"]
    resp = await client.post("/v1/projects", data=b"{",
                             headers={**client.dash, "Content-Type": "application/json"})
    assert resp.status == 400 and "could not parse the JSON" in (await resp.json())["error"]


async def test_a_model_without_a_key_warns_offline_and_fails_strict(make_gateway_client):
    lenient = await make_gateway_client()
    resp = await lenient.put("/v1/projects/local/settings", json={"provider_model": "gpt-4o"},
                             headers=lenient.dash)
    assert resp.status == 200
    assert "No openai API key configured for this tenant" in (await resp.json())["warnings"][0]
    strict = await make_gateway_client(STRICT, home=lenient.gateway.home.parent / "strict")
    resp = await strict.put("/v1/projects/local/settings", json={"provider_model": "gpt-4o"},
                            headers=strict.dash)
    assert resp.status == 422 and await resp.json() == {
        "error": "No openai API key configured for this tenant", "code": "PROVIDER_NOT_CONFIGURED"}


async def test_the_free_plan_refuses_byok_and_a_fourth_project(make_gateway_client):
    client = await make_gateway_client(with_settings(tenant=TenantConfig(plan="free")))
    resp = await client.put("/v1/tenants/local/providers/openai", json={"api_key": OPENAI_KEY},
                            headers=client.dash)
    assert resp.status == 403 and await resp.json() == {
        "error": "BYOAK requires a Pro subscription", "code": "BYOAK_REQUIRES_PRO",
        "upgrade_url": "/settings/billing"}
    resp = await client.put("/v1/projects/local/settings", json={"provider_model": "gpt-4o"},
                            headers=client.dash)
    assert resp.status == 403 and (await resp.json())["code"] == "BYOAK_REQUIRES_PRO"
    resp = await client.post("/v1/projects", json={"name": "third"}, headers=client.dash)
    assert resp.status == 201  # the test settings have two projects
    resp = await client.post("/v1/projects", json={"name": "fourth"}, headers=client.dash)
    body = await resp.json()
    assert resp.status == 403 and body["code"] == "PROJECT_LIMIT_REACHED" and body["upgrade_url"]


async def test_projects_made_through_the_api_survive_a_restart(make_gateway_client):
    client = await make_gateway_client()
    resp = await client.post("/v1/projects", json={"name": "Checkout"}, headers=client.dash)
    project = await resp.json()
    assert resp.status == 201
    assert project["id"].startswith("proj_") and project["tenant_id"] == "local"
    assert project["name"] == "Checkout" and project["status"] == "active"
    assert project["source"] == "api" and len(project["slug"].split("-")) == 3
    listed = await (await client.get("/v1/projects", headers=client.dash)).json()
    assert [p["id"] for p in listed["projects"]] == ["local", "prompted", project["id"]]
    resp = await client.post("/v1/projects", json={"name": "Dup", "slug": project["slug"]},
                             headers=client.dash)
    assert resp.status == 409 and (await resp.json())["code"] == "SLUG_TAKEN"

    again = await make_gateway_client(home=client.gateway.home)  # the gateway restarted
    found = await (await again.get(f"/v1/projects/{project['id']}", headers=again.dash)).json()
    assert found == project
    key, _ = again.gateway.keys.create(project["id"])  # and its keys work on the data plane
    resp = await again.post(CHAT, json=HI, headers={"Authorization": f"Bearer {key}"})
    assert resp.status == 200


async def test_a_deploy_delay_emulates_propagation(make_gateway_client):
    client = await make_gateway_client(with_settings(emulator=EmulatorConfig(deploy_delay_s=0.2)))
    reloaded = asyncio.Event()
    client.gateway.live.subscribe(
        lambda event: reloaded.set() if isinstance(event, ConfigReloaded) else None)
    await client.put("/v1/projects/local/settings", json={"system_prompt": "Be brief."},
                     headers=client.dash)
    resp = await client.post("/v1/projects/local/settings/deploy", headers=client.dash)
    body = await resp.json()
    assert body["status"] == "deploying" and body["live_at"] > body["deployed_at"]
    assert client.gateway.settings.project("local").system_prompt is None
    pending = await (await client.get("/v1/projects/local/settings", headers=client.dash)).json()
    assert pending["pending"]["settings"] == {"system_prompt": "Be brief."}
    await asyncio.wait_for(reloaded.wait(), 5)
    assert client.gateway.settings.project("local").system_prompt == "Be brief."


async def test_keys_can_be_listed_replaced_and_removed(make_gateway_client):
    client = await make_gateway_client()
    url = "/v1/tenants/local/providers/openai"
    await client.put(url, json={"api_key": OPENAI_KEY}, headers=client.dash)
    await client.put(url, json={"api_key": OPENAI_KEY[:-4] + "QRST"}, headers=client.dash)
    listed = await (await client.get("/v1/tenants/local/providers", headers=client.dash)).json()
    assert [(p["provider"], p["key_last4"]) for p in listed["providers"]] == [("openai", "QRST")]
    assert client.gateway.provider_keys.has("openai")
    assert (await client.delete(url, headers=client.dash)).status == 204
    assert not client.gateway.provider_keys.has("openai")
    assert (await client.get(url, headers=client.dash)).status == 404


async def test_settings_show_live_draft_and_a_discarded_draft(make_gateway_client):
    client = await make_gateway_client()
    url = "/v1/projects/local/settings"
    await client.put(url, json={"rate_limits": {"rpm": 5}}, headers=client.dash)
    view = await (await client.get(url, headers=client.dash)).json()
    assert view["settings"]["rate_limits"]["rpm"] == 60
    assert view["draft"] == {"rate_limits": {"rpm": 5}} and view["deployed_at"] is None
    assert (await client.delete(url + "/draft", headers=client.dash)).status == 204
    assert (await (await client.get(url, headers=client.dash)).json())["draft"] is None


async def test_a_vault_sealed_with_a_passphrase_needs_it_at_start(make_gateway_client,
                                                                   monkeypatch):
    from behest_local.vault.store import Vault

    monkeypatch.delenv("BEHEST_VAULT_PASSPHRASE", raising=False)
    client = await make_gateway_client()
    Vault.open(client.gateway.home, passphrase="correct horse battery", scrypt_n=2**4)
    resp = await client.put("/v1/tenants/local/providers/openai", json={"api_key": OPENAI_KEY},
                            headers=client.dash)
    body = await resp.json()
    assert resp.status == 503 and body["code"] == "VAULT_LOCKED" and body["retryable"] is False
    assert "BEHEST_VAULT_PASSPHRASE" in body["error"]
