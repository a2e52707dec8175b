"""Issue 17 item 7: a damaged vault is reported, never silently replaced.

A key that fails its integrity check: ``vault list`` marks it and exits non-zero, and a
request for its provider gets a 503 naming the vault, the provider and the fix, not a
500 ``internal_error``. A ``vault.json`` that cannot be read at all: requests for models
that need a provider key fail the same clear way, instead of the emulated model answering
them with 200 as if no key had ever been stored."""

from __future__ import annotations

import base64
import json
import subprocess
import sys

import pytest

from behest_local.vault.entries import VAULT_FILE
from behest_local.vault.store import Vault
from tests.conftest import TEST_SETTINGS

OPENAI = "sk-proj-" + "Q7w8E9r0" * 6
ANTHROPIC = "sk-ant-api03-" + "k3y" * 16
CHAT = "/v1/chat/completions"


def vault_with_keys(home) -> None:
    vault = Vault.open(home)
    vault.set("openai", OPENAI)
    vault.set("anthropic", ANTHROPIC)


def tamper(home, provider: str = "openai") -> None:
    """Flip one bit of ``provider``'s ciphertext, as a bad disk or a bad edit would."""
    path = home / VAULT_FILE
    doc = json.loads(path.read_text())
    sealed = bytearray(base64.b64decode(doc["secrets"][provider]["ciphertext"]))
    sealed[3] ^= 0x01
    doc["secrets"][provider]["ciphertext"] = base64.b64encode(bytes(sealed)).decode()
    path.write_text(json.dumps(doc, indent=2))


def vault_cli(home, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "behest_local", "vault", *args, "--home",
                           str(home)], capture_output=True, text=True, timeout=60)


def test_vault_list_marks_a_key_that_fails_its_integrity_check_and_exits_non_zero(tmp_path):
    home = tmp_path / "home"
    vault_with_keys(home)
    tamper(home)
    listed = vault_cli(home, "list")
    assert listed.returncode == 1, listed
    anthropic, openai = listed.stdout.splitlines()
    assert anthropic.startswith("anthropic") and "DAMAGED" not in anthropic
    assert openai.startswith("openai") and "DAMAGED" in openai
    assert "behest-local vault set openai" in listed.stdout + listed.stderr
    assert "Traceback" not in listed.stderr and OPENAI not in listed.stdout + listed.stderr
    as_json = vault_cli(home, "list", "--json")
    assert as_json.returncode == 1
    assert {e["provider"]: e["intact"] for e in json.loads(as_json.stdout)} == {
        "anthropic": True, "openai": False}


def test_vault_list_of_sound_keys_says_they_were_checked_and_exits_zero(tmp_path):
    home = tmp_path / "home"
    vault_with_keys(home)
    listed = vault_cli(home, "list", "--json")
    assert listed.returncode == 0, listed
    assert [e["intact"] for e in json.loads(listed.stdout)] == [True, True]


@pytest.mark.parametrize("stream", [False, True])
async def test_a_request_for_a_provider_whose_key_is_damaged_gets_a_clear_503(
        make_gateway_client, tmp_path, stream):
    home = tmp_path / "gw-home"
    vault_with_keys(home)
    tamper(home)
    client = await make_gateway_client(TEST_SETTINGS, home=home)
    resp = await client.post(CHAT, headers=client.key, json={
        "model": "gpt-4o-mini", "stream": stream,
        "messages": [{"role": "user", "content": "Hello"}]})
    assert resp.status == 503, await resp.text()
    error = (await resp.json())["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == "vault_damaged" and error["type"] == "server_error"
    message = error["message"]
    assert "openai" in message and str(home / VAULT_FILE) in message
    assert "behest-local vault set openai" in message and OPENAI not in message
    # The other provider's key is sound: its requests go upstream as before.
    exchange = client.gateway.store.find(resp.headers["X-Request-Id"])
    assert exchange.provider == "openai"


@pytest.mark.parametrize("damage", [b"{ not json", b"", b'{"version": 1}'],
                         ids=["not-json", "empty", "not-a-vault"])
async def test_an_unreadable_vault_fails_keyed_requests_clearly_not_with_the_emulator(
        make_gateway_client, tmp_path, damage):
    home = tmp_path / "gw-home"
    vault_with_keys(home)
    (home / VAULT_FILE).write_bytes(damage)
    client = await make_gateway_client(TEST_SETTINGS, home=home)
    resp = await client.post(CHAT, headers=client.key, json={
        "model": "claude-sonnet-4-6", "messages": [{"role": "user", "content": "Hello"}]})
    assert resp.status == 503, await resp.text()
    error = (await resp.json())["error"]
    assert error["code"] == "vault_damaged"
    message = error["message"]
    assert "anthropic" in message and str(home / VAULT_FILE) in message
    assert "backup" in message and "behest-local vault set anthropic" in message
    # A model no key serves (the platform's default) is still answered.
    served = await client.post(CHAT, headers=client.key, json={
        "messages": [{"role": "user", "content": "Hello"}]})
    assert served.status == 200


async def test_the_tui_header_says_the_vault_is_unreadable(make_gateway_client, tmp_path):
    from behest_local.tui.header import vault_summary

    home = tmp_path / "gw-home"
    vault_with_keys(home)
    (home / VAULT_FILE).write_bytes(b"{ not json")
    client = await make_gateway_client(TEST_SETTINGS, home=home)
    assert vault_summary(client.gateway) == (
        "vault: unreadable, failed its integrity check: it was modified outside behest-local")
