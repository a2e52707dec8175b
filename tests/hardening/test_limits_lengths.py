"""Length caps (issue 17, item 8): a project's name, its system prompt, its list of CORS
origins, the allowed hosts and a stored provider key have a documented limit, checked wherever they come in (``behest.toml``, the management
API, ``behest-local vault set``) and refused with a message naming the field (400 on the
API). Stored keys are never quoted back."""

from __future__ import annotations

import pytest

from behest_local import config
from behest_local.config import ConfigError
from behest_local.config.schema import LIST_MAX, PROJECT_NAME_MAX, SYSTEM_PROMPT_MAX
from behest_local.vault.entries import VAULT_FILE
from behest_local.vault.key_formats import PROVIDER_KEY_MAX
from tests.hardening.limits_support import cli

CANARY = "CANARY9d1e"


def test_the_caps_are_what_the_readme_documents():
    assert (PROJECT_NAME_MAX, SYSTEM_PROMPT_MAX, PROVIDER_KEY_MAX, LIST_MAX) == \
        (128, 65_536, 4_096, 1_000)


def test_behest_toml_refuses_a_long_name_or_system_prompt_naming_it(tmp_path):
    path = tmp_path / "behest.toml"
    ok = f'[[projects]]\nname = "{"n" * PROJECT_NAME_MAX}"\nid = "p"\n' \
         f'system_prompt = "{"s" * SYSTEM_PROMPT_MAX}"\n'
    path.write_text(ok)
    assert len(config.load(path).projects[0].system_prompt) == SYSTEM_PROMPT_MAX
    path.write_text(f'[[projects]]\nname = "{"n" * (PROJECT_NAME_MAX + 1)}"\nid = "p"\n'
                    f'system_prompt = "{"s" * 70_000}"\n')
    with pytest.raises(ConfigError) as info:
        config.load(path)
    assert str(info.value).splitlines() == [
        f"{path}:2: projects[0].name: 129 characters long; the limit is 128",
        f"{path}:4: projects[0].system_prompt: 70,000 characters long; the limit is 65,536"]


async def test_the_management_api_refuses_a_long_project_name_naming_it(make_gateway_client):
    client = await make_gateway_client()
    resp = await client.post("/v1/projects", json={"name": "n" * (PROJECT_NAME_MAX + 1)},
                             headers=client.dash)
    assert resp.status == 400
    assert await resp.json() == {"error": "name: 129 characters long; the limit is 128",
                                 "code": "VALIDATION_ERROR"}
    made = await client.post("/v1/projects", json={"name": "n" * PROJECT_NAME_MAX},
                             headers=client.dash)
    assert made.status == 201


async def test_the_management_api_refuses_a_long_system_prompt_and_keeps_no_draft(
        make_gateway_client):
    client = await make_gateway_client()
    resp = await client.put("/v1/projects/local/settings",
                            json={"system_prompt": "s" * (SYSTEM_PROMPT_MAX + 1)},
                            headers=client.dash)
    assert resp.status == 400
    assert await resp.json() == {
        "error": "system_prompt: 65,537 characters long; the limit is 65,536",
        "code": "VALIDATION_ERROR"}
    settings = await (await client.get("/v1/projects/local/settings", headers=client.dash)).json()
    assert settings["draft"] is None
    fits = await client.put("/v1/projects/local/settings",
                            json={"system_prompt": "s" * SYSTEM_PROMPT_MAX}, headers=client.dash)
    assert fits.status == 200


def test_behest_toml_refuses_more_origins_or_hosts_than_the_cap(tmp_path):
    path = tmp_path / "behest.toml"
    origins = ", ".join(f'"https://a{i}.example"' for i in range(LIST_MAX))
    path.write_text(f'[[projects]]\nname = "n"\nid = "p"\ncors_origins = [{origins}]\n')
    assert len(config.load(path).projects[0].cors_origins) == LIST_MAX
    hosts = ", ".join(f'"h{i}.lan"' for i in range(LIST_MAX + 1))
    path.write_text(f'[server]\nallowed_hosts = [{hosts}]\n[[projects]]\nname = "n"\n'
                    f'id = "p"\ncors_origins = [{origins}, "https://more.example"]\n')
    with pytest.raises(ConfigError) as info:
        config.load(path)
    assert str(info.value).splitlines() == [
        f"{path}:2: server.allowed_hosts: 1,001 entries; the limit is 1,000",
        f"{path}:6: projects[0].cors_origins: 1,001 entries; the limit is 1,000"]


async def test_the_management_api_refuses_more_origins_than_the_cap_before_checking_them(
        make_gateway_client):
    client = await make_gateway_client()
    # Not one of them is an origin: the count alone refuses them, none is looked at.
    resp = await client.put("/v1/projects/local/settings",
                            json={"cors_origins": ["not an origin"] * (LIST_MAX + 1)},
                            headers=client.dash)
    assert resp.status == 400
    assert await resp.json() == {"error": "cors_origins: 1,001 entries; the limit is 1,000",
                                 "code": "VALIDATION_ERROR"}


@pytest.mark.parametrize("key, message", [
    (CANARY + "k" * PROVIDER_KEY_MAX,
     "api_key: the my-llm key is 4,106 characters long; the limit is 4,096"),
    (CANARY + "\r\nX-Injected: 1", "api_key: the my-llm key has a control character (a line "
     "break, tab or the like); paste just the key"),
], ids=["too-long", "line-break"])
async def test_the_management_api_refuses_a_provider_key_it_could_not_send(
        make_gateway_client, key, message):
    client = await make_gateway_client()
    resp = await client.put("/v1/tenants/local/providers/my-llm", json={"api_key": key},
                            headers=client.dash)
    body = await resp.text()
    assert resp.status == 400 and CANARY not in body
    assert (await resp.json()) == {"error": message, "code": "INVALID_API_KEY_FORMAT"}
    assert not client.gateway.provider_keys.has("my-llm")


def test_vault_set_refuses_a_key_over_the_cap_and_stores_nothing(tmp_path):
    home = tmp_path / "state"
    done = cli("vault", "set", "mistral", home=home,
               stdin=CANARY + "k" * PROVIDER_KEY_MAX + "\n")
    assert done.returncode == 2 and CANARY not in done.stderr + done.stdout
    assert done.stderr.strip() == ("behest-local: error: the Mistral key is 4,106 characters "
                                   "long; the limit is 4,096")
    assert not (home / VAULT_FILE).exists()
    fits = cli("vault", "set", "mistral", home=home, stdin="k" * PROVIDER_KEY_MAX + "\n")
    assert fits.returncode == 0, fits.stderr
