"""``behest-local mint`` and ``behest-local signing-keys``, through their parsers, as the
top-level CLI will run them."""

from __future__ import annotations

import argparse
import base64
import json

import pytest

from behest_local.identity.jwt import KeyRing
from behest_local.cli.mint import add_mint_parser, run_mint
from behest_local.cli.signing_keys_cmd import add_signing_keys_parser, run_signing_keys


def cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="behest-local")
    commands = parser.add_subparsers(dest="command")
    add_mint_parser(commands)
    add_signing_keys_parser(commands)
    args = parser.parse_args(list(argv))
    return run_mint(args) if args.command == "mint" else run_signing_keys(args)


def env_lines(text: str) -> dict[str, str]:
    return dict(line.removeprefix("export ").split("=", 1) for line in text.splitlines()
                if "=" in line and not line.startswith("#"))


def test_mint_prints_a_token_for_curl(isolated_home, capsys):
    assert cli("mint", "--user", "alice", "--tier", "pro", "--ttl", "600") == 0
    token = capsys.readouterr().out.strip()
    identity = KeyRing(isolated_home).verify(token)
    assert (identity.user, identity.tier, identity.project, identity.source) == \
        ("alice", 2, "local", "platform")
    assert cli("mint", "--json", "--session", "s1") == 0
    body = json.loads(capsys.readouterr().out)
    assert body["jwt"] == body["access_token"] and body["session_id"] == "s1"


@pytest.mark.parametrize("argv, words", [
    (("--user", "admin"), "--user: user_id 'admin' is reserved"),
    (("--ttl", "10"), "--ttl: ttl must be"),
    (("--tier", "gold"), "--tier: tier must be"),
    (("--project", "nope"), "unknown project 'nope'"),
])
def test_mint_user_errors_are_one_line(capsys, argv, words):
    assert cli("mint", *argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("behest-local: error: ") and words in err and err.count("\n") == 1


def test_signing_keys_create_prints_sdk_env_once(isolated_home, capsys):
    assert cli("signing-keys", "create", "--project", "local", "--base-url",
               "http://127.0.0.1:9999") == 0
    out, err = capsys.readouterr()
    env = env_lines(out)
    assert list(env) == ["BEHEST_KEY", "BEHEST_KID", "BEHEST_TENANT_ID", "BEHEST_PROJECT_ID",
                         "BEHEST_BASE_URL"]
    pem = base64.b64decode(env["BEHEST_KEY"]).decode()
    assert pem.startswith("-----BEGIN PRIVATE KEY-----") and "\n" not in env["BEHEST_KEY"]
    assert (env["BEHEST_TENANT_ID"], env["BEHEST_PROJECT_ID"], env["BEHEST_BASE_URL"]) == \
        ("local", "local", "http://127.0.0.1:9999")
    assert "shown this once" in err and env["BEHEST_KEY"] not in err
    on_disk = b"".join(p.read_bytes() for p in isolated_home.rglob("*") if p.is_file())
    assert env["BEHEST_KEY"].encode() not in on_disk and pem.splitlines()[3].encode() not in on_disk
    assert KeyRing(isolated_home).tenant.lookup(env["BEHEST_KID"]).project == "local"


def test_signing_keys_export_legacy_list_and_revoke(isolated_home, capsys):
    assert cli("signing-keys", "create", "--export", "--legacy") == 0
    out = capsys.readouterr().out
    assert out.startswith("export BEHEST_KEY=")
    kid = env_lines(out)["BEHEST_KID"]
    assert f"export BEHEST_SIGNING_KEY_ID={kid}" in out
    assert 'export BEHEST_SIGNING_KEY_PEM="-----BEGIN PRIVATE KEY-----\n' in out
    assert cli("signing-keys", "list", "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(k["kid"], k["revoked_at"]) for k in listed] == [(kid, None)]
    assert cli("signing-keys", "revoke", kid) == 0
    assert "revoked" in capsys.readouterr().out
    assert cli("signing-keys", "list") == 0
    assert "no signing keys yet" in capsys.readouterr().out
    assert cli("signing-keys", "list", "--all") == 0
    assert kid in capsys.readouterr().out and KeyRing(isolated_home).jwks() == {"keys": []}
    assert cli("signing-keys", "revoke", "sk_unknown") == 2
    assert "matches no signing key" in capsys.readouterr().err


def test_signing_keys_create_json_and_unknown_project(capsys):
    assert cli("signing-keys", "create", "--json") == 0
    body = json.loads(capsys.readouterr().out)
    assert body["private_key_pem"].startswith("-----BEGIN PRIVATE KEY-----")
    assert body["env"]["BEHEST_KID"] == body["kid"]
    assert cli("signing-keys", "create", "--project", "nope") == 2
    assert "unknown project 'nope'" in capsys.readouterr().err
